//! The API key never leaves the process (issue 7, part 2): one run of everything with
//! a distinctive key (the exporter with debug logs through every fault, every page
//! and endpoint, `report` against every fault, configuration errors, `--help`), and
//! not even a 12-character piece of the key may appear in any output.

use std::time::Duration;

use plex_sharing_exporter::simulator::{FakeTautulli, Fault};

use crate::faults::{failures, up, FAST};
use crate::helpers::*;

/// Distinctive, and as long as Tautulli's keys.
const SECRET: &str = "5ecre7f00dcafe0d15c10sedb0a7f1e1d";

/// Every output collected, labelled.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, label: impl Into<String>, text: impl Into<String>) {
        self.0.push((label.into(), text.into()));
    }

    async fn pages(&mut self, exp: &Exporter, when: &str) {
        let mut paths: Vec<String> = ["/", "/metrics", "/-/ready", "/-/healthy", "/api/v1/users", "/nope"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (_, users) = exp.get("/api/v1/users").await;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&users) {
            for server in v["servers"].as_array().into_iter().flatten() {
                for u in server["users"].as_array().into_iter().flatten() {
                    paths.push(format!("/api/v1/users/home/{}", u["user_id"]));
                    if let Some(report) = u["report_url"].as_str() {
                        if let Some(path) = report.split_once("://").and_then(|(_, r)| r.find('/').map(|i| &r[i..])) {
                            paths.push(path.to_string());
                        }
                    }
                }
            }
        }
        for p in paths {
            let (code, body) = exp.get(&p).await;
            self.add(format!("{when}: GET {p} ({code})"), body);
        }
        let r = reqwest::Client::new()
            .get(format!("{}/metrics", exp.url))
            .header("Accept", "application/openmetrics-text;version=1.0.0")
            .send()
            .await
            .unwrap();
        self.add(format!("{when}: openmetrics"), r.text().await.unwrap());
    }

    /// Fails with every leak: the key or any 12-character piece of it.
    fn assert_clean(&self) {
        let pieces: Vec<&str> = (0..=SECRET.len() - 12).map(|i| &SECRET[i..i + 12]).collect();
        let mut leaks = Vec::new();
        for (label, text) in &self.0 {
            if let Some(p) = pieces.iter().find(|p| text.contains(**p)) {
                leaks.push(format!("{label}: contains {p:?}:\n{text}"));
            }
        }
        assert!(leaks.is_empty(), "{} leak(s):\n{}", leaks.len(), leaks.join("\n---\n"));
        assert!(self.0.len() > 100, "too little was checked: {}", self.0.len());
    }
}

/// Each fault with the failure reason it gives, or `None` for faults in the rows.
fn faults() -> Vec<(Fault, Option<&'static str>)> {
    vec![
        (Fault::ServerError, Some("server_error")),
        (Fault::InvalidKey, Some("auth")),
        (Fault::NotJson, Some("decode")),
        (Fault::TruncatedJson, Some("decode")),
        (Fault::EchoRequest, Some("decode")),
        (Fault::Oversized(1 << 20), Some("too_large")),
        (Fault::Hang(Duration::from_secs(2)), Some("timeout")),
        (Fault::ShiftingRows, None),
        (Fault::CountMismatch(-2), None),
        (Fault::JunkRows, None),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_appears_in_no_output_of_a_full_run() {
    let mut out = Outputs::default();
    let fake = FakeTautulli::new(shift_to_now(World::standard().data), SECRET, jiff::tz::TimeZone::UTC);
    let mut server = fake.serve("127.0.0.1:0".parse().unwrap(), "").await.unwrap();
    let tautulli = format!("http://{}", server.addr());
    let dir = TempDir::new("secrets");
    let key_file = dir.0.join("key");
    std::fs::write(&key_file, format!("{SECRET}\n")).unwrap();
    let key_path = key_file.to_string_lossy().into_owned();

    // The exporter, debug logs (retries log there), GeoIP through Tautulli.
    let mut args = vec![
        "--tautulli-url",
        &tautulli,
        "--tautulli-api-key-file",
        &key_path,
        "--geo",
        "--log.level",
        "debug",
        "--tautulli-retries",
        "1",
        "--tautulli-max-body",
        "64KiB",
        "--tautulli-page-size",
        "3",
    ];
    args.extend_from_slice(FAST);
    let exp = Exporter::start_with(&args, &[]).await;
    exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
    out.pages(&exp, "healthy").await;
    for (fault, reason) in faults() {
        let label = format!("{fault:?}");
        fake.set_fault(Some(fault));
        match reason {
            Some(reason) => {
                let before = failures(&exp.metrics().await, reason);
                exp.wait_for(&label, |m| failures(m, reason) > before).await;
            }
            None => tokio::time::sleep(Duration::from_millis(600)).await,
        }
        out.pages(&exp, &label).await;
        fake.set_fault(None);
        exp.wait_for("recovery", |m| up(m) == Some(1.0)).await;
    }
    server.stop().await;
    exp.wait_for("connection refused", |m| failures(m, "connect") >= 1.0)
        .await;
    out.pages(&exp, "refused").await;
    server.restart().await.unwrap();
    exp.wait_for("recovery", |m| up(m) == Some(1.0)).await;
    out.pages(&exp, "recovered").await;
    out.add("serve logs", exp.stop().await.join("\n"));

    // Trace logs of a short run, the most verbose there is.
    let mut args = vec![
        "--tautulli-url",
        &tautulli,
        "--tautulli-api-key",
        SECRET,
        "--log.level",
        "trace",
    ];
    args.extend_from_slice(FAST);
    let exp = Exporter::start_with(&args, &[]).await;
    exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
    fake.set_fault(Some(Fault::EchoRequest));
    exp.wait_for("echo", |m| failures(m, "decode") >= 1.0).await;
    fake.set_fault(None);
    out.add("serve trace logs", exp.stop().await.join("\n"));

    // report, text and JSON, healthy and against every fault; the key on the command line.
    let now = (jiff::Timestamp::now().as_second()).to_string();
    let report = |extra: &[&str]| {
        let mut a = vec![
            "report",
            "--tautulli-url",
            &tautulli,
            "--tautulli-api-key",
            SECRET,
            "--now",
            &now,
            "--tautulli-retries",
            "0",
            "--tautulli-timeout",
            "500ms",
            "--tautulli-max-body",
            "64KiB",
            "--geo",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let mut runs: Vec<(String, Option<Fault>, Vec<String>)> = Vec::new();
    for extra in [&["--timeline", "--top-ips"][..], &["--format", "json"][..]] {
        runs.push((format!("report {extra:?}"), None, report(extra)));
        for (fault, _) in faults() {
            runs.push((format!("report {extra:?} {fault:?}"), Some(fault), report(extra)));
        }
    }
    for (label, fault, args) in runs {
        fake.set_fault(fault);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&a).await;
        out.add(format!("{label} stdout"), r.stdout);
        out.add(format!("{label} stderr ({})", r.code), r.stderr);
    }
    fake.set_fault(None);
    server.stop().await;
    let a = report(&[]);
    let r = run(&a.iter().map(String::as_str).collect::<Vec<_>>()).await;
    out.add("report refused", format!("{}{}", r.stdout, r.stderr));

    // Configuration errors and help, with the key everywhere it can be given.
    let cfg = dir.0.join("servers.yml");
    std::fs::write(
        &cfg,
        format!("servers:\n  - name: home\n    url: {tautulli}\n    api_key: {SECRET}\n    apikey: {SECRET}\n"),
    )
    .unwrap();
    let cfg_ok = dir.0.join("ok.yml");
    std::fs::write(
        &cfg_ok,
        format!("servers:\n  - name: home\n    url: {tautulli}\n    api_key: {SECRET}\n"),
    )
    .unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    let cfg_ok = cfg_ok.to_string_lossy().into_owned();
    let runs: Vec<Vec<&str>> = vec![
        vec!["serve", "--tautulli-url", "ftp://x", "--tautulli-api-key", SECRET],
        vec![
            "serve",
            "--tautulli-url",
            &tautulli,
            "--tautulli-api-key",
            SECRET,
            "--refresh-interval",
            "-1s",
        ],
        vec![
            "serve",
            "--tautulli-url",
            &tautulli,
            "--tautulli-api-key",
            SECRET,
            "--bogus",
            SECRET,
        ],
        vec![
            "serve",
            "--tautulli-url",
            &tautulli,
            "--tautulli-api-key",
            SECRET,
            "--tautulli-api-key-file",
            &key_path,
        ],
        vec!["serve", "--config.file", &cfg],
        vec!["serve", "--config.file", &cfg_ok, "--config.check"],
        vec![
            "report",
            "--tautulli-url",
            &tautulli,
            "--tautulli-api-key",
            SECRET,
            "--days",
            "0",
        ],
        vec![
            "serve",
            "--tautulli-url",
            &tautulli,
            "--tautulli-api-key",
            SECRET,
            "--trusted-network",
            "x",
        ],
    ];
    for a in runs {
        let r = run(&a).await;
        out.add(format!("{a:?} stdout"), r.stdout);
        out.add(format!("{a:?} stderr ({})", r.code), r.stderr);
    }
    for help in [&["serve", "--help"][..], &["report", "--help"][..], &["--help"][..]] {
        let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_plex-sharing-exporter"))
            .args(help)
            .env("TAUTULLI_API_KEY", SECRET)
            .output()
            .await
            .unwrap();
        out.add(
            format!("{help:?} with the key in the environment"),
            String::from_utf8_lossy(&o.stdout),
        );
    }
    out.assert_clean();
    // The proxy page quoting the request was seen, and redacted rather than hidden.
    assert!(
        out.0.iter().any(|(_, t)| t.contains("apikey=<redacted>")),
        "the EchoRequest fault never reached an output"
    );
}
