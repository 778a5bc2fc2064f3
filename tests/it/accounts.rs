//! The account view across servers, through the real binary and two simulated
//! Tautulli servers: one login used in Berlin on one server and in Tokyo on the other
//! at the same time is flagged across servers and on neither alone; an honest account
//! using both servers from one home is not; a server going down keeps its last
//! sessions in the account view, marked stale.

use std::sync::Arc;

use plex_sharing_exporter::simulator::{Dataset, FakeTautulli, Fault};
use serde_json::Value;

use crate::helpers::*;
use crate::serve::sample;

/// Logs in from Berlin on `4k` and from Tokyo on `hd`, the same evenings.
pub const SPLIT: i64 = 201;
/// Watches on both servers from one home.
pub const HONEST: i64 = 202;
/// On `4k` only.
pub const ONE_SERVER: i64 = 203;

/// The two servers' datasets. GeoIP answers come from the first (`4k`), as `--geo`
/// asks the first server's Tautulli.
pub fn two_server_worlds() -> (Dataset, Dataset) {
    let mut k4 = World::default();
    let mut hd = World::default();
    k4.user(SPLIT, "ann", "Ann")
        .user(HONEST, "hal", "Hal")
        .user(ONE_SERVER, "solo", "Solo");
    hd.user(SPLIT, "ann", "Ann").user(HONEST, "hal", "Hal");
    for d in 1..=5 {
        let evening = NOW - d * DAY + 8 * 3600;
        k4.play(SPLIT, "ann-tv", "Roku", "85.1.1.1", evening, 7200);
        hd.play(SPLIT, "ann-tablet", "Android", "126.1.1.1", evening + 600, 7200);
        k4.play(HONEST, "hal-tv", "Roku", "86.2.2.2", evening, 3600);
        hd.play(HONEST, "hal-phone", "iOS", "86.2.2.2", evening + 600, 3600);
        k4.play(ONE_SERVER, "solo-tv", "tvOS", "93.3.3.3", evening, 1800);
    }
    k4.geo("85.1.1.1", "Berlin", "Germany", 52.52, 13.405)
        .geo("126.1.1.1", "Tokyo", "Japan", 35.6762, 139.6503)
        .geo("86.2.2.2", "Hamburg", "Germany", 53.55, 9.99)
        .geo("93.3.3.3", "Paris", "France", 48.8566, 2.3522);
    (k4.data, hd.data)
}

/// Both fakes, and `serve` reading them from a configuration file with `extra` flags.
async fn start(extra: &[&str]) -> (Arc<FakeTautulli>, Arc<FakeTautulli>, Exporter, TempDir) {
    let (k4, hd) = two_server_worlds();
    let (fake_4k, url_4k) = spawn_fake(shift_to_now(k4), "UTC").await;
    let (fake_hd, url_hd) = spawn_fake(shift_to_now(hd), "UTC").await;
    let dir = TempDir::new("accounts");
    let cfg = dir.0.join("servers.yml");
    std::fs::write(
        &cfg,
        format!("servers:\n  - name: 4k\n    url: {url_4k}\n    api_key: {KEY}\n  - name: hd\n    url: {url_hd}\n    api_key: {KEY}\n"),
    )
    .unwrap();
    let mut args = vec![
        "--config.file",
        cfg.to_str().unwrap(),
        "--geo",
        "--tautulli-retries",
        "0",
    ];
    args.extend_from_slice(extra);
    let exp = Exporter::spawn(&args, &[]).await;
    (fake_4k, fake_hd, exp, dir)
}

fn user(server: &str, name: &str, id: i64, user: &str) -> String {
    format!("{name}{{server=\"{server}\",user_id=\"{id}\",user=\"{user}\"}}")
}

fn account(name: &str, id: i64, user: &str) -> String {
    format!("{name}{{user_id=\"{id}\",user=\"{user}\"}}")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_cities_one_per_server_are_flagged_across_servers_and_on_neither_alone() {
    let (_a, _b, exp, _dir) = start(&[]).await;
    exp.wait_ready().await;
    let m = exp
        .wait_for("the account view", |m| m.contains("plex_sharing_account_servers{"))
        .await;
    for server in ["4k", "hd"] {
        assert_eq!(
            sample(&m, &user(server, "plex_sharing_user_flagged", SPLIT, "Ann")),
            Some(0.0),
            "{server} alone sees one household:\n{m}"
        );
    }
    assert_eq!(
        sample(&m, &account("plex_sharing_account_flagged", SPLIT, "Ann")),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, &account("plex_sharing_account_servers", SPLIT, "Ann")),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &m,
            &account("plex_sharing_account_concurrent_device_pairs", SPLIT, "Ann")
        ),
        Some(1.0)
    );
    assert!(sample(&m, &account("plex_sharing_account_teleportations", SPLIT, "Ann")).unwrap_or(0.0) >= 1.0);
    assert_eq!(
        sample(&m, &account("plex_sharing_account_flagged", HONEST, "Hal")),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            &account("plex_sharing_account_concurrent_device_pairs", HONEST, "Hal")
        ),
        Some(0.0)
    );
    assert!(
        !m.contains("plex_sharing_account_score{user_id=\"203\""),
        "one server only: no account series"
    );
    assert!(m.contains("# HELP plex_sharing_account_score ") && m.contains("two or more servers"));

    // JSON: a user entry plus its servers, the flagged account first.
    let (code, body) = exp.get("/api/v1/accounts").await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let accounts = v["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{v}");
    assert_eq!(accounts[0]["user_id"], SPLIT);
    assert_eq!(accounts[0]["flagged"], true);
    assert_eq!(accounts[0]["servers"], serde_json::json!(["4k", "hd"]));
    assert_eq!(accounts[0]["stale_servers"], serde_json::json!([]));
    assert!(accounts[0]["report_url"].as_str().unwrap().ends_with("/accounts/201"));
    let (_, users) = exp.get("/api/v1/users").await;
    let users: Value = serde_json::from_str(&users).unwrap();
    let entry = &users["servers"][0]["users"][0];
    for key in entry.as_object().unwrap().keys() {
        assert!(
            accounts[0].get(key).is_some(),
            "account entry lacks the user field {key}"
        );
    }

    // One account: every overlap names a Berlin session on 4k and a Tokyo one on hd.
    let (code, body) = exp.get("/api/v1/accounts/201").await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["concurrent_sessions"], 5);
    let overlaps = v["overlaps"].as_array().unwrap();
    assert_eq!(overlaps.len(), 5);
    for o in overlaps {
        let side = |k: &str| v["row_origins"][o[k].as_i64().unwrap().to_string()]["server"].clone();
        assert_eq!(
            (side("first_row_id"), side("second_row_id")),
            ("4k".into(), "hd".into()),
            "{o}"
        );
    }
    assert_eq!(v["sessions"].as_array().unwrap().len(), 10);
    let (code, _) = exp.get("/api/v1/accounts/203").await;
    assert_eq!(code, 404);

    // Pages: the list, the account with the server of each session, the links.
    let (code, page) = exp.get("/accounts").await;
    assert_eq!(code, 200);
    assert!(page.contains("href=\"/accounts/201\"") && page.contains("href=\"/accounts/202\""));
    assert!(!page.contains("href=\"/accounts/203\""));
    let (code, page) = exp.get("/accounts/201").await;
    assert_eq!(code, 200);
    assert!(page.contains("Sessions by server"), "{page}");
    assert!(page.contains("<b>4k</b> · ann-tv player") && page.contains("<b>hd</b> · ann-tablet player"));
    assert!(page.contains("Berlin") && page.contains("Tokyo"));
    let (_, page) = exp.get("/users/hd/201").await;
    assert!(
        page.contains("href=\"/accounts/201\""),
        "a user page links to the account"
    );
    let (_, page) = exp.get("/users/4k/203").await;
    assert!(
        !page.contains("/accounts/203"),
        "one server only: no account to link to"
    );
    let (_, landing) = exp.get("/").await;
    assert!(landing.contains("href=\"/accounts\""));
    assert_eq!(exp.get("/accounts/203").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_going_down_keeps_the_accounts_last_sessions_marked_stale() {
    let (_a, fake_hd, exp, _dir) = start(&["--refresh-interval", "200ms"]).await;
    let flagged = account("plex_sharing_account_flagged", SPLIT, "Ann");
    exp.wait_for("the account view", |m| sample(m, &flagged) == Some(1.0))
        .await;
    fake_hd.set_fault(Some(Fault::ServerError));
    let m = exp
        .wait_for("hd down", |m| m.contains("plex_sharing_up{server=\"hd\"} 0"))
        .await;
    assert_eq!(sample(&m, &flagged), Some(1.0), "hd's last sessions still count:\n{m}");
    assert_eq!(
        sample(&m, &account("plex_sharing_account_servers", SPLIT, "Ann")),
        Some(2.0)
    );
    let (_, body) = exp.get("/api/v1/accounts").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["accounts"][0]["stale_servers"], serde_json::json!(["hd"]), "{v}");
    let (_, page) = exp.get("/accounts/201").await;
    assert!(page.contains("The last refresh of hd failed"), "{page}");
    fake_hd.set_fault(None);
    exp.wait_for("hd back", |m| m.contains("plex_sharing_up{server=\"hd\"} 1"))
        .await;
    let (_, body) = exp.get("/api/v1/accounts").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["accounts"][0]["stale_servers"], serde_json::json!([]), "{v}");
}

/// `report --config.file` over both servers, at NOW, UTC, with `extra` flags.
async fn report_servers(extra: &[&str]) -> Run {
    let (k4, hd) = two_server_worlds();
    let (_fake_4k, url_4k) = spawn_fake(k4, "UTC").await;
    let (_fake_hd, url_hd) = spawn_fake(hd, "UTC").await;
    let dir = TempDir::new("accounts-report");
    let cfg = dir.0.join("servers.yml");
    std::fs::write(
        &cfg,
        format!("servers:\n  - name: 4k\n    url: {url_4k}\n    api_key: {KEY}\n  - name: hd\n    url: {url_hd}\n    api_key: {KEY}\n"),
    )
    .unwrap();
    let now = NOW.to_string();
    let mut args = vec![
        "report",
        "--config.file",
        cfg.to_str().unwrap(),
        "--geo",
        "--now",
        &now,
        "--timezone",
        "UTC",
    ];
    args.extend_from_slice(extra);
    run(&args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn report_with_several_servers_prints_the_accounts_across_servers() {
    let r = report_servers(&[]).await;
    r.assert_no_key();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(out.contains("### Server 4k") && out.contains("### Server hd"), "{out}");
    // Neither server alone flags anyone; across servers Ann is flagged, Hal is not.
    assert_eq!(
        out.matches(plex_sharing_exporter::report::text::NOBODY_FLAGGED).count(),
        2,
        "{out}"
    );
    let across = out.split("ACROSS SERVERS").nth(1).expect("an across-servers section");
    assert!(
        across.contains("2 account(s) on two or more servers, 1 flagged"),
        "{across}"
    );
    assert!(across.contains("Ann  (user_id: 201)  [FLAGGED]") && across.contains("Servers: 4k, hd"));
    assert!(across.contains("Hal  (user_id: 202)\n"), "{across}");
    assert!(!across.contains("Solo"), "{across}");
    assert!(
        across.contains("4k · ann-tv player (Roku) · 85.1.1.1 (Berlin, Germany)  ||  hd · ann-tablet player (Android) · 126.1.1.1 (Tokyo, Japan)"),
        "{across}"
    );

    let r = report_servers(&["--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let servers: Vec<&str> = v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["server"].as_str().unwrap())
        .collect();
    assert_eq!(servers, ["4k", "hd"]);
    for s in v["servers"].as_array().unwrap() {
        assert!(
            s["users"].as_array().unwrap().iter().all(|u| u["flagged"] == false),
            "{s}"
        );
    }
    let accounts = v["accounts"].as_array().unwrap();
    let ids: Vec<i64> = accounts.iter().map(|a| a["user_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [SPLIT, HONEST]);
    assert_eq!(accounts[0]["flagged"], true);
    assert_eq!(accounts[0]["servers"], serde_json::json!(["4k", "hd"]));
    assert_eq!(accounts[0]["ip_locations"]["126.1.1.1"], "Tokyo, Japan");
    let o = &accounts[0]["overlaps"][0];
    let origin = |k: &str| &accounts[0]["row_origins"][o[k].as_i64().unwrap().to_string()];
    assert_eq!(
        (
            origin("first_row_id")["server"].as_str(),
            origin("second_row_id")["server"].as_str()
        ),
        (Some("4k"), Some("hd"))
    );
    assert_eq!(accounts[1]["flagged"], false);

    // --user narrows every server that knows the user; one that does not is skipped.
    let r = report_servers(&["--user", "solo", "--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["accounts"], serde_json::json!([]));
    let r = report_servers(&["--user", "nobody"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
}
