//! The drill-down reports (`/users`, `/users/{server}/{user_id}`) and their JSON,
//! `--web.mask-ips`, `--web.external-url` prefixes, and `--web.config.file` (basic auth,
//! bearer tokens, HTTPS), against an exporter running in-process.

use std::sync::Arc;
use std::time::Duration;

use plex_sharing_exporter::app;
use plex_sharing_exporter::config::WebArgs;
use plex_sharing_exporter::geo::{CacheOptions, Locator, Provider};
use plex_sharing_exporter::simulator::{Dataset, FakeTautulli};
use plex_sharing_exporter::snapshot::ServerState;
use serde_json::Value;

use crate::helpers::*;
use crate::serve::{client_for, options};

/// How to start the exporter.
pub struct Setup {
    /// `(server name, its data)`: each server gets its own fake Tautulli.
    pub servers: Vec<(&'static str, Dataset)>,
    /// `--web.external-url`.
    pub external_url: String,
    /// Text of `--web.config.file`, if any.
    pub web_config: Option<String>,
    /// Files written beside the web config (certificates).
    pub files: Vec<(&'static str, String)>,
    /// `--web.mask-ips`.
    pub mask_ips: bool,
    /// PEM of the CA to trust: talk HTTPS.
    pub https_ca: Option<String>,
}

impl Setup {
    /// The standard world on one server named `home`.
    pub fn standard() -> Setup {
        Setup {
            servers: vec![("home", World::standard().data)],
            external_url: "http://plex-sharing.example:9595".into(),
            web_config: None,
            files: Vec::new(),
            mask_ips: false,
            https_ca: None,
        }
    }
}

/// A running exporter; stops when dropped.
pub struct Site {
    /// `http(s)://127.0.0.1:port` plus the route prefix, and a client that trusts it.
    web: Scraper,
    /// URL of the first fake Tautulli.
    pub fake_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _fakes: Vec<Arc<FakeTautulli>>,
    _dir: TempDir,
}

impl std::ops::Deref for Site {
    type Target = Scraper;
    fn deref(&self) -> &Scraper {
        &self.web
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Site {
    pub async fn start(setup: Setup) -> Site {
        let dir = TempDir::new("site");
        let mut states = Vec::new();
        let mut fakes = Vec::new();
        for (name, data) in setup.servers {
            let (fake, url) = spawn_fake(shift_to_now(data), "UTC").await;
            states.push(Arc::new(ServerState::new(name, client_for(&url))));
            fakes.push((fake, url));
        }
        let locator = Locator::new(
            vec![Provider::Tautulli(states[0].client.clone())],
            CacheOptions::default(),
        );
        for (name, text) in &setup.files {
            std::fs::write(dir.0.join(name), text).unwrap();
        }
        let config_file = setup.web_config.map(|text| {
            let path = dir.0.join("web.yml");
            std::fs::write(&path, text).unwrap();
            path
        });
        let web = WebArgs {
            listen_address: "127.0.0.1:0".into(),
            telemetry_path: "/metrics".into(),
            external_url: Some(setup.external_url.clone()),
            web_config_file: config_file,
            mask_ips: setup.mask_ips,
            ..WebArgs::default()
        }
        .resolve()
        .expect("web settings");
        let prefix = web.route_prefix.clone();
        let listener = app::bind(&web).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app::serve_on(
            listener,
            states,
            locator,
            options(Duration::from_secs(3600)),
            web,
            async {
                let _ = rx.await;
            },
        ));
        let (scheme, http) = match &setup.https_ca {
            Some(pem) => (
                "https",
                reqwest::Client::builder()
                    .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
                    .build()
                    .unwrap(),
            ),
            None => ("http", reqwest::Client::new()),
        };
        let site = Site {
            web: Scraper::with_client(format!("{scheme}://{addr}{prefix}"), http, Duration::from_secs(10)),
            fake_url: fakes[0].1.clone(),
            stop: Some(tx),
            _fakes: fakes.into_iter().map(|(f, _)| f).collect(),
            _dir: dir,
        };
        // Every server has data (`/-/ready` is open even with auth).
        site.wait_ready().await;
        site
    }

    pub async fn json(&self, path: &str) -> Value {
        let (code, body) = self.get(path).await;
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}"))
    }
}

/// The text of `html` between `<h2 id="{id}"` and the next `<h2` (one report section).
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<h2 id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let rest = &html[start..];
    let end = rest[4..].find("<h2").map(|e| e + 4).unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sharers_page_has_the_three_reports_the_score_terms_and_the_pictures() {
    let site = Site::start(Setup::standard()).await;
    let (code, html) = site.get("/users/home/101").await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("<h1>Sam Sharer <span class=\"badge flag\">flagged</span></h1>"));

    // Why the score is 170 (the default evidence weights): each term with its count,
    // weight and points.
    let score = section(&html, "score");
    assert!(score.contains("Why the score is 170"), "{score}");
    for (term, count, weight, points) in [
        ("extra_devices", 1, 0, 0),
        ("concurrent_device_pairs", 1, 20, 20),
        ("concurrent_sessions", 6, 5, 30),
        ("extra_heavy_devices", 1, 0, 0),
        ("teleportations", 6, 20, 120),
        ("same_device_jumps", 0, 0, 0),
        ("extra_regular_networks", 0, 10, 0),
    ] {
        let row = score
            .split("<tr>")
            .find(|r| r.contains(&format!("<code>{term}</code>")))
            .unwrap_or_else(|| panic!("no row for {term}: {score}"));
        assert!(
            row.contains(&format!(
                r#"<td class="num">{count}</td><td class="num">× {weight}</td><td class="num">{points}</td>"#
            )),
            "{term}: {row}"
        );
    }
    assert!(score.contains(r#"<td class="num">170</td>"#));

    // The timeline picture: an overlaps lane plus one per device; 6 overlaps and the 12
    // sessions in them in red; the travel map.
    let picture = section(&html, "picture");
    assert!(picture.contains(r#"<svg class="timeline""#));
    assert_eq!(picture.matches(r#"class="lane""#).count(), 3);
    assert_eq!(picture.matches(r##"fill="#d62728""##).count(), 6 + 12);
    assert!(picture.contains("New York, United States"), "legend");

    // Report 1: the device breakdown with addresses and locations.
    let devices = section(&html, "devices");
    for text in [
        "Devices: 2 · Heavy devices: 2 · Concurrent sessions: 6 · Concurrent device pairs: 1 · Total plays: 12 · Total watch time: 12h 0m",
        "<code>sharer-tv</code>",
        "<code>sharer-phone</code>",
        r#"81.1.1.1 <span class="muted">(New York, United States)</span>"#,
        r#"82.2.2.2 <span class="muted">(London, United Kingdom)</span>"#,
    ] {
        assert!(devices.contains(text), "{text} missing: {devices}");
    }
    // Teleportation events: from → to, distance, time, speed, devices, and the map.
    let jumps = section(&html, "teleportations");
    assert!(jumps.contains("Teleportation events (6)"));
    assert!(jumps.contains(r#"<svg class="map""#));
    assert_eq!(jumps.matches(" km/h</td>").count(), 6);
    assert!(jumps.contains("Roku → iOS") || jumps.contains("iOS → Roku"));
    // Report 2: the concurrent-session timeline, 12 sessions in 6 pairs.
    let timeline = section(&html, "timeline");
    assert!(timeline.contains("12 session(s) in 6 overlapping pair(s)"));
    assert_eq!(timeline.matches(r#"<tr class="date">"#).count(), 6);
    // Report 3: IP usage by watch time.
    let ips = section(&html, "ips");
    assert!(ips.contains("Total: 12 plays, 12h 0m watch time, 2 unique IP(s)"));
    assert_eq!(ips.matches(r#"<td class="num">50%</td>"#).count(), 2);
}

/// The standard world plus Vic, whose one laptop is in Toronto, then 10 minutes later in
/// Sydney, on three evenings (a VPN switching exits): 3 same-device jumps, none between
/// evenings (Sydney to the next Toronto evening is 15 560 km in 22.8 h, 682 km/h).
fn world_with_a_vpn_user() -> World {
    let mut w = World::standard();
    w.user(VPN_USER, "vic", "Vic Vpn");
    for d in 1..=3 {
        let evening = NOW - d * DAY + 8 * 3600;
        w.play(VPN_USER, "vic-laptop", "Windows", "85.5.5.5", evening, 1800);
        w.play(
            VPN_USER,
            "vic-laptop",
            "Windows",
            "86.6.6.6",
            evening + 1800 + 600,
            1800,
        );
    }
    w.geo("85.5.5.5", "Toronto", "Canada", 43.6532, -79.3832).geo(
        "86.6.6.6",
        "Sydney",
        "Australia",
        -33.8688,
        151.2093,
    );
    w
}

const VPN_USER: i64 = 105;

#[tokio::test(flavor = "multi_thread")]
async fn same_device_jumps_have_their_own_section_column_json_field_and_gauge() {
    let site = Site::start(Setup {
        servers: vec![("home", world_with_a_vpn_user().data)],
        ..Setup::standard()
    })
    .await;
    let (code, html) = site.get("/users/home/105").await;
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains(r#"<span class="badge ok">not flagged</span>"#),
        "visible, not accused"
    );
    let vpn = section(&html, "same-device-jumps");
    assert!(
        vpn.contains("One device, far-apart places minutes apart: likely a VPN or proxy (3)"),
        "{vpn}"
    );
    assert_eq!(vpn.matches(" km/h</td>").count(), 3, "{vpn}");
    for text in ["Toronto", "Sydney", "85.5.5.5", "86.6.6.6", "vic-laptop", "0.2 h"] {
        assert!(vpn.contains(text), "{text} missing: {vpn}");
    }
    let teleports = section(&html, "teleportations");
    assert!(
        teleports.contains("Teleportation events (0)") && teleports.contains("None detected."),
        "{teleports}"
    );
    let (_, sharer) = site.get("/users/home/101").await;
    assert!(
        !sharer.contains(r#"id="same-device-jumps""#),
        "no section without such jumps"
    );

    // The /users column: teleports 0, same-device jumps 3, then the live column.
    let (_, users) = site.get("/users").await;
    assert!(users.contains(r#"title="one device, far-apart places minutes apart: likely a VPN or proxy""#));
    let row = users
        .split("<tr>")
        .find(|r| r.contains("Vic Vpn"))
        .unwrap_or_else(|| panic!("no row for Vic: {users}"));
    assert!(
        row.contains(r#"<td class="num">0</td><td class="num">3</td><td class="num">—</td>"#),
        "{row}"
    );

    let v = site.json("/api/v1/users").await;
    let field = |id: i64| {
        v["servers"][0]["users"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["user_id"] == id))
            .map(|u| (u["same_device_jumps"].clone(), u["teleportations"].clone()))
    };
    assert_eq!(field(VPN_USER), Some((3.into(), 0.into())));
    assert_eq!(field(SHARER), Some((0.into(), 6.into())));
    let one = site.json("/api/v1/users/home/105").await;
    let jumps = one["jumps"].as_array().expect("jumps");
    assert_eq!(jumps.len(), 3);
    assert!(jumps.iter().all(|j| j["same_device"] == true), "{jumps:?}");

    let m = site.metrics().await;
    assert!(
        m.contains(r#"plex_sharing_user_same_device_jumps{server="home",user_id="105",user="Vic Vpn"} 3"#),
        "{m}"
    );
    assert!(m.contains(r#"plex_sharing_user_teleportations{server="home",user_id="105",user="Vic Vpn"} 0"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn overlaps_show_both_sides_their_distance_and_whether_they_are_nearby() {
    // One home in Boston on two addresses no device shares (TV and phone), overlapping
    // on four evenings; a laptop on an address GeoIP places only in a country overlaps
    // the TV once.
    let mut w = World::default();
    w.user(301, "boston", "Boston Home");
    for d in 1..=4 {
        let evening = NOW - d * DAY + 8 * 3600;
        w.play(301, "home-tv", "Roku", "81.5.5.5", evening, 3600);
        w.play(301, "home-phone", "iOS", "81.6.6.6", evening + 600, 1800);
    }
    w.play(301, "laptop", "Windows", "83.7.7.7", NOW - DAY + 8 * 3600 + 2400, 1800);
    w.geo("81.5.5.5", "Boston", "United States", 42.36, -71.06)
        .geo("81.6.6.6", "Boston", "United States", 42.36, -71.06)
        .geo("83.7.7.7", "", "United States", 37.09, -95.71);
    let site = Site::start(Setup {
        servers: vec![("home", w.data)],
        ..Setup::standard()
    })
    .await;
    let (code, html) = site.get("/users/home/301").await;
    assert_eq!(code, 200, "{html}");
    let timeline = section(&html, "timeline");
    for text in [
        "2 session(s) in 1 overlapping pair(s).",
        "4 more pair(s) are nearby",
        "The 5 overlapping pair(s)",
        r#"0 km <span class="badge ok""#,
        "distance unknown<br><span class=\"muted\">located to a country only</span>",
        r#"<code>home-phone</code> iOS · home-phone player<br>"#,
        r#"81.6.6.6 <span class="muted">(Boston, United States)</span>"#,
        r#"83.7.7.7 <span class="muted">(United States)</span>"#,
    ] {
        assert!(timeline.contains(text), "{text} missing: {timeline}");
    }
    assert_eq!(timeline.matches(">nearby</span>").count(), 4);
    let api = site.json("/api/v1/users/home/301").await;
    assert_eq!(
        (
            api["concurrent_sessions"].as_u64(),
            api["nearby_concurrent_sessions"].as_u64()
        ),
        (Some(1), Some(4))
    );
    let (_, m) = site.get("/metrics").await;
    assert!(
        m.contains(r#"plex_sharing_user_nearby_concurrent_sessions{server="home",user_id="301",user="Boston Home"} 4"#),
        "{m}"
    );
    let overlaps = api["overlaps"].as_array().expect("overlaps");
    let far = overlaps
        .iter()
        .find(|o| o["nearby"] == false)
        .expect("the laptop's overlap");
    assert_eq!(
        (&far["distance_km"], &far["distance_unknown"]),
        (&Value::Null, &Value::from("country_level"))
    );
    let near = overlaps.iter().find(|o| o["nearby"] == true).expect("a nearby overlap");
    assert_eq!(near["distance_km"], 0.0);
    assert_eq!(
        (&near["first_place"], &near["second_place"]),
        (
            &Value::from("Boston, United States"),
            &Value::from("Boston, United States")
        )
    );
    assert_eq!(
        (&near["first_platform"], &near["second_platform"]),
        (&Value::from("Roku"), &Value::from("iOS"))
    );
    assert!(near["second_ended"].as_i64() > near["second_started"].as_i64());
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_sorted_by_score_across_servers_and_filtered_by_server() {
    let mut cabin = World::default();
    cabin.user(201, "guest", "Cabin Guest");
    for (i, dev) in ["a", "b", "c"].iter().enumerate() {
        // Three devices, one play each, hours apart: context only, score 0.
        cabin.play(201, dev, "Roku", "95.5.5.5", NOW - DAY + i as i64 * 7200, 600);
    }
    let mut setup = Setup::standard();
    setup.servers.push(("cabin", cabin.data));
    let site = Site::start(setup).await;

    let (code, html) = site.get("/users").await;
    assert_eq!(code, 200);
    let pos = |name: &str| {
        html.find(&format!(">{name}</a>"))
            .unwrap_or_else(|| panic!("{name} missing: {html}"))
    };
    assert!(pos("Sam Sharer") < pos("Cabin Guest"), "170 before 0");
    // Equal scores (devices alone score nothing) are in name order across servers.
    assert!(pos("Cabin Guest") < pos("Solo Viewer"), "equal scores by name");
    assert!(pos("Solo Viewer") < pos("The Family"), "equal scores by name");
    assert!(html.contains(r#"href="/users/home/101""#));
    assert!(html.contains(r#"href="/users/cabin/201""#));

    let (code, only) = site.get("/users?server=cabin").await;
    assert_eq!(code, 200);
    assert!(only.contains(">Cabin Guest</a>") && !only.contains("Sam Sharer"));
    assert!(only.contains(r#"<option value="cabin" selected>"#));
    let (code, all) = site.get("/users?server=").await;
    assert_eq!(code, 200);
    assert!(all.contains("Sam Sharer") && all.contains("Cabin Guest"));
    assert_eq!(site.get("/users?server=nope").await.0, 404);

    let v = site.json("/api/v1/users?server=cabin").await;
    let servers = v["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0]["server"], "cabin");
    assert_eq!(servers[0]["users"][0]["user"], "Cabin Guest");
    assert_eq!(servers[0]["users"][0]["devices"], 3);
    assert_eq!(site.get("/api/v1/users?server=nope").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_from_tautulli_are_escaped_on_every_page() {
    let site = Site::start(Setup::standard()).await;
    for path in ["/", "/users", "/users/home/104"] {
        let (code, html) = site.get(path).await;
        assert_eq!(code, 200, "{path}");
        if path != "/" {
            assert!(
                html.contains("Zoë &amp; &quot;Friends&quot; &lt;test&gt;"),
                "{path}: {html}"
            );
        }
        assert!(!html.contains("<test>"), "{path} has the raw name");
        assert!(!html.contains("\"Friends\""), "{path} has raw quotes");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bidirectional_overrides_in_names_do_not_reach_the_html() {
    let mut world = World::standard();
    for u in &mut world.data.users {
        if u["user_id"] == ODD_NAME {
            u["friendly_name"] = "Alex \u{202e}4202 yrtne\u{202c} Admin".into();
        }
    }
    for row in &mut world.data.history {
        if row["user_id"] == ODD_NAME {
            row["platform"] = "LG\u{2067}TV\u{2069}\u{200f}".into();
        }
    }
    let mut setup = Setup::standard();
    setup.servers = vec![("home", world.data)];
    let site = Site::start(setup).await;
    for path in ["/users", "/users/home/104"] {
        let (code, html) = site.get(path).await;
        assert_eq!(code, 200, "{path}");
        let raw: Vec<char> = html
            .chars()
            .filter(|&c| plex_sharing_exporter::untrusted::is_bidi_control(c))
            .collect();
        assert!(raw.is_empty(), "{path} has raw bidirectional controls {raw:?}");
        assert!(html.contains("Alex \u{fffd}4202 yrtne\u{fffd} Admin"), "{path}: {html}");
    }
    let (_, html) = site.get("/users/home/104").await;
    assert!(html.contains("LG\u{fffd}TV\u{fffd}\u{fffd}"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_users_and_servers_are_404_in_html_and_json() {
    let site = Site::start(Setup::standard()).await;
    for path in [
        "/users/home/999",
        "/users/nope/101",
        "/users/home/abc",
        "/api/v1/users/home/999",
        "/api/v1/users/nope/101",
    ] {
        let (code, body) = site.get(path).await;
        assert_eq!(code, 404, "{path}: {body}");
    }
    let (_, html) = site.get("/users/nope/101").await;
    assert!(html.contains("There is no server named &quot;nope&quot;."));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_json_is_the_report_entry_plus_what_the_page_draws() {
    let site = Site::start(Setup::standard()).await;
    let api = site.json("/api/v1/users/home/101").await;
    // The data sit at the real clock (like the exporter's window), so no --now here.
    let r = run(&[
        "report",
        "--tautulli-url",
        &site.fake_url,
        "--tautulli-api-key",
        KEY,
        "--format",
        "json",
        "--geo",
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let entry = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == SHARER)
        .expect("sharer in the report");
    for (key, value) in entry.as_object().unwrap() {
        assert_eq!(&api[key], value, "{key} differs from `report --format json`");
    }
    assert_eq!(api["server"], "home");
    let sessions = api["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 12);
    assert!(sessions.iter().all(|s| s["concurrent"] == true));
    let first = &sessions[0];
    let device = first["device"].as_u64().unwrap() as usize;
    assert!(api["device_usage"][device]["machine_id"]
        .as_str()
        .unwrap()
        .starts_with("sharer-"));
    assert!(first["ended"].as_i64() > first["started"].as_i64());
}

#[tokio::test(flavor = "multi_thread")]
async fn masked_reports_show_no_whole_address() {
    let mut setup = Setup::standard();
    setup.mask_ips = true;
    let site = Site::start(setup).await;
    let (_, html) = site.get("/users/home/101").await;
    let json = site.get("/api/v1/users/home/101").await.1;
    for body in [&html, &json] {
        for ip in ["81.1.1.1", "82.2.2.2"] {
            assert!(!body.contains(ip), "{ip} shown while masked");
        }
    }
    assert!(html.contains(r#"81.1.x.x <span class="muted">(New York, United States)</span>"#));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ip_locations"]["82.2.x.x"], "London, United Kingdom");
    assert_eq!(v["ip_usage"][0]["network"].as_str().unwrap().matches('x').count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_live_under_the_external_urls_path() {
    let mut setup = Setup::standard();
    setup.external_url = "https://proxy.example/plex-sharing/".into();
    let site = Site::start(setup).await;
    assert!(site.url.ends_with("/plex-sharing"));
    let (code, html) = site.get("/users").await;
    assert_eq!(code, 200);
    assert!(html.contains(r#"href="/plex-sharing/users/home/101""#));
    assert!(html.contains(r#"action="/plex-sharing/users""#));
    for root in ["", "/"] {
        let (code, landing) = site.get(root).await;
        assert_eq!(code, 200, "{root:?}");
        assert!(landing.contains(r#"href="/plex-sharing/users""#));
        assert!(
            landing.contains(r#"href="/plex-sharing/runbook""#),
            "the landing page links the runbook"
        );
    }
    let (code, runbook) = site.get("/runbook").await;
    assert_eq!(code, 200, "the linked runbook opens under the prefix");
    assert!(runbook.contains("PlexSharingHighScore"));
    let v = site.json("/api/v1/users").await;
    assert_eq!(
        v["servers"][0]["users"][0]["report_url"], "https://proxy.example/plex-sharing/users/home/101",
        "links for Grafana and alerts are absolute"
    );
}

fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn auth_config() -> String {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    format!(
        "basic_auth_users:\n  alice: '{hash}'\nbearer_tokens:\n  grafana: sha256:{}\n",
        sha256_hex("tok-123")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_required_everywhere_but_health_and_readiness() {
    let mut setup = Setup::standard();
    setup.web_config = Some(auth_config());
    let site = Site::start(setup).await;
    let get = |path: &'static str, auth: Option<(&'static str, &'static str)>, token: Option<&'static str>| {
        let mut r = site.http.get(format!("{}{path}", site.url));
        if let Some((u, p)) = auth {
            r = r.basic_auth(u, Some(p));
        }
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.unwrap() }
    };
    for path in ["/", "/metrics", "/users", "/users/home/101", "/api/v1/users"] {
        let r = get(path, None, None).await;
        assert_eq!(r.status(), 401, "{path} without credentials");
        let challenges: Vec<_> = r
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert!(challenges.iter().any(|c| c.starts_with("Basic ")), "{challenges:?}");
        assert!(!r.text().await.unwrap().contains("Sam Sharer"));
        assert_eq!(get(path, Some(("alice", "wrong")), None).await.status(), 401);
        assert_eq!(get(path, Some(("mallory", "s3cret")), None).await.status(), 401);
        assert_eq!(get(path, None, Some("tok-124")).await.status(), 401);
        assert_eq!(get(path, Some(("alice", "s3cret")), None).await.status(), 200, "{path}");
        assert_eq!(get(path, None, Some("tok-123")).await.status(), 200, "{path}");
    }
    assert_eq!(get("/-/healthy", None, None).await.status(), 200);
    assert_eq!(get("/-/ready", None, None).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_serves_the_pages_and_metrics_with_the_configured_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let ca = cert.cert.pem();
    let mut setup = Setup::standard();
    setup.files = vec![
        ("server.crt", ca.clone()),
        ("server.key", cert.signing_key.serialize_pem()),
    ];
    setup.web_config = Some(format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n{}",
        auth_config()
    ));
    setup.https_ca = Some(ca);
    let site = Site::start(setup).await;
    assert!(site.url.starts_with("https://"));
    let r = site
        .http
        .get(format!("{}/metrics", site.url))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("plex_sharing_up{server=\"home\"} 1"));
    let r = site
        .http
        .get(format!("{}/users/home/101", site.url))
        .bearer_auth("tok-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Sam Sharer"));
    // Plain HTTP on the TLS port gets no page.
    let plain = site.url.replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .get(format!("{plain}/-/healthy"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(r.is_err() || r.is_ok_and(|r| r.status() != 200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_web_config_file_exits_2_naming_the_flag_and_the_key() {
    let dir = TempDir::new("badweb");
    let path = dir.0.join("web.yml");
    std::fs::write(&path, "basic_auth_users: {}\nclient_ca_file: ca.crt\n").unwrap();
    let r = run(&["demo", "--web.config.file", path.to_str().unwrap()]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--web.config.file") && r.stderr.contains("client_ca_file"),
        "{}",
        r.stderr
    );
}
