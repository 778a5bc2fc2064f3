//! The exporter (`serve`) in-process against a fake Tautulli: metrics, health, failure
//! and recovery, incremental refresh, and promtool on the real output.

use std::sync::Arc;
use std::time::Duration;

use plex_sharing_exporter::app;
use plex_sharing_exporter::config::WebArgs;
use plex_sharing_exporter::detect::Rules;
use plex_sharing_exporter::geo::{CacheOptions, Locator, Provider};
use plex_sharing_exporter::refresh::{RefreshOptions, Refresher};
use plex_sharing_exporter::simulator::{Dataset, FakeTautulli, Fault, HistoryCost};
use plex_sharing_exporter::snapshot::ServerState;
use plex_sharing_exporter::tautulli::{ApiKey, Client, ClientOptions, TautulliUrl};

use crate::helpers::*;

pub struct App {
    web: Scraper,
    pub fake: Arc<FakeTautulli>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::ops::Deref for App {
    type Target = Scraper;
    fn deref(&self) -> &Scraper {
        &self.web
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn client_for(url: &str) -> Client {
    let mut opts = ClientOptions::new(TautulliUrl::parse(url).unwrap(), ApiKey::new(KEY));
    opts.retries = 0;
    opts.timeout = Duration::from_secs(5);
    Client::new(opts).unwrap()
}

pub fn options(interval: Duration) -> RefreshOptions {
    RefreshOptions {
        interval,
        days: 30,
        overlap: Duration::from_secs(12 * 3600),
        full_reload: Duration::from_secs(24 * 3600),
        users_refresh: Duration::from_secs(3600),
        timeout: Duration::from_secs(600),
        rules: Rules::default(),
        keep_sessions: true,
    }
}

/// The exporter on a free port, refreshing every `interval` from a fake serving `data`
/// (GeoIP through Tautulli's lookup).
pub async fn spawn_app(data: Dataset, interval: Duration) -> App {
    spawn_app_with(data, options(interval)).await
}

pub async fn spawn_app_with(data: Dataset, opts: RefreshOptions) -> App {
    let (fake, fake_url) = spawn_fake(shift_to_now(data), "UTC").await;
    let client = client_for(&fake_url);
    let locator = Locator::new(vec![Provider::Tautulli(client.clone())], CacheOptions::default());
    let web = WebArgs {
        listen_address: "127.0.0.1:0".into(),
        telemetry_path: "/metrics".into(),
        external_url: Some("http://plex-sharing.example:9595".into()),
        web_config_file: None,
        mask_ips: false,
        ..WebArgs::default()
    }
    .resolve()
    .unwrap();
    let listener = app::bind(&web).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let servers = vec![Arc::new(ServerState::new("home", client))];
    tokio::spawn(app::serve_on(listener, servers, locator, opts, web, async {
        let _ = rx.await;
    }));
    App {
        web: Scraper::new(format!("http://{addr}"), Duration::from_secs(10)),
        fake,
        stop: Some(tx),
    }
}

/// The value of the sample `name{labels}` (labels as printed), if present.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

fn user_series(name: &str, id: i64, user: &str) -> String {
    format!("{name}{{server=\"home\",user_id=\"{id}\",user=\"{user}\"}}")
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_the_planted_sharer_and_the_honest_users() {
    let app = spawn_app(World::standard().data, Duration::from_secs(3600)).await;
    let m = app
        .wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    let s = |name: &str, id: i64, user: &str| sample(&m, &user_series(name, id, user));
    assert_eq!(
        s("plex_sharing_user_concurrent_sessions", SHARER, "Sam Sharer"),
        Some(6.0)
    );
    assert_eq!(
        s("plex_sharing_user_concurrent_device_pairs", SHARER, "Sam Sharer"),
        Some(1.0)
    );
    assert_eq!(s("plex_sharing_user_teleportations", SHARER, "Sam Sharer"), Some(6.0));
    // Evidence score: 1 device pair * 20 + 6 overlaps * 5 + 6 jumps * 20.
    assert_eq!(s("plex_sharing_user_score", SHARER, "Sam Sharer"), Some(170.0));
    assert_eq!(s("plex_sharing_user_flagged", SHARER, "Sam Sharer"), Some(1.0));
    assert_eq!(s("plex_sharing_user_flagged", FAMILY, "The Family"), Some(0.0));
    assert_eq!(s("plex_sharing_user_networks", SHARER, "Sam Sharer"), Some(2.0));
    assert_eq!(
        s("plex_sharing_user_watch_time_seconds", SHARER, "Sam Sharer"),
        Some(12.0 * 3600.0)
    );
    assert_eq!(
        s("plex_sharing_user_concurrent_sessions", FAMILY, "The Family"),
        Some(0.0)
    );
    assert_eq!(s("plex_sharing_user_networks", FAMILY, "The Family"), Some(1.0));
    assert_eq!(s("plex_sharing_user_score", SOLO, "Solo Viewer"), Some(0.0));
    assert_eq!(s("plex_sharing_user_flagged", SOLO, "Solo Viewer"), Some(0.0));
    assert_eq!(sample(&m, "plex_sharing_history_rows{server=\"home\"}"), Some(34.0));
    assert!(
        m.contains(r#"user="Zoë & \"Friends\" <test>""#),
        "label values are escaped"
    );
    // No addresses, cities or titles in labels.
    for leak in ["81.1.1.1", "New York", "Episode", KEY] {
        assert!(!m.contains(leak), "{leak} must not appear in /metrics");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn live_streams_from_two_networks_are_visible() {
    let mut w = World::standard();
    for (ip, dev) in [("81.1.1.1", "sharer-tv"), ("82.2.2.2", "sharer-phone")] {
        w.data.activity.push(serde_json::json!({
            "session_key": "1", "user_id": SHARER.to_string(), "friendly_name": "Sam Sharer",
            "ip_address": ip, "machine_id": dev, "state": "playing"
        }));
    }
    let app = spawn_app(w.data, Duration::from_secs(3600)).await;
    let m = app
        .wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    assert_eq!(
        sample(&m, &user_series("plex_sharing_user_live_streams", SHARER, "Sam Sharer")),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &m,
            &user_series("plex_sharing_user_live_networks", SHARER, "Sam Sharer")
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(&m, &user_series("plex_sharing_user_live_streams", SOLO, "Solo Viewer")),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tautulli_going_down_keeps_the_last_values_and_recovery_is_automatic() {
    let app = spawn_app(World::standard().data, Duration::from_millis(200)).await;
    let sharer = user_series("plex_sharing_user_concurrent_sessions", SHARER, "Sam Sharer");
    app.wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    app.fake.set_fault(Some(Fault::ServerError));
    let m = app
        .wait_for("up 0", |m| m.contains("plex_sharing_up{server=\"home\"} 0"))
        .await;
    assert_eq!(sample(&m, &sharer), Some(6.0), "last good values are still served");
    assert!(
        sample(
            &m,
            "plex_sharing_refresh_failures_total{server=\"home\",reason=\"server_error\"}"
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{m}"
    );
    assert!(
        m.contains(
            "plex_sharing_tautulli_requests_total{server=\"home\",cmd=\"get_users_table\",outcome=\"server_error\"}"
        ) || m.contains("cmd=\"get_history\",outcome=\"server_error\"")
            || m.contains("cmd=\"get_activity\",outcome=\"server_error\""),
        "{m}"
    );
    let (code, _) = app.get("/-/ready").await;
    assert_eq!(code, 200, "still ready: it has data to serve");
    app.fake.set_fault(None);
    let m = app
        .wait_for("recovery", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    assert_eq!(sample(&m, &sharer), Some(6.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn not_ready_until_the_first_successful_refresh() {
    let app = spawn_app(World::standard().data, Duration::from_millis(200)).await;
    app.fake.set_fault(Some(Fault::NotJson));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, body) = app.get("/-/ready").await;
    assert_eq!(code, 503);
    assert!(
        body.contains("waiting for the first successful refresh of home"),
        "{body}"
    );
    assert_eq!(app.get("/-/healthy").await.0, 200);
    let m = app.metrics().await;
    assert!(m.contains("plex_sharing_up{server=\"home\"} 0"), "{m}");
    assert!(
        !m.contains("plex_sharing_user_score{"),
        "no user data before the first refresh"
    );
    app.fake.set_fault(None);
    app.wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    assert_eq!(app.get("/-/ready").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn steady_state_refreshes_make_at_most_three_calls() {
    let app = spawn_app(World::standard().data, Duration::from_millis(150)).await;
    app.wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = app.fake.requests().len();
    let geo_before = app.fake.count("get_geoip_lookup");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let reqs = app.fake.requests();
    let new = &reqs[before..];
    let refreshes = new.iter().filter(|r| r.cmd == "get_activity").count();
    assert!(refreshes >= 3, "expected several refreshes, saw {refreshes}");
    assert!(
        new.len() <= 3 * refreshes + 2,
        "{} calls for {refreshes} refreshes: {:?}",
        new.len(),
        new.iter().map(|r| &r.cmd).collect::<Vec<_>>()
    );
    assert_eq!(
        new.iter().filter(|r| r.cmd == "get_users_table").count(),
        0,
        "users table is on a slower cadence"
    );
    assert_eq!(app.fake.count("get_geoip_lookup"), geo_before, "addresses are cached");
    for r in new.iter().filter(|r| r.cmd == "get_history") {
        assert!(
            !r.params.contains_key("before"),
            "tail refreshes ask `after` only: {r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn users_who_leave_the_window_disappear() {
    let mut opts = options(Duration::from_millis(150));
    opts.full_reload = Duration::from_millis(1); // every refresh is a full reload
    let app = spawn_app_with(World::standard().data, opts).await;
    let solo = user_series("plex_sharing_user_plays", SOLO, "Solo Viewer");
    app.wait_for("solo present", |m| sample(m, &solo) == Some(3.0)).await;
    app.fake.update(|d| d.history.retain(|r| r["user_id"] != SOLO));
    app.wait_for("solo gone", |m| !m.contains("user_id=\"103\"")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn content_negotiation_serves_openmetrics_or_text() {
    let app = spawn_app(World::standard().data, Duration::from_secs(3600)).await;
    app.wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    let r = app
        .http
        .get(format!("{}/metrics", app.url))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let body = r.text().await.unwrap();
    assert!(body.trim_end().ends_with("# EOF"));
    let r = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(!r.text().await.unwrap().contains("# EOF"));
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_finds_the_real_output_clean_and_every_contract_metric_present() {
    let app = spawn_app(World::standard().data, Duration::from_secs(3600)).await;
    let m = app
        .wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    let mut child = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool must be installed (Debian package prometheus; .ci/run installs it)");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(m.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "promtool check metrics:\n{text}"
    );
    // Every metric the dashboards and rules use is exported.
    let contract = std::process::Command::new("bash")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/check.sh"),
            "--print-metrics",
        ])
        .output()
        .expect("deploy/check.sh runs");
    let contract = String::from_utf8_lossy(&contract.stdout);
    assert!(contract.lines().count() > 10, "contract list: {contract}");
    for name in contract.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(
            m.contains(&format!("# TYPE {name} ")),
            "contract metric {name} missing from /metrics"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn landing_page_and_json_api_link_to_user_reports() {
    let app = spawn_app(World::standard().data, Duration::from_secs(3600)).await;
    app.wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    let (code, html) = app.get("/").await;
    assert_eq!(code, 200);
    assert!(
        html.contains("href=\"/metrics\"") && html.contains("href=\"/users\""),
        "{html}"
    );
    let (_, json) = app.get("/api/v1/users").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let users = v["servers"][0]["users"].as_array().unwrap();
    assert_eq!(users[0]["user_id"], SHARER, "sorted by score");
    assert_eq!(
        users[0]["report_url"],
        "http://plex-sharing.example:9595/users/home/101"
    );
    let (code, one) = app.get("/api/v1/users/home/101").await;
    assert_eq!(code, 200);
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["concurrent_sessions"], 6);
    assert_eq!(one["ip_locations"]["82.2.2.2"], "London, United Kingdom");
    assert_eq!(app.get("/api/v1/users/home/999").await.0, 404);
    assert_eq!(app.get("/api/v1/users/nope/101").await.0, 404);
    for (_, body) in [
        app.get("/").await,
        app.get("/api/v1/users").await,
        app.get("/metrics").await,
    ] {
        assert!(!body.contains(KEY));
    }
}

/// Incremental refreshes while Tautulli records new plays (including plays that started
/// before the last refresh but were written after it, and a deleted row) end with exactly
/// the window a full reload gives.
#[tokio::test(flavor = "multi_thread")]
async fn incremental_refresh_equals_a_full_reload() {
    let w = World::standard();
    let (fake, url) = spawn_fake(w.data.clone(), "America/New_York").await;
    let client = client_for(&url);
    let locator = Locator::new(vec![], CacheOptions::default());
    let mut opts = options(Duration::from_secs(60));
    opts.full_reload = Duration::from_secs(365 * 86_400); // only tails after the first load
    let mut incremental = Refresher::new();
    let mut t = NOW - 3 * DAY;
    incremental.refresh("home", &client, &locator, &opts, t).await.unwrap();
    let mut row = 10_000;
    for step in 0..12 {
        t += 6 * 3600;
        fake.update(|d| {
            // A play that started 3 hours ago and was written now, a short one that just
            // ended, and (once) a row deleted from Tautulli's history.
            for (started, play) in [(t - 3 * 3600, 7200), (t - 900, 600)] {
                row += 1;
                let mut r = d.history[0].clone();
                r["row_id"] = row.into();
                r["id"] = row.into();
                r["started"] = started.into();
                r["stopped"] = (started + play).into();
                r["play_duration"] = play.into();
                r["machine_id"] = format!("dev-{}", step % 3).into();
                d.history.push(r);
            }
            if step == 5 {
                let last = d.history.len() - 3;
                d.history.remove(last);
            }
        });
        let snap = incremental.refresh("home", &client, &locator, &opts, t).await.unwrap();
        assert!(snap.rows > 0);
    }
    let mut full = Refresher::new();
    let full_snap = full.refresh("home", &client, &locator, &opts, t).await.unwrap();
    let key = |r: &Refresher| -> Vec<(i64, i64, u32)> {
        r.window()
            .sessions()
            .iter()
            .map(|s| (s.row_id, s.started, s.play_seconds))
            .collect()
    };
    assert_eq!(key(&incremental), key(&full));
    let inc_snap = incremental.refresh("home", &client, &locator, &opts, t).await.unwrap();
    assert_eq!(inc_snap.findings, full_snap.findings);
    // And the tail refreshes really were incremental: one `after`-only history query each.
    let tails = fake
        .requests()
        .iter()
        .filter(|r| r.cmd == "get_history" && !r.params.contains_key("before"))
        .count();
    assert_eq!(tails, 13);
}

#[tokio::test(flavor = "multi_thread")]
async fn geoip_failures_are_cached_briefly_and_lookups_deduplicated() {
    use plex_sharing_exporter::geo::CacheOptions;
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let locator = Locator::new(
        vec![Provider::Tautulli(client_for(&url))],
        CacheOptions {
            failure_ttl: Duration::from_millis(400),
            ..CacheOptions::default()
        },
    );
    let ip: std::net::IpAddr = "81.1.1.1".parse().unwrap();
    // Eight concurrent lookups of one address: one request.
    let all = futures_util::future::join_all((0..8).map(|_| locator.locate(ip))).await;
    assert!(all
        .iter()
        .all(|p| p.as_ref().and_then(|p| p.city.clone()).as_deref() == Some("New York")));
    assert_eq!(fake.count("get_geoip_lookup"), 1);
    // A failing provider is asked once, then left alone until the failure TTL expires.
    fake.set_fault(Some(Fault::ServerError));
    let other: std::net::IpAddr = "82.2.2.2".parse().unwrap();
    assert!(locator.locate(other).await.is_none());
    assert!(locator.locate(other).await.is_none());
    assert_eq!(fake.count("get_geoip_lookup"), 2, "the failure is cached");
    let stats = locator.stats().snapshot();
    assert_eq!(stats.get(&("tautulli", "error")), Some(&1));
    fake.set_fault(None);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        locator.locate(other).await.and_then(|p| p.city.clone()).as_deref(),
        Some("London")
    );
    assert_eq!(fake.count("get_geoip_lookup"), 3, "retried after the failure TTL");
    // Private addresses never reach a provider.
    assert!(locator.locate("192.168.1.9".parse().unwrap()).await.is_none());
    assert_eq!(fake.count("get_geoip_lookup"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_scrapes_get_the_same_exposition_compressed() {
    let app = spawn_app(World::standard().data, Duration::from_secs(3600)).await;
    let plain = app
        .wait_for("first refresh", |m| m.contains("plex_sharing_up{server=\"home\"} 1"))
        .await;
    // reqwest without its gzip feature does not decompress: we see the raw bytes.
    let r = app
        .http
        .get(format!("{}/metrics", app.url))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let gz = r.bytes().await.unwrap();
    assert!(
        gz.len() * 4 < plain.len(),
        "{} compressed vs {} plain",
        gz.len(),
        plain.len()
    );
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    assert_eq!(text, plain, "cached rendering, same bytes");
}

/// On a busy server the incremental refresh reads newest first and stops at the first
/// page that reaches back past the overlap, instead of paging through the padded days.
#[tokio::test(flavor = "multi_thread")]
async fn a_tail_refresh_reads_one_page_on_a_busy_server() {
    let mut w = World::default();
    w.user(1, "busy", "Busy Server");
    for i in 0..600 {
        w.play(
            1,
            &format!("dev{}", i % 7),
            "Roku",
            "81.1.1.1",
            NOW - 2 * DAY + i * 250,
            200,
        );
    }
    let (fake, url) = spawn_fake(w.data, "UTC").await;
    let mut opts = ClientOptions::new(TautulliUrl::parse(&url).unwrap(), ApiKey::new(KEY));
    opts.page_size = 50;
    let client = Client::new(opts).unwrap();
    let locator = Locator::new(vec![], CacheOptions::default());
    let mut refresh = options(Duration::from_secs(60));
    refresh.overlap = Duration::from_secs(3600);
    let mut r = Refresher::new();
    r.refresh("home", &client, &locator, &refresh, NOW).await.unwrap();
    let before = fake.count("get_history");
    let snap = r.refresh("home", &client, &locator, &refresh, NOW + 60).await.unwrap();
    assert_eq!(
        fake.count("get_history") - before,
        1,
        "one page of 50 covers the last hour"
    );
    assert_eq!(snap.rows, 600);
    let tail = fake.requests().into_iter().rfind(|q| q.cmd == "get_history").unwrap();
    assert_eq!(tail.params.get("order_dir").map(String::as_str), Some("desc"));
}

/// A full load hands rows over a page at a time (so a big window is never held whole in
/// its decoded form), and still reports every day done and every row received.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_load_hands_rows_over_page_by_page() {
    let mut w = World::default();
    w.user(1, "busy", "Busy Server");
    for i in 0..600 {
        w.play(1, &format!("dev{}", i % 7), "Roku", "81.1.1.1", NOW - DAY + i * 100, 60);
    }
    let (_fake, url) = spawn_fake(w.data, "UTC").await;
    let mut opts = ClientOptions::new(TautulliUrl::parse(&url).unwrap(), ApiKey::new(KEY));
    opts.page_size = 50;
    let client = Client::new(opts).unwrap();
    let mut deliveries = Vec::new();
    let fetch = client
        .history_filtered(NOW - 2 * DAY, NOW, None, |rows, f| {
            deliveries.push((rows.len(), f.days_done))
        })
        .await
        .unwrap();
    let pages: Vec<usize> = deliveries.iter().map(|d| d.0).filter(|n| *n > 0).collect();
    assert_eq!(pages.iter().sum::<usize>(), 600);
    // The whole-window request, alone in flight, may bring what 4 pages would.
    assert!(pages[0] <= 4 * 50 && pages[1..].iter().all(|n| *n <= 50), "{pages:?}");
    assert!(pages.len() >= 8, "one delivery per page, not per range: {pages:?}");
    assert_eq!(fetch.days_done, fetch.days);
    assert_eq!(fetch.rows, 600);
    assert_eq!(deliveries.last().map(|d| d.1), Some(fetch.days));
}

/// A refresh shares the findings of users whose history did not change with the previous
/// snapshot (no second copy in memory, no second analysis) and analyses the others again.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_reuses_the_findings_of_users_whose_history_did_not_change() {
    let mut w = World::default();
    w.user(1, "quiet", "Quiet Viewer").user(2, "active", "Active Viewer");
    for i in 0..20 {
        w.play(1, "tv", "Roku", "81.1.1.1", NOW - 3 * DAY + i * 3600, 600);
        w.play(2, "tv", "Roku", "82.2.2.2", NOW - 3 * DAY + i * 3600, 600);
    }
    let (fake, url) = spawn_fake(w.data, "UTC").await;
    let client = Client::new(ClientOptions::new(TautulliUrl::parse(&url).unwrap(), ApiKey::new(KEY))).unwrap();
    let locator = Locator::new(vec![], CacheOptions::default());
    let refresh = options(Duration::from_secs(60));
    let mut r = Refresher::new();
    let first = r.refresh("home", &client, &locator, &refresh, NOW).await.unwrap();
    let second = r.refresh("home", &client, &locator, &refresh, NOW + 60).await.unwrap();
    let of = |s: &plex_sharing_exporter::snapshot::Snapshot, id: i64| {
        s.findings.iter().find(|f| f.user_id == id).unwrap().clone()
    };
    assert!(std::sync::Arc::ptr_eq(&of(&first, 1), &of(&second, 1)));
    assert!(std::sync::Arc::ptr_eq(&of(&first, 2), &of(&second, 2)));

    fake.update(|d| {
        let mut row = d.history.iter().find(|r| r["user_id"] == 2).unwrap().clone();
        row["row_id"] = 9_999.into();
        row["id"] = 9_999.into();
        row["started"] = (NOW + 60).into();
        row["stopped"] = (NOW + 660).into();
        row["machine_id"] = "phone".into();
        d.history.push(row);
    });
    let third = r.refresh("home", &client, &locator, &refresh, NOW + 900).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&of(&second, 1), &of(&third, 1)),
        "quiet user reused"
    );
    assert!(
        !std::sync::Arc::ptr_eq(&of(&second, 2), &of(&third, 2)),
        "active user analysed again"
    );
    assert_eq!((of(&third, 2).plays, of(&third, 2).devices), (21, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_with_a_geoip_cache_file_asks_no_provider_again() {
    let (fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let dir = TempDir::new("serve-geoip-cache");
    let cache = dir.0.join("geoip-cache.json");
    let args = ["--geo", "--geoip.cache-file", cache.to_str().unwrap()];
    let first = Exporter::start(&url, KEY, &args).await;
    first.wait_ready().await;
    let asked = fake.count("get_geoip_lookup");
    assert_eq!(asked, 4, "every public address once");
    // Written after the refresh that looked them up (killed, so no shutdown write).
    let mut written = false;
    for _ in 0..100 {
        written = std::fs::read_to_string(&cache).is_ok_and(|t| t.contains("81.1.1.1"));
        if written {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(written, "the cache file is written after the first refresh");
    first.stop().await;

    let second = Exporter::start(&url, KEY, &args).await;
    second.wait_ready().await;
    assert_eq!(fake.count("get_geoip_lookup"), asked, "nothing asked after the restart");
    let (_, m) = second.get("/metrics").await;
    assert!(
        m.contains(r#"plex_sharing_geoip_lookups_total{provider="cache",outcome="hit"} 4"#),
        "{m}"
    );
    let (_, user) = second.get(&format!("/api/v1/users/home/{SHARER}")).await;
    assert!(user.contains("New York"), "{user}");
}

/// `geoip_cache_file` in the configuration file is the same cache as the flag: a start
/// from the file reuses what a start with the flag wrote.
#[tokio::test(flavor = "multi_thread")]
async fn the_configuration_file_names_the_geoip_cache_file_too() {
    let (fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let dir = TempDir::new("serve-geoip-cache-cfg");
    let cache = dir.0.join("geoip-cache.json");
    let first = Exporter::start(&url, KEY, &["--geo", "--geoip.cache-file", cache.to_str().unwrap()]).await;
    first.wait_ready().await;
    for _ in 0..100 {
        if std::fs::read_to_string(&cache).is_ok_and(|t| t.contains("81.1.1.1")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.stop().await;
    let asked = fake.count("get_geoip_lookup");
    assert_eq!(asked, 4);

    let cfg = dir.0.join("servers.yml");
    std::fs::write(
        &cfg,
        format!(
            "servers:\n  - name: home\n    url: {url}\n    api_key: {KEY}\ngeoip_cache_file: {}\n",
            cache.display()
        ),
    )
    .unwrap();
    let second = Exporter::spawn(&["--config.file", cfg.to_str().unwrap(), "--geo"], &[]).await;
    second.wait_ready().await;
    assert_eq!(
        fake.count("get_geoip_lookup"),
        asked,
        "read from the file the config names"
    );
}

/// The users table and the live streams each cost Tautulli a request of its own (the users
/// table a pass over all its history, the activity a call to Plex), so a refresh reads them
/// beside the history, not before it: with the users table slow to answer, the history and
/// the activity are asked while it is still pending.
#[tokio::test(flavor = "multi_thread")]
async fn the_users_table_and_live_streams_are_read_beside_the_history() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    fake.set_fault(Some(Fault::Slow {
        cmd: "get_users_table",
        delay: Duration::from_secs(60),
    }));
    let exporter = Exporter::start(&url, KEY, &[]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while (fake.count("get_history") == 0 || fake.count("get_activity") == 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.count("get_users_table"), 1, "{:?}", fake.requests());
    assert!(fake.count("get_history") >= 1, "history waited for the users table");
    assert_eq!(fake.count("get_activity"), 1, "the activity waited for the users table");
    let ready = exporter
        .http
        .get(format!("{}/-/ready", exporter.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "ready before the users table answered");
}

/// The fake's history cost (`benches/read.sh` with `HISTORY_COST`) holds each `get_history`
/// answer for what it costs, one answer at a time as Tautulli's one interpreter does, and
/// the answer is still the dataset's.
#[tokio::test(flavor = "multi_thread")]
async fn the_fakes_history_cost_is_paid_one_answer_at_a_time() {
    let mut w = World::default();
    w.user(1, "alice", "Alice");
    let now = jiff::Timestamp::now().as_second();
    for i in 0..3 {
        w.play(1, "tv", "Roku", "81.1.1.1", now - 3600 * (i + 1), 600);
    }
    let (fake, url) = spawn_fake(w.data, "UTC").await;
    let cost = HistoryCost {
        per_request: Duration::from_millis(200),
        per_filtered_row: Duration::from_millis(20),
        per_returned_row: Duration::from_millis(30),
    };
    assert_eq!(cost.of(3, 1), Duration::from_millis(200 + 60 + 30));
    fake.set_history_cost(cost);
    let http = reqwest::Client::new();
    let ask = || async {
        let page = format!("{url}/api/v2?apikey={KEY}&cmd=get_history&grouping=0&start=0&length=1");
        let body = http.get(page).send().await.unwrap().bytes().await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        body["response"]["data"]["data"].as_array().map(Vec::len)
    };
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(ask(), ask());
    assert_eq!((a, b), (Some(1), Some(1)));
    assert!(
        started.elapsed() >= Duration::from_millis(2 * 290),
        "two answers of 290 ms each, one after the other: {:?}",
        started.elapsed()
    );
}

/// The fake's lookup delay (`benches/read.sh` with `FAKE=own LOOKUP_DELAY_MS`) holds each
/// `get_geoip_lookup` that long, as plex.tv answering across the internet does, and the
/// answer is still the dataset's.
#[tokio::test(flavor = "multi_thread")]
async fn the_fakes_lookup_delay_holds_each_geoip_lookup() {
    let mut w = World::default();
    w.geo("81.1.1.1", "New York", "United States", 40.7, -74.0);
    let (fake, url) = spawn_fake(w.data, "UTC").await;
    fake.set_lookup_delay(Duration::from_millis(300));
    let client = Client::new(ClientOptions::new(TautulliUrl::parse(&url).unwrap(), ApiKey::new(KEY))).unwrap();
    let started = std::time::Instant::now();
    let place = client.geoip_lookup("81.1.1.1".parse().unwrap()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(place.and_then(|p| p.city).as_deref(), Some("New York"));
}
