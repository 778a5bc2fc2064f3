//! End to end with the real Prometheus and Alertmanager (Debian packages `prometheus` and
//! `prometheus-alertmanager`; `.ci/run` installs them).
//!
//! The real binary runs `demo` (a simulated month with planted sharers, a teleporter and
//! honest users). Prometheus scrapes it every second and evaluates the bundled rules
//! (`deploy/prometheus/plex-sharing-rules.yml`, every `for:` shortened to [`FOR`], nothing
//! else changed); Alertmanager runs the bundled configuration
//! (`deploy/alertmanager/alertmanager.yml`, its webhooks pointed at a receiver inside this
//! test, group timers shortened). Through their HTTP APIs the test checks that
//!
//! 1. the scrape target is up;
//! 2. every PromQL expression of every dashboard (panel targets and template variables)
//!    and every recording rule parses and returns data;
//! 3. the sharing alerts fire for exactly the planted users, never for an honest one, and
//!    no exporter-health alert fires; the demo's second server shares two accounts with
//!    the first, and PlexSharingAccountAcrossServers fires for the one used by two
//!    households (one per server) only;
//! 4. Alertmanager delivers them to the webhook with `report_url` =
//!    `<exporter --web.external-url>/users/demo/<user_id>`, and each alert's
//!    `runbook_url` (`<external URL>/runbook#<alert>`) names a section of `/runbook`.
//!
//! Run it alone with `cargo test --test it prometheus`. It takes about half a minute;
//! every wait is bounded (the whole test gives up after [`BUDGET`]). When a binary is
//! missing it fails and says what to install: it never skips.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::TempDir;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The scrape job name the rules and dashboards expect.
const JOB: &str = "plex-sharing";
/// The demo's `server` label.
const SERVER: &str = "demo";
/// Every alert's `for:` in the test copy of the rules.
const FOR: &str = "5s";
/// The whole test gives up after this long.
const BUDGET: Duration = Duration::from_secs(150);

/// The per-user alerts: none may fire, or even be pending, for an honest user.
const SHARING_ALERTS: [&str; 4] = [
    "PlexSharingHighScore",
    "PlexSharingTeleportation",
    "PlexSharingConcurrentNetworks",
    "PlexSharingVpnLikely",
];
/// The alert on accounts seen on several servers (labels user_id and user, no server).
const ACCOUNT_ALERT: &str = "PlexSharingAccountAcrossServers";
const HEALTH_ALERTS: [&str; 4] = [
    "PlexSharingExporterDown",
    "PlexSharingRefreshStale",
    "PlexSharingTargetDown",
    "PlexSharingExporterAbsent",
];

/// Dashboard queries that may legitimately return nothing in the demo, with the reason.
/// Empty on purpose: every panel has data. A panel added here must really be empty
/// (the test checks that too), so the list cannot go stale.
const NO_DATA_IN_DEMO: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// A child process whose stdout and stderr go to a log file.
struct Proc {
    name: &'static str,
    child: tokio::process::Child,
    log: PathBuf,
}

/// The processes of the test and their temporary directory. Dropping it kills every
/// process (`kill_on_drop`); during a panic it first prints the end of each log.
struct Procs {
    list: Vec<Proc>,
    dir: TempDir,
    deadline: Instant,
}

impl Procs {
    fn new() -> Procs {
        Procs {
            list: Vec::new(),
            dir: TempDir::new("prometheus-e2e"),
            deadline: Instant::now() + BUDGET,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    fn spawn(&mut self, name: &'static str, program: &Path, args: &[String]) {
        let log = self.path(&format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create a log file");
        let err = out.try_clone().expect("clone the log file");
        let child = tokio::process::Command::new(program)
            .args(args)
            .current_dir(&self.dir.0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        self.list.push(Proc { name, child, log });
    }

    /// Fails the test at once if a process has exited.
    fn check_alive(&mut self) {
        for p in &mut self.list {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!(
                    "{} exited early ({status}); its log ({}):\n{}",
                    p.name,
                    p.log.display(),
                    tail(&p.log, 60)
                );
            }
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for p in &self.list {
                eprintln!("----- {} log, last lines ({}) -----", p.name, p.log.display());
                eprintln!("{}", tail(&p.log, 30));
            }
        }
        for p in &mut self.list {
            let _ = p.child.start_kill();
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A bounded wait: call [`Wait::retry`] after each unsuccessful attempt.
struct Wait {
    what: String,
    until: Instant,
}

impl Wait {
    fn new(procs: &Procs, what: impl Into<String>, timeout: Duration) -> Wait {
        Wait {
            what: what.into(),
            until: (Instant::now() + timeout).min(procs.deadline),
        }
    }

    /// Sleep a little before the next attempt; fail the test when time is up or a
    /// process died. `last` says why the last attempt was not good enough.
    async fn retry(&self, procs: &mut Procs, last: impl std::fmt::Display) {
        procs.check_alive();
        if Instant::now() >= self.until {
            panic!("timed out waiting for {}; last attempt: {last}", self.what);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The first of `names` found on PATH or in /usr/bin, else a failure saying what to install.
fn find_tool(names: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .collect();
    for name in names {
        for dir in &dirs {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "{} not found on PATH: this test needs the real Prometheus and Alertmanager. \
         Install them (Debian/Ubuntu: apt-get install prometheus prometheus-alertmanager; \
         .ci/run does it)",
        names.join(" / ")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn get_status(http: &reqwest::Client, url: &str) -> Result<u16, String> {
    http.get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{url}: {e}"))
}

async fn wait_ready(procs: &mut Procs, http: &reqwest::Client, what: &str, url: &str, timeout: Duration) {
    let wait = Wait::new(procs, format!("{what} to be ready ({url})"), timeout);
    loop {
        match get_status(http, url).await {
            Ok(200) => return,
            Ok(code) => wait.retry(procs, format!("HTTP {code}")).await,
            Err(e) => wait.retry(procs, e).await,
        }
    }
}

// ---------------------------------------------------------------------------
// Configuration files
// ---------------------------------------------------------------------------

/// The bundled rules with every `for:` replaced by [`FOR`]; expressions, labels and
/// annotations stay byte for byte the same.
fn rules_with_short_for() -> String {
    let path = format!("{REPO}/deploy/prometheus/plex-sharing-rules.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut replaced = 0;
    let mut out = String::new();
    for line in text.lines() {
        let body = line.trim_start();
        if body.starts_with("for:") {
            replaced += 1;
            let indent = &line[..line.len() - body.len()];
            writeln!(out, "{indent}for: {FOR}").unwrap();
        } else {
            writeln!(out, "{line}").unwrap();
        }
    }
    let alerts = text.lines().filter(|l| l.trim_start().starts_with("- alert:")).count();
    assert!(alerts >= 8, "{path}: expected the 8 alerting rules, found {alerts}");
    assert_eq!(
        replaced, alerts,
        "{path}: every alert should have exactly one `for:` line"
    );
    out
}

/// Scrape the exporter every second; evaluate `rules`, if any, every second.
fn prometheus_config(rules: Option<&Path>, exporter: &str, alertmanager: &str) -> String {
    let rule_files = match rules {
        Some(path) => format!("rule_files:\n  - {}\n", path.display()),
        None => String::new(),
    };
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
{rule_files}alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{alertmanager}"]
scrape_configs:
  - job_name: {JOB}
    static_configs:
      - targets: ["{exporter}"]
"#
    )
}

/// The bundled Alertmanager configuration (routes, grouping, inhibition, receivers) with
/// its webhooks pointed at `webhook` and the group timers shortened.
fn alertmanager_config(webhook: &str) -> String {
    use serde_yaml_ng::Value as Y;
    let path = format!("{REPO}/deploy/alertmanager/alertmanager.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut am: Y = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let route = am.get_mut("route").expect("alertmanager.yml has a route");
    route["group_wait"] = Y::from("1s");
    route["group_interval"] = Y::from("1s");
    am["templates"] = Y::Sequence(vec![Y::from(format!("{REPO}/deploy/alertmanager/templates/*.tmpl"))]);
    let mut webhooks = 0;
    for receiver in am["receivers"].as_sequence_mut().expect("receivers") {
        if let Some(hooks) = receiver.get_mut("webhook_configs").and_then(Y::as_sequence_mut) {
            for hook in hooks {
                let url = hook["url"].as_str().expect("webhook url").to_string();
                let route_path = url
                    .strip_prefix("http://")
                    .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
                    .unwrap_or("/");
                hook["url"] = Y::from(format!("{webhook}{route_path}"));
                webhooks += 1;
            }
        }
    }
    assert!(webhooks > 0, "{path}: no webhook receiver to point at the test");
    serde_yaml_ng::to_string(&am).unwrap()
}

// ---------------------------------------------------------------------------
// The webhook receiver
// ---------------------------------------------------------------------------

/// (path, body) of every POST the receiver got.
type Inbox = Arc<Mutex<Vec<(String, String)>>>;

async fn spawn_webhook() -> (String, Inbox) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the webhook");
    let addr = listener.local_addr().unwrap();
    let inbox = Inbox::default();
    let sink = inbox.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: String| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push((uri.path().to_string(), body));
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), inbox)
}

/// One alert as delivered by Alertmanager.
#[derive(Debug)]
struct Delivered {
    path: String,
    status: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    common_report_url: Option<String>,
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn delivered(inbox: &Inbox) -> Vec<Delivered> {
    let mut out = Vec::new();
    for (path, body) in inbox.lock().unwrap().iter() {
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("webhook {path}: body is not JSON ({e}): {body}"));
        let common = v["commonAnnotations"]["report_url"].as_str().map(str::to_string);
        for a in v["alerts"].as_array().into_iter().flatten() {
            out.push(Delivered {
                path: path.clone(),
                status: a["status"].as_str().unwrap_or_default().to_string(),
                labels: string_map(&a["labels"]),
                annotations: string_map(&a["annotations"]),
                common_report_url: common.clone(),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Prometheus HTTP API
// ---------------------------------------------------------------------------

/// GET `base` + `path` with `params`; the `data` of a `"status": "success"` answer.
async fn api(http: &reqwest::Client, base: &str, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
    let url = reqwest::Url::parse_with_params(&format!("{base}{path}"), params).map_err(|e| e.to_string())?;
    let r = http.get(url).send().await.map_err(|e| format!("{path}: {e}"))?;
    let code = r.status().as_u16();
    let body = r.text().await.map_err(|e| format!("{path}: {e}"))?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{path}: HTTP {code}, not JSON ({e}): {body}"))?;
    if v["status"] != "success" {
        return Err(format!("{path} {params:?}: HTTP {code}: {body}"));
    }
    Ok(v["data"].clone())
}

/// An instant query's result vector.
async fn query(http: &reqwest::Client, prom: &str, promql: &str) -> Vec<Value> {
    let data = api(http, prom, "/api/v1/query", &[("query", promql)])
        .await
        .unwrap_or_else(|e| panic!("query failed: {e}"));
    data["result"].as_array().cloned().unwrap_or_default()
}

/// An alert as Prometheus lists it.
#[derive(Debug, Clone)]
struct Alert {
    name: String,
    state: String,
    user_id: Option<i64>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

async fn alerts(http: &reqwest::Client, prom: &str) -> Result<Vec<Alert>, String> {
    let data = api(http, prom, "/api/v1/alerts", &[]).await?;
    Ok(data["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let labels = string_map(&a["labels"]);
            Alert {
                name: labels.get("alertname").cloned().unwrap_or_default(),
                state: a["state"].as_str().unwrap_or_default().to_string(),
                user_id: labels.get("user_id").and_then(|u| u.parse().ok()),
                annotations: string_map(&a["annotations"]),
                labels,
            }
        })
        .collect())
}

fn firing_users(alerts: &[Alert], name: &str) -> BTreeSet<i64> {
    alerts
        .iter()
        .filter(|a| a.name == name && a.state == "firing")
        .filter_map(|a| a.user_id)
        .collect()
}

fn summary(alerts: &[Alert]) -> String {
    let mut s: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{}[{}] user_id={} severity={}",
                a.name,
                a.state,
                a.user_id.map(|u| u.to_string()).unwrap_or("-".into()),
                a.labels.get("severity").map(String::as_str).unwrap_or("-")
            )
        })
        .collect();
    s.sort();
    s.join("\n  ")
}

// ---------------------------------------------------------------------------
// Dashboards
// ---------------------------------------------------------------------------

/// A PromQL expression taken from a dashboard.
struct DashboardQuery {
    /// dashboard, panel or variable, refId.
    place: String,
    /// Panel title, for [`NO_DATA_IN_DEMO`].
    title: String,
    promql: String,
    /// Grafana runs it as a range query.
    range: bool,
    /// For a `label_values(expr, label)` variable: the label that must be present.
    label: Option<String>,
}

fn walk_panels<'a>(panels: &'a [Value], out: &mut Vec<&'a Value>) {
    for p in panels {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            walk_panels(inner, out);
        }
    }
}

/// Replace Grafana variables (`$name`, `${name}`, `${name:format}`) by `value(name)`;
/// an unknown variable fails the test.
fn substitute(expr: &str, place: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .unwrap_or_else(|| panic!("{place}: unclosed ${{ in {expr}"));
            let inner = &braced[..end];
            (inner.split(':').next().unwrap_or(inner), end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let v = value(name).unwrap_or_else(|| {
            panic!("{place}: unknown Grafana variable ${name} in {expr}: give it a value in this test")
        });
        out.push_str(&v);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

fn dashboard_queries(value: &dyn Fn(&str) -> Option<String>) -> Vec<DashboardQuery> {
    let dir = format!("{REPO}/grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "expected the dashboards in {dir}");
    let mut out = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let board: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut panels = Vec::new();
        walk_panels(
            board["panels"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            &mut panels,
        );
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or_default().to_string();
            for t in panel["targets"].as_array().into_iter().flatten() {
                let Some(expr) = t["expr"].as_str() else { continue };
                let place = format!("{name}: panel {title:?} target {}", t["refId"].as_str().unwrap_or("?"));
                out.push(DashboardQuery {
                    promql: substitute(expr, &place, value),
                    place,
                    title: title.clone(),
                    range: !t["instant"].as_bool().unwrap_or(false),
                    label: None,
                });
            }
        }
        for var in board["templating"]["list"].as_array().into_iter().flatten() {
            if var["type"] != "query" {
                continue;
            }
            let q = var["query"]
                .as_str()
                .or_else(|| var["query"]["query"].as_str())
                .unwrap_or_default()
                .trim();
            let var_name = var["name"].as_str().unwrap_or_default();
            let place = format!("{name}: variable ${var_name}");
            let (expr, label) = if let Some(inner) = q.strip_prefix("label_values(").and_then(|s| s.strip_suffix(')')) {
                match inner.rsplit_once(',') {
                    Some((e, l)) => (e.trim().to_string(), Some(l.trim().to_string())),
                    None => panic!("{place}: label_values without a metric: {q}"),
                }
            } else if let Some(inner) = q.strip_prefix("query_result(").and_then(|s| s.strip_suffix(')')) {
                (inner.to_string(), None)
            } else {
                (q.to_string(), None)
            };
            out.push(DashboardQuery {
                promql: substitute(&expr, &place, value),
                place,
                title: format!("${var_name}"),
                range: false,
                label,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

/// What the demo planted (seed 1), by user id.
struct Truth {
    /// Sharers and teleporters: PlexSharingHighScore must fire for exactly these.
    suspects: BTreeSet<i64>,
    teleporters: BTreeSet<i64>,
    /// Streaming from two networks right now.
    live_multi: BTreeSet<i64>,
    honest: BTreeSet<i64>,
    /// Accounts shared across the two servers (honest on each alone):
    /// PlexSharingAccountAcrossServers must fire for exactly these.
    across_servers: BTreeSet<i64>,
    /// Accounts on both servers from one home.
    honest_across_servers: BTreeSet<i64>,
    /// Display names (the `user` label).
    names: BTreeMap<i64, String>,
}

impl Truth {
    fn demo() -> Truth {
        let world = plex_sharing_exporter::simulator::scenario::demo(jiff::Timestamp::now().as_second(), 1);
        let p = &world.planted;
        let set = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<i64>>();
        let truth = Truth {
            suspects: p.sharers.iter().chain(&p.teleporters).copied().collect(),
            teleporters: set(&p.teleporters),
            live_multi: set(&p.live_multi_network),
            honest: set(&p.honest),
            across_servers: set(&p.across_servers),
            honest_across_servers: set(&p.honest_across_servers),
            names: world
                .dataset
                .users
                .iter()
                .filter_map(|u| Some((u["user_id"].as_i64()?, u["friendly_name"].as_str()?.to_string())))
                .collect(),
        };
        assert!(
            !truth.suspects.is_empty() && !truth.teleporters.is_empty(),
            "the demo plants sharers and a teleporter"
        );
        assert!(!truth.honest.is_empty() && !truth.live_multi.is_empty());
        assert!(!truth.across_servers.is_empty() && !truth.honest_across_servers.is_empty());
        truth
    }

    /// The sharer the user dashboard is checked with.
    fn sample_user(&self) -> i64 {
        *self.suspects.first().unwrap()
    }
}

/// The running exporter, Alertmanager, Prometheus and webhook receiver.
struct Stack {
    procs: Procs,
    http: reqwest::Client,
    /// Prometheus' base URL.
    prom: String,
    /// Where the exporter listens (and Prometheus scrapes it).
    exporter_url: String,
    /// Its --web.external-url.
    external_url: String,
    inbox: Inbox,
}

impl Stack {
    async fn start() -> Stack {
        let prometheus = find_tool(&["prometheus"]);
        let alertmanager = find_tool(&["prometheus-alertmanager", "alertmanager"]);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut procs = Procs::new();
        let (webhook, inbox) = spawn_webhook().await;

        // The exporter: `demo` on a free port. Its external URL names the host differently
        // from the scrape address, so a report_url built from plex_sharing_web_info can be
        // told apart from the http://<instance> fallback.
        let port = free_port();
        let exporter_addr = format!("127.0.0.1:{port}");
        let exporter_url = format!("http://{exporter_addr}");
        let external_url = format!("http://localhost:{port}");
        let args = [
            "demo",
            "--demo.seed",
            "1",
            "--web.listen-address",
            &exporter_addr,
            "--refresh-interval",
            "2s",
            "--web.external-url",
            &external_url,
        ];
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        procs.spawn(
            "exporter",
            Path::new(env!("CARGO_BIN_EXE_plex-sharing-exporter")),
            &args,
        );

        // Alertmanager with the bundled routing.
        let am_addr = format!("127.0.0.1:{}", free_port());
        let am_config = procs.path("alertmanager.yml");
        std::fs::write(&am_config, alertmanager_config(&webhook)).unwrap();
        let am_data = procs.path("alertmanager-data");
        std::fs::create_dir_all(&am_data).unwrap();
        let args = [
            format!("--config.file={}", am_config.display()),
            format!("--storage.path={}", am_data.display()),
            format!("--web.listen-address={am_addr}"),
            "--cluster.listen-address=".into(), // no HA gossip port
        ];
        procs.spawn("alertmanager", &alertmanager, &args);

        // The exporter must have data before Prometheus starts, or PlexSharingExporterDown
        // (plex_sharing_up 0 before the first refresh) could fire with the short `for`.
        let ready = format!("{exporter_url}/-/ready");
        wait_ready(&mut procs, &http, "the exporter", &ready, Duration::from_secs(60)).await;
        let ready = format!("http://{am_addr}/-/ready");
        wait_ready(&mut procs, &http, "Alertmanager", &ready, Duration::from_secs(30)).await;

        // Prometheus, first without rules. A Prometheus that has just started takes up to
        // about 10 s to scrape for the first time (service discovery and the scrape manager
        // apply targets on 5 s ticks); meanwhile absent(up{job="plex-sharing"}) is true. The
        // real `for: 15m` of PlexSharingExporterAbsent rides that out, the test's 5 s would
        // not: so the rules are loaded (POST /-/reload) once the target is up.
        let rules = procs.path("plex-sharing-rules.yml");
        std::fs::write(&rules, rules_with_short_for()).unwrap();
        let prom_config = procs.path("prometheus.yml");
        std::fs::write(&prom_config, prometheus_config(None, &exporter_addr, &am_addr)).unwrap();
        let prom_addr = format!("127.0.0.1:{}", free_port());
        let args = [
            format!("--config.file={}", prom_config.display()),
            format!("--storage.tsdb.path={}", procs.path("prometheus-data").display()),
            format!("--web.listen-address={prom_addr}"),
            "--web.enable-lifecycle".into(),
        ];
        procs.spawn("prometheus", &prometheus, &args);
        let prom = format!("http://{prom_addr}");
        let ready = format!("{prom}/-/ready");
        wait_ready(&mut procs, &http, "Prometheus", &ready, Duration::from_secs(30)).await;

        let mut stack = Stack {
            procs,
            http,
            prom,
            exporter_url,
            external_url,
            inbox,
        };
        stack.wait_target_up().await;

        std::fs::write(&prom_config, prometheus_config(Some(&rules), &exporter_addr, &am_addr)).unwrap();
        let reload = stack
            .http
            .post(format!("{}/-/reload", stack.prom))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /-/reload: {e}"));
        let code = reload.status();
        assert!(
            code.is_success(),
            "Prometheus rejected the rules: HTTP {code}: {}",
            reload.text().await.unwrap_or_default()
        );
        let groups = stack.api("/api/v1/rules", &[]).await.unwrap_or_else(|e| panic!("{e}"));
        let loaded = groups["groups"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(loaded, 2, "rule groups loaded after the reload: {groups}");
        stack
    }

    async fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        api(&self.http, &self.prom, path, params).await
    }

    async fn query(&self, promql: &str) -> Vec<Value> {
        query(&self.http, &self.prom, promql).await
    }

    /// Step 1: the target is up, in /api/v1/targets and as up{job="plex-sharing"} == 1.
    async fn wait_target_up(&mut self) {
        let wait = Wait::new(&self.procs, "the plex-sharing target to be up", Duration::from_secs(30));
        loop {
            let targets = self.api("/api/v1/targets", &[]).await;
            let health: Vec<(String, String)> = targets
                .as_ref()
                .map(|d| {
                    let active = d["activeTargets"].as_array().into_iter().flatten();
                    active
                        .map(|t| {
                            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
                            (s(&t["labels"]["job"]), s(&t["health"]))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let up = self.query(&format!("up{{job=\"{JOB}\"}} == 1")).await;
            if health == [(JOB.to_string(), "up".to_string())] && up.len() == 1 {
                return;
            }
            wait.retry(&mut self.procs, format!("targets {health:?}, {targets:?}"))
                .await;
        }
    }
}

/// Every user in the metrics is planted either as a suspect or as honest.
async fn check_users_are_classified(stack: &Stack, truth: &Truth) {
    let scored: BTreeSet<i64> = stack
        .query(&format!("plex_sharing_user_score{{job=\"{JOB}\"}}"))
        .await
        .iter()
        .filter_map(|s| s["metric"]["user_id"].as_str().and_then(|u| u.parse().ok()))
        .collect();
    let known: BTreeSet<i64> = truth.suspects.union(&truth.honest).copied().collect();
    assert!(
        !scored.is_empty() && scored.is_subset(&known),
        "users in /metrics that the scenario does not classify: {:?}",
        scored.difference(&known).collect::<Vec<_>>()
    );
}

/// Step 3: the sharing alerts fire for the planted users and only for them, with the right
/// annotations; no exporter-health alert. Returns the alerts.
async fn check_alerts(stack: &mut Stack, truth: &Truth) -> Vec<Alert> {
    let wait = Wait::new(&stack.procs, "the sharing alerts to fire", Duration::from_secs(60));
    let alerts = loop {
        let last = match alerts(&stack.http, &stack.prom).await {
            Ok(a) => {
                let high = firing_users(&a, "PlexSharingHighScore");
                let tele = firing_users(&a, "PlexSharingTeleportation");
                let live = firing_users(&a, "PlexSharingConcurrentNetworks");
                let across = firing_users(&a, ACCOUNT_ALERT);
                if truth.suspects.is_subset(&high)
                    && truth.teleporters.is_subset(&tele)
                    && truth.live_multi.is_subset(&live)
                    && truth.across_servers.is_subset(&across)
                {
                    break a;
                }
                format!("alerts:\n  {}", summary(&a))
            }
            Err(e) => e,
        };
        wait.retry(&mut stack.procs, last).await;
    };
    let all = summary(&alerts);
    assert_eq!(
        firing_users(&alerts, "PlexSharingHighScore"),
        truth.suspects,
        "PlexSharingHighScore must fire for exactly the planted sharers and teleporters:\n  {all}"
    );
    let tele = firing_users(&alerts, "PlexSharingTeleportation");
    assert!(
        tele.is_superset(&truth.teleporters) && tele.is_subset(&truth.suspects),
        "PlexSharingTeleportation: the teleporter, maybe sharers with far-apart homes, nobody else:\n  {all}"
    );
    assert_eq!(
        firing_users(&alerts, "PlexSharingConcurrentNetworks"),
        truth.live_multi,
        "PlexSharingConcurrentNetworks must fire for the users streaming from two networks now:\n  {all}"
    );
    assert_eq!(
        firing_users(&alerts, "PlexSharingVpnLikely"),
        BTreeSet::new(),
        "PlexSharingVpnLikely: no demo user has one device hopping far-apart places:\n  {all}"
    );
    assert_eq!(
        firing_users(&alerts, ACCOUNT_ALERT),
        truth.across_servers,
        "{ACCOUNT_ALERT} must fire for exactly the account shared across servers:\n  {all}"
    );
    for a in alerts.iter().filter(|a| a.name == ACCOUNT_ALERT) {
        let id = a
            .user_id
            .unwrap_or_else(|| panic!("account alert without user_id: {a:?}"));
        assert_eq!(a.labels.get("user"), Some(&truth.names[&id]), "{a:?}");
        assert!(!a.labels.contains_key("server"), "an account spans servers: {a:?}");
        let ann = &a.annotations;
        assert!(
            !ann["description"].replace(truth.names[&id].as_str(), "").contains('?'),
            "an evidence lookup in the description found nothing: {a:?}"
        );
        assert_eq!(
            ann["report_url"],
            format!("{}/accounts/{id}", stack.external_url),
            "{a:?}"
        );
        let page = format!("{}/accounts/{id}", stack.exporter_url);
        assert_eq!(get_status(&stack.http, &page).await, Ok(200), "{page}");
    }
    for a in alerts.iter().filter(|a| a.name != ACCOUNT_ALERT) {
        assert!(
            !HEALTH_ALERTS.contains(&a.name.as_str()),
            "exporter-health alert {} is {}:\n  {all}",
            a.name,
            a.state
        );
        assert!(SHARING_ALERTS.contains(&a.name.as_str()), "unexpected alert {a:?}");
        let id = a
            .user_id
            .unwrap_or_else(|| panic!("sharing alert without user_id: {a:?}"));
        assert!(
            !truth.honest.contains(&id),
            "{} ({}) for honest user {id}:\n  {all}",
            a.name,
            a.state
        );
        // The annotations as Prometheus rendered them: the description names the user
        // and its evidence lookups found their series; the report link is built from
        // plex_sharing_web_info; the runbook link points at the alert's section.
        let user = &truth.names[&id];
        let ann = &a.annotations;
        assert_eq!(a.labels.get("user"), Some(user), "{a:?}");
        for key in ["summary", "description", "runbook_url", "report_url"] {
            assert!(
                ann.get(key).is_some_and(|v| !v.is_empty()),
                "{} lacks {key}: {a:?}",
                a.name
            );
        }
        let description = &ann["description"];
        assert!(
            description.contains(user.as_str()) && description.contains(&format!("user_id {id}")),
            "{}: the description should name {user:?} (user_id {id}): {description}",
            a.name
        );
        assert!(
            !description.replace(user.as_str(), "").contains('?'),
            "{}: an evidence lookup in the description found nothing: {description}",
            a.name
        );
        let report_url = format!("{}/users/{SERVER}/{id}", stack.external_url);
        assert_eq!(ann["report_url"], report_url, "{a:?}");
        let runbook_url = format!("{}/runbook#{}", stack.external_url, a.name.to_lowercase());
        assert_eq!(ann["runbook_url"], runbook_url, "{a:?}");
    }
    // The runbook link opens the exporter's runbook at the alert's section.
    let runbook = stack.http.get(format!("{}/runbook", stack.exporter_url)).send().await;
    let runbook = match runbook {
        Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
        other => panic!("GET /runbook: {other:?}"),
    };
    for a in alerts.iter().filter(|a| a.state == "firing") {
        let id = format!("id=\"{}\"", a.name.to_lowercase());
        assert!(runbook.contains(&id), "{}: no {id} in /runbook", a.name);
    }
    // Each report link opens the user's HTML report, and its data is served as JSON.
    for id in &truth.suspects {
        let url = format!("{}/api/v1/users/{SERVER}/{id}", stack.exporter_url);
        assert_eq!(get_status(&stack.http, &url).await, Ok(200), "{url}");
        let page = format!("{}/users/{SERVER}/{id}", stack.exporter_url);
        let html = stack
            .http
            .get(&page)
            .send()
            .await
            .expect("report page")
            .text()
            .await
            .unwrap_or_default();
        assert!(
            html.contains("Why the score is") && html.contains(r#"<svg class="timeline""#),
            "{page}: {html}"
        );
    }
    // Over the whole run: no sharing alert, not even pending, for an honest user, and no
    // health alert ever firing.
    let honest = truth.honest.iter().map(i64::to_string).collect::<Vec<_>>().join("|");
    let sharing = SHARING_ALERTS.join("|");
    let honest_alerts = stack
        .query(&format!(
            "count_over_time(ALERTS{{alertname=~\"{sharing}\",user_id=~\"{honest}\"}}[10m])"
        ))
        .await;
    assert!(
        honest_alerts.is_empty(),
        "sharing alerts for honest users: {honest_alerts:?}"
    );
    let honest_accounts = truth
        .honest_across_servers
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join("|");
    let honest_account_alerts = stack
        .query(&format!(
            "count_over_time(ALERTS{{alertname=\"{ACCOUNT_ALERT}\",user_id=~\"{honest_accounts}\"}}[10m])"
        ))
        .await;
    assert!(
        honest_account_alerts.is_empty(),
        "{ACCOUNT_ALERT} for an honest account on both servers: {honest_account_alerts:?}"
    );
    let health = HEALTH_ALERTS.join("|");
    let health_fired = stack
        .query(&format!(
            "count_over_time(ALERTS{{alertname=~\"{health}\",alertstate=\"firing\"}}[10m])"
        ))
        .await;
    assert!(
        health_fired.is_empty(),
        "exporter-health alerts fired: {health_fired:?}"
    );
    alerts
}

/// Step 2: every dashboard query (panels and template variables) is accepted by Prometheus and
/// returns data, run as Grafana runs it (instant or range). Returns how many.
async fn check_dashboards(stack: &Stack, truth: &Truth) -> usize {
    let user_id = truth.sample_user();
    let user = truth.names[&user_id].clone();
    let vars = |name: &str| -> Option<String> {
        Some(match name {
            "job" => JOB.to_string(),
            "instance" => ".*".into(), // multi-value regex variable: everything
            "server" => SERVER.into(),
            "user" => user.clone(),
            "user_id" => user_id.to_string(),
            "topn" => "10".into(),
            "__rate_interval" => "1m".into(),
            "__range" => "5m".into(),
            "__interval" => "15s".into(),
            "datasource" => "prometheus".into(),
            "report_base_url_fallback" => "http://fallback.invalid".into(),
            _ => return None,
        })
    };
    let queries = dashboard_queries(&vars);
    let now = jiff::Timestamp::now().as_second();
    let (start, end) = ((now - 30).to_string(), now.to_string());
    let mut empty = Vec::new();
    for q in &queries {
        let data = if q.range {
            let params = [
                ("query", q.promql.as_str()),
                ("start", &start),
                ("end", &end),
                ("step", "1"),
            ];
            stack.api("/api/v1/query_range", &params).await
        } else {
            stack.api("/api/v1/query", &[("query", &q.promql)]).await
        };
        let data = data.unwrap_or_else(|e| panic!("{}: Prometheus rejects the query: {e}\n{}", q.place, q.promql));
        let result = data["result"].as_array().cloned().unwrap_or_default();
        let has_data = match data["resultType"].as_str() {
            Some("scalar") | Some("string") => true,
            _ => match &q.label {
                Some(label) => result.iter().any(|s| s["metric"].get(label).is_some()),
                None => !result.is_empty(),
            },
        };
        match (has_data, NO_DATA_IN_DEMO.iter().find(|(title, _)| *title == q.title)) {
            (true, None) | (false, Some(_)) => {}
            (false, None) => empty.push(format!("{}\n    {}", q.place, q.promql.replace('\n', "\n    "))),
            (true, Some((title, why))) => panic!(
                "{}: listed in NO_DATA_IN_DEMO ({title}: {why}) but has data: remove it from the list",
                q.place
            ),
        }
        // The user dashboard's report links start with the exporter's external URL.
        if q.title == "$report_base_url" {
            let urls: Vec<&str> = result
                .iter()
                .filter_map(|s| s["metric"]["external_url"].as_str())
                .collect();
            assert_eq!(urls, [stack.external_url.as_str()], "{}: {result:?}", q.place);
        }
    }
    assert!(
        empty.is_empty(),
        "{} of {} dashboard queries return no data in the demo (give the demo that data, or \
         list the panel in NO_DATA_IN_DEMO with the reason):\n  {}",
        empty.len(),
        queries.len(),
        empty.join("\n  ")
    );
    queries.len()
}

/// Every recording rule has data for the demo server. Returns how many rules.
async fn check_recording_rules(stack: &mut Stack) -> usize {
    let data = stack
        .api("/api/v1/rules", &[("type", "record")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let records: Vec<String> = data["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    assert!(records.len() >= 7, "recording rules loaded: {records:?}");
    let wait = Wait::new(
        &stack.procs,
        "every recording rule to have data",
        Duration::from_secs(30),
    );
    loop {
        let mut missing = Vec::new();
        for r in &records {
            let selector = format!("{r}{{job=\"{JOB}\",server=\"{SERVER}\"}}");
            if stack.query(&selector).await.is_empty() {
                missing.push(r.clone());
            }
        }
        if missing.is_empty() {
            return records.len();
        }
        wait.retry(&mut stack.procs, format!("no data for {missing:?}")).await;
    }
}

/// Step 4: Alertmanager delivers the sharing alerts to the webhook, each with its report link;
/// nothing for honest users or the exporter's health. Returns the delivered alerts.
async fn check_deliveries(stack: &mut Stack, truth: &Truth) -> Vec<Delivered> {
    let wanted: Vec<(&str, i64)> = (truth.suspects.iter().map(|&id| ("PlexSharingHighScore", id)))
        .chain(truth.teleporters.iter().map(|&id| ("PlexSharingTeleportation", id)))
        .chain(truth.live_multi.iter().map(|&id| ("PlexSharingConcurrentNetworks", id)))
        .chain(truth.across_servers.iter().map(|&id| (ACCOUNT_ALERT, id)))
        .collect();
    let wait = Wait::new(
        &stack.procs,
        "Alertmanager to deliver the sharing alerts",
        Duration::from_secs(30),
    );
    let got = loop {
        let got = delivered(&stack.inbox);
        let seen: BTreeSet<(String, i64)> = got
            .iter()
            .filter(|d| d.status == "firing")
            .filter_map(|d| {
                Some((
                    d.labels.get("alertname")?.clone(),
                    d.labels.get("user_id")?.parse().ok()?,
                ))
            })
            .collect();
        let missing: Vec<_> = wanted
            .iter()
            .filter(|(name, id)| !seen.contains(&(name.to_string(), *id)))
            .collect();
        if missing.is_empty() {
            break got;
        }
        wait.retry(
            &mut stack.procs,
            format!("not delivered yet: {missing:?}; delivered: {seen:?}"),
        )
        .await;
    };
    for d in &got {
        let name = d.labels.get("alertname").map(String::as_str).unwrap_or_default();
        assert!(
            SHARING_ALERTS.contains(&name) || name == ACCOUNT_ALERT,
            "Alertmanager delivered {name}, which should not fire: {d:?}"
        );
        let id: i64 = d.labels["user_id"].parse().unwrap();
        let report_url = if name == ACCOUNT_ALERT {
            assert!(truth.across_servers.contains(&id), "delivered for account {id}: {d:?}");
            format!("{}/accounts/{id}", stack.external_url)
        } else {
            assert!(!truth.honest.contains(&id), "delivered for honest user {id}: {d:?}");
            format!("{}/users/{SERVER}/{id}", stack.external_url)
        };
        assert_eq!(d.annotations.get("report_url"), Some(&report_url), "{d:?}");
        assert_eq!(
            d.common_report_url.as_ref(),
            Some(&report_url),
            "one user per notification, so commonAnnotations carry the link: {d:?}"
        );
        // The bundled routes send each severity to its own receiver.
        let severity = &d.labels["severity"];
        assert!(
            d.path.ends_with(&format!("/{severity}")),
            "{severity} alert delivered to {}",
            d.path
        );
    }
    got
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_and_alertmanager_fire_the_bundled_alerts_on_the_demo() {
    let started = Instant::now();
    let truth = Truth::demo();
    let mut stack = Stack::start().await;
    check_users_are_classified(&stack, &truth).await;
    let alerts = check_alerts(&mut stack, &truth).await;
    let queries = check_dashboards(&stack, &truth).await;
    let records = check_recording_rules(&mut stack).await;
    let delivered = check_deliveries(&mut stack, &truth).await;
    eprintln!(
        "prometheus e2e: {} alerts active, {} delivered by Alertmanager, {queries} dashboard queries and \
         {records} recording rules with data, in {:.1}s",
        alerts.len(),
        delivered.len(),
        started.elapsed().as_secs_f64()
    );
}
