//! Configuration errors (issue 7, part 5): bad URL, missing key, unreadable key file,
//! zero or negative intervals, unknown configuration keys, bad networks. Each is one
//! line on stderr naming the flag or setting, exit status 2, and happens before
//! anything starts: no port is bound, no request reaches Tautulli, the key is not shown.

use std::time::Duration;

use crate::helpers::*;

/// A key that must never be printed by a configuration error.
const CFG_KEY: &str = "cfgkey5f3a9e17c0d24b6b8e2f0a1d9c7e3b55";

struct Case {
    what: &'static str,
    args: Vec<String>,
    /// The start of the one stderr line.
    want: String,
}

fn case(what: &'static str, args: &[&str], want: &str) -> Case {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        want: want.to_string(),
    }
}

/// Run `args` and check the contract; returns the stderr line.
async fn check(c: &Case) -> String {
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let r = tokio::time::timeout(Duration::from_secs(10), run(&args))
        .await
        .unwrap_or_else(|_| panic!("{}: still running after 10 s (it started?)", c.what));
    assert_eq!(r.code, 2, "{}: exit status\n{}", c.what, r.stderr);
    assert_eq!(r.stdout, "", "{}", c.what);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}: one line, got {lines:#?}", c.what);
    assert!(
        lines[0].starts_with(&c.want),
        "{}:\n want {:?}\n  got {:?}",
        c.what,
        c.want,
        lines[0]
    );
    assert!(!r.stderr.contains(CFG_KEY), "{}: key shown: {}", c.what, r.stderr);
    lines[0].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_configuration_error_is_one_line_exit_2_and_nothing_starts() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let dir = TempDir::new("cfgerr");
    let d = |name: &str| dir.0.join(name).to_string_lossy().into_owned();
    let empty_key = d("empty-key");
    std::fs::write(&empty_key, " \n").unwrap();
    let yaml = |name: &str, text: String| {
        let p = d(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let unknown_server_key = yaml(
        "unknown-server-key.yml",
        format!("servers:\n  - name: home\n    url: {url}\n    api_key: {CFG_KEY}\n    apikey: x\n"),
    );
    let unknown_top_key = yaml(
        "unknown-top-key.yml",
        format!("servers:\n  - name: home\n    url: {url}\n    api_key: {CFG_KEY}\nrefresh: 5s\n"),
    );
    let file_bad_override = yaml(
        "bad-override.yml",
        format!(
            "servers:\n  - name: home\n    url: {url}\n    api_key: {CFG_KEY}\ngeoip_overrides:\n  - 'nowhere=1,2'\n"
        ),
    );
    let file_bad_url = yaml(
        "bad-url.yml",
        format!("servers:\n  - name: home\n    url: ftp://x\n    api_key: {CFG_KEY}\n"),
    );
    let file_no_key = yaml("no-key.yml", format!("servers:\n  - name: home\n    url: {url}\n"));
    let file_asn_db = yaml(
        "asn-db.yml",
        format!("servers:\n  - name: home\n    url: {url}\n    api_key: {CFG_KEY}\nasn_db: /nonexistent/asn.mmdb\n"),
    );
    let not_mmdb = yaml("not.mmdb", "not a database".into());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");

    // serve with a good URL and key, plus the bad part.
    let serve = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["serve", "--web.listen-address", &listen, "--tautulli-url", &url]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !extra.iter().any(|a| a.starts_with("--tautulli-api-key")) {
            v.extend(["--tautulli-api-key".to_string(), CFG_KEY.to_string()]);
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let with_file = |file: &str| -> Vec<String> {
        ["serve", "--web.listen-address", &listen, "--config.file", file]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let mut cases = vec![
        case(
            "bad URL",
            &["serve", "--tautulli-url", "ftp://x", "--tautulli-api-key", CFG_KEY],
            "error: --tautulli-url: \"ftp://x\" must be http:// or https://",
        ),
        case(
            "URL without a host",
            &["serve", "--tautulli-url", "http://", "--tautulli-api-key", CFG_KEY],
            "error: --tautulli-url: ",
        ),
        case(
            "missing URL",
            &["serve", "--tautulli-api-key", CFG_KEY],
            "error: --tautulli-url: missing",
        ),
        case(
            "missing key",
            &["serve", "--tautulli-url", &url],
            "error: --tautulli-api-key: missing",
        ),
        case(
            "missing key file",
            &[
                "serve",
                "--tautulli-url",
                &url,
                "--tautulli-api-key-file",
                "/nonexistent/key",
            ],
            "error: --tautulli-api-key-file: cannot read /nonexistent/key: No such file or directory",
        ),
        case(
            "key file is a directory",
            &[
                "serve",
                "--tautulli-url",
                &url,
                "--tautulli-api-key-file",
                &dir.0.to_string_lossy(),
            ],
            "error: --tautulli-api-key-file: cannot read ",
        ),
        case(
            "empty key file",
            &["serve", "--tautulli-url", &url, "--tautulli-api-key-file", &empty_key],
            &format!("error: --tautulli-api-key-file: {empty_key} is empty"),
        ),
    ];
    cases.push(Case {
        what: "zero refresh interval",
        args: serve(&["--refresh-interval", "0s"]),
        want: "error: --refresh-interval: must be greater than zero".into(),
    });
    cases.push(Case {
        what: "negative refresh interval",
        args: serve(&["--refresh-interval", "-5s"]),
        want: "error: invalid value '-5s' for '--refresh-interval <INTERVAL>': \"-5s\" is negative".into(),
    });
    cases.push(Case {
        what: "zero timeout",
        args: serve(&["--tautulli-timeout", "0s"]),
        want: "error: --tautulli-timeout: must be greater than zero".into(),
    });
    cases.push(Case {
        what: "zero full reload interval",
        args: serve(&["--full-reload-interval", "0"]),
        want: "error: --full-reload-interval: must be greater than zero".into(),
    });
    cases.push(Case {
        what: "negative days",
        args: serve(&["--days", "-1"]),
        want: "error: invalid value '-1' for '--days <DAYS>'".into(),
    });
    cases.push(Case {
        what: "zero body cap",
        args: serve(&["--tautulli-max-body", "0"]),
        want: "error: invalid value '0' for '--tautulli-max-body <TAUTULLI_MAX_BODY>'".into(),
    });
    cases.push(Case {
        what: "zero refresh timeout",
        args: serve(&["--refresh-timeout", "0s"]),
        want: "error: --refresh-timeout: must be greater than zero".into(),
    });
    cases.push(Case {
        what: "negative refresh timeout",
        args: serve(&["--refresh-timeout", "-10m"]),
        want: "error: invalid value '-10m' for '--refresh-timeout <TIMEOUT>': \"-10m\" is negative".into(),
    });
    cases.push(Case {
        what: "a refresh timeout too long for the clock",
        args: serve(&["--refresh-timeout", "99999d"]),
        want: "error: invalid value '99999d' for '--refresh-timeout <TIMEOUT>': \"99999d\" is too long (at most 3650d)"
            .into(),
    });
    cases.push(Case {
        what: "zero max rows",
        args: serve(&["--tautulli-max-rows", "0"]),
        want: "error: --tautulli-max-rows: must be at least 1".into(),
    });
    cases.push(Case {
        what: "max rows not a number",
        args: serve(&["--tautulli-max-rows", "lots"]),
        want: "error: invalid value 'lots' for '--tautulli-max-rows <TAUTULLI_MAX_ROWS>'".into(),
    });
    cases.push(Case {
        what: "bad trusted network",
        args: serve(&["--trusted-network", "alice=10.0.0.0/33"]),
        want: "error: --trusted-network: \"alice=10.0.0.0/33\": \"10.0.0.0/33\" is not a CIDR".into(),
    });
    cases.push(Case {
        what: "no GeoIP lookups at all",
        args: serve(&["--geoip.concurrency", "0"]),
        want: "error: --geoip.concurrency: must be at least 1".into(),
    });
    cases.push(Case {
        what: "GeoIP override without coordinates",
        args: serve(&["--geoip-override", "81.2.0.0/16"]),
        want: "error: --geoip-override: \"81.2.0.0/16\" is not CIDR=LAT,LON[,LABEL]".into(),
    });
    cases.push(Case {
        what: "GeoIP override off the globe",
        args: serve(&["--geoip-override", "81.2.0.0/16=52.5,1e300,Berlin"]),
        want: "error: --geoip-override: \"81.2.0.0/16=52.5,1e300,Berlin\": longitude is not a number in range".into(),
    });
    cases.push(Case {
        what: "unknown flag",
        args: serve(&["--refresh-intervall", "5s"]),
        want: "error: unexpected argument '--refresh-intervall' found; tip: a similar argument exists: '--refresh-interval'"
            .into(),
    });
    // Flags that used to panic instead of naming themselves.
    for path in [
        "/users",
        "/-/healthy",
        "/-/ready",
        "/-/reload",
        "/api/v1/users",
        "/users/x",
    ] {
        cases.push(Case {
            what: "metrics path taken by another endpoint",
            args: serve(&["--web.telemetry-path", path]),
            want: format!("error: --web.telemetry-path: {path:?} is used by the exporter's own pages"),
        });
    }
    for path in ["/", "/{x}", "/metrics/{*rest}", "metrics", "//metrics", "/metrics/"] {
        cases.push(Case {
            what: "metrics path with route syntax or empty segments",
            args: serve(&["--web.telemetry-path", path]),
            want: format!("error: --web.telemetry-path: {path:?} must be a plain path like /metrics"),
        });
    }
    cases.push(Case {
        what: "a duration too long for the clock",
        args: serve(&["--refresh-interval", "99999999999999999999999d"]),
        want: "error: invalid value '99999999999999999999999d' for '--refresh-interval <INTERVAL>': \"99999999999999999999999d\" is too long (at most 3650d)".into(),
    });
    cases.push(Case {
        what: "no connections allowed",
        args: serve(&["--web.max-connections", "0"]),
        want: "error: --web.max-connections: must be at least 1".into(),
    });
    cases.push(Case {
        what: "zero header timeout",
        args: serve(&["--web.read-header-timeout", "0s"]),
        want: "error: --web.read-header-timeout: must be greater than zero".into(),
    });
    cases.push(Case {
        what: "unknown server key in the configuration file",
        args: with_file(&unknown_server_key),
        want: format!("error: --config.file: {unknown_server_key}: servers[0]: unknown field `apikey`"),
    });
    cases.push(Case {
        what: "report: unknown server key in the configuration file",
        args: ["report", "--config.file", &unknown_server_key]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        want: format!("error: --config.file: {unknown_server_key}: servers[0]: unknown field `apikey`"),
    });
    cases.push(Case {
        what: "report: a configuration file and a URL",
        args: ["report", "--config.file", &unknown_server_key, "--tautulli-url", &url]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        want: "error: --config.file: give either --config.file or --tautulli-url, not both".into(),
    });
    cases.push(Case {
        what: "unknown top-level key in the configuration file",
        args: with_file(&unknown_top_key),
        want: format!("error: --config.file: {unknown_top_key}: unknown field `refresh`"),
    });
    cases.push(Case {
        what: "bad GeoIP override in the configuration file",
        args: with_file(&file_bad_override),
        want: format!(
            "error: --config.file: {file_bad_override}: geoip_overrides: \"nowhere=1,2\": the part before '=' is not a CIDR"
        ),
    });
    cases.push(Case {
        what: "bad URL in the configuration file",
        args: with_file(&file_bad_url),
        want: format!("error: --config.file: {file_bad_url}: servers[0].url: \"ftp://x\" must be http:// or https://"),
    });
    cases.push(Case {
        what: "no key in the configuration file",
        args: with_file(&file_no_key),
        want: format!("error: --config.file: {file_no_key}: servers[0].api_key: missing"),
    });
    cases.push(Case {
        what: "unreadable asn_db in the configuration file",
        args: with_file(&file_asn_db),
        want: format!("error: --config.file: {file_asn_db}: asn_db: cannot open GeoIP database /nonexistent/asn.mmdb"),
    });
    cases.push(Case {
        what: "--asn-db beside the file's asn_db",
        args: [with_file(&file_asn_db), vec!["--asn-db".into(), not_mmdb.clone()]].concat(),
        want: "error: --asn-db: give either --asn-db or asn_db in --config.file, not both".into(),
    });
    cases.push(Case {
        what: "--asn-db that is no database",
        args: serve(&["--asn-db", &not_mmdb]),
        want: format!("error: --asn-db: cannot open GeoIP database {not_mmdb}"),
    });
    cases.push(Case {
        what: "missing configuration file",
        args: with_file("/nonexistent/servers.yml"),
        want: "error: --config.file: cannot read /nonexistent/servers.yml".into(),
    });
    // report shares the Tautulli and detection flags and the same contract.
    cases.push(case(
        "report: negative overlap",
        &[
            "report",
            "--tautulli-url",
            &url,
            "--tautulli-api-key",
            CFG_KEY,
            "--min-overlap",
            "-2m",
        ],
        "error: invalid value '-2m' for '--min-overlap <MIN_OVERLAP>': \"-2m\" is negative",
    ));
    cases.push(case(
        "report: bad time zone",
        &[
            "report",
            "--tautulli-url",
            &url,
            "--tautulli-api-key",
            CFG_KEY,
            "--timezone",
            "Mars/Olympus",
        ],
        "error: --timezone: unknown time zone \"Mars/Olympus\"",
    ));

    for c in &cases {
        check(c).await;
        // Nothing started: the port is free, Tautulli was never asked.
        std::net::TcpListener::bind(&listen).unwrap_or_else(|e| panic!("{}: port {listen} taken: {e}", c.what));
        assert!(fake.requests().is_empty(), "{}: {:?}", c.what, fake.requests());
    }
}
