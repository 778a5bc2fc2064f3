//! `report` end to end: the real binary against a fake Tautulli.

use plex_sharing_exporter::simulator::Fault;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn text_report_flags_the_sharer_with_the_reference_numbers() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--scoring", "reference"]).await;
    r.assert_no_key();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("DEVICE BREAKDOWN  —  2 user(s) flagged"),
        "{}",
        r.stdout
    );
    // (2-1)*10 + 1*25 + 6*2 + (2-1)*15 = 62
    assert!(
        r.stdout.contains(
            "  Score: 62  |  Devices: 2  |  Heavy devices: 2  |  Concurrent sessions: 6  |  Concurrent device pairs: 1"
        ),
        "{}",
        r.stdout
    );
    // The LAN family is one household: no concurrent sessions, but the reference weights
    // still give (3-1)*10 + (3-1)*15 = 50 (the flaw issue 6 fixes).
    assert!(
        r.stdout
            .contains("  Score: 50  |  Devices: 3  |  Heavy devices: 3  |  Concurrent sessions: 0"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Solo Viewer"));
    // Sharer first (higher score), then the family.
    assert!(r.stdout.find("Sam Sharer").unwrap() < r.stdout.find("The Family").unwrap());
    assert!(
        r.stdout
            .contains("    Roku             sharer-tv player              6       6h 0m  81.1.1.1"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_report_has_the_documented_schema_and_numbers() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--format", "json", "--scoring", "reference"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    for key in ["generated_at", "window", "users", "scoring", "source"] {
        assert!(doc.get(key).is_some(), "missing {key}");
    }
    assert_eq!(doc["window"]["end"], NOW);
    assert_eq!(doc["window"]["start"], NOW - 30 * DAY);
    let s = report_user(&doc, SHARER);
    for key in [
        "user_id",
        "user",
        "score",
        "flagged",
        "devices",
        "heavy_devices",
        "concurrent_sessions",
        "concurrent_device_pairs",
        "teleportations",
        "plays",
        "watch_time_seconds",
        "device_usage",
        "timeline",
        "ip_usage",
        "jumps",
        "overlaps",
        "score_terms",
    ] {
        assert!(s.get(key).is_some(), "sharer lacks {key}: {s}");
    }
    assert_eq!(s["user"], "Sam Sharer");
    assert_eq!(s["score"], 62.0);
    assert_eq!(s["flagged"], true);
    assert_eq!(s["plays"], 12);
    assert_eq!(s["watch_time_seconds"], 12 * 3600);
    assert_eq!(s["concurrent_sessions"], 6);
    assert_eq!(s["timeline"].as_array().unwrap().len(), 12);
    assert_eq!(s["overlaps"][0]["seconds"], 1800);
    let solo = report_user(&doc, SOLO);
    assert_eq!(
        (solo["score"].as_f64(), solo["flagged"].as_bool()),
        (Some(0.0), Some(false))
    );
    assert_eq!(report_user(&doc, ODD_NAME)["user"], "Zoë & \"Friends\" <test>");
    // Users are sorted by score.
    let scores: Vec<f64> = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn history_is_read_raw_in_day_ranges_and_never_with_length_minus_one() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--days", "7"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hist: Vec<_> = history_requests(&fake);
    let mut ranges = Vec::new();
    for q in &hist {
        assert_eq!(q.params.get("grouping").map(String::as_str), Some("0"));
        assert_eq!(q.params.get("include_activity").map(String::as_str), Some("0"));
        assert_ne!(q.params.get("length").map(String::as_str), Some("-1"));
        let date = |k: &str| jiff::civil::Date::strptime("%Y-%m-%d", &q.params[k]).unwrap();
        assert!(date("after") <= date("before"));
        ranges.push((date("after"), date("before")));
    }
    // 7 days of window span 8 UTC dates, plus one day of padding on each side: 10 dates,
    // each in exactly one range. The window fits in a page: one request for all of it.
    ranges.sort();
    let first = utc_date(NOW - 7 * 86_400);
    assert_eq!(ranges[0].0, first.yesterday().unwrap());
    for w in ranges.windows(2) {
        assert_eq!(w[0].1.tomorrow().unwrap(), w[1].0, "contiguous, no overlap: {ranges:?}");
    }
    let days: i32 = ranges.iter().map(|(a, b)| (*b - *a).get_days() + 1).sum();
    assert_eq!(days, 10, "{ranges:?}");
    assert_eq!(hist.len(), 1, "a window that fits in a page is one request");
    assert_eq!(fake.count("get_users_table"), 1);
    assert_eq!(fake.count("get_geoip_lookup"), 0, "no geo lookups without --geo");
}

#[tokio::test(flavor = "multi_thread")]
async fn row_1001_of_a_user_is_not_lost() {
    let mut w = World::default();
    w.user(7, "binge", "Binge Watcher");
    for i in 0..1500 {
        w.play(7, "tv", "Roku", "81.1.1.1", NOW - 20 * DAY + i * 600, 300);
    }
    let (_fake, url) = spawn_fake(w.data, "UTC").await;
    let r = report(&url, &["--format", "json", "--tautulli-page-size", "100"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report_user(&r.json(), 7)["plays"], 1500);
}

/// A window larger than a page: the first request brings what `--tautulli-concurrency` pages hold, oldest first;
/// ranges from the day that page reached bring the rest. Where they overlap the first
/// page, even inside a group of plays that started the same second, every row is kept
/// once and nothing is counted as a duplicate or a mismatch.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_larger_than_a_page_is_read_once_across_the_first_page_boundary() {
    let mut w = World::default();
    w.user(7, "busy", "Busy Household");
    // 50 start times, 5 plays each on 5 devices, 5 hours apart: 250 rows over 10 days.
    for i in 0..250 {
        let started = NOW - 12 * DAY + (i / 5) * 5 * 3600;
        w.play(7, &format!("tv{}", i % 5), "Roku", "81.1.1.1", started, 300);
    }
    let (fake, url) = spawn_fake(w.data, "UTC").await;
    // Alone in flight, the first request asks what two pages of 49 would hold: 98 rows,
    // which end inside a group of five plays that started together.
    let flags = [
        "--format",
        "json",
        "--tautulli-page-size",
        "49",
        "--tautulli-concurrency",
        "2",
    ];
    let r = report(&url, &flags).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(report_user(&doc, 7)["plays"], 250);
    assert_read_once(&doc, 250);
    let hist: Vec<_> = history_requests(&fake);
    let window = utc_date(NOW - 30 * DAY);
    assert_eq!(hist[0].params["after"], window.yesterday().unwrap().to_string());
    assert_eq!(hist[0].params["length"], "98");
    // Row 98 started on day 19 of the group times (97 / 5 = 19, 5 hours apart); the rest
    // starts the day before that start's UTC date, the earliest server-local date it has.
    let reached = utc_date(NOW - 12 * DAY + 19 * 5 * 3600);
    // Ranges go out two at a time, so in either order: the earliest is where the rest starts.
    let rest = hist[1..].iter().map(|q| q.params["after"].clone()).min();
    assert_eq!(rest, Some(reached.yesterday().unwrap().to_string()));
    assert!(hist.len() <= 8, "{} requests for 250 rows in pages of 49", hist.len());
}

/// A server that ignores `order_column` and serves rows grouped by user, each user's
/// oldest first, loses no row of a window larger than a page, and counts none twice:
/// - when the first page holds one user, it looks oldest first; the rest falls short of
///   the window's count, so the days before it are read too, the page's rows dropped by id;
/// - when it holds two users, it is not oldest first, so the same query is paged on.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_ignores_the_order_loses_no_row_of_a_window_larger_than_a_page() {
    for (users, plays) in [(vec![7, 8], 120), (vec![7, 8, 9], 50)] {
        let mut w = World::default();
        for &user in &users {
            w.user(user, &format!("u{user}"), &format!("User {user}"));
            for i in 0..plays {
                w.play(user, "tv", "Roku", "81.1.1.1", NOW - 12 * DAY + i * 7200 + user, 300);
            }
        }
        let (fake, url) = spawn_fake(w.data, "UTC").await;
        fake.set_fault(Some(Fault::Unordered));
        let flags = [
            "--format",
            "json",
            "--tautulli-page-size",
            "100",
            "--tautulli-concurrency",
            "1",
        ];
        let r = report(&url, &flags).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let doc = r.json();
        for &user in &users {
            assert_eq!(report_user(&doc, user)["plays"], plays, "user {user}");
        }
        assert_read_once(&doc, users.len() as i64 * plays);
        let hist: Vec<_> = history_requests(&fake);
        let (first, second) = (&hist[0].params, &hist[1].params);
        if users.len() == 2 {
            assert_ne!(second["after"], first["after"], "the rest from where the page reached");
            assert!(
                hist[2..].iter().any(|q| q.params["after"] == first["after"]),
                "then the days before it"
            );
        } else {
            let same = |k: &str| second[k] == first[k];
            assert!(
                same("after") && same("before") && second["start"] == "100",
                "{second:?}"
            );
            assert_eq!(hist.len(), 2, "150 rows: one more page of the same query");
        }
    }
}

/// History answers are read row by row as they arrive: a page far larger than
/// `--tautulli-max-body` is read whole, while one row larger than it fails the read with
/// reason `too_large` (as a larger non-history answer does).
#[tokio::test(flavor = "multi_thread")]
async fn the_body_cap_bounds_one_history_row_not_the_page() {
    let mut w = World::default();
    w.user(7, "long", "Long Titles");
    for i in 0..60 {
        w.play(7, "tv", "Roku", "81.1.1.1", NOW - 5 * DAY + i * 3600, 300);
    }
    for row in &mut w.data.history {
        row["full_title"] = "x".repeat(3000).into();
    }
    let (fake, url) = spawn_fake(w.data.clone(), "UTC").await;
    // 60 rows of about 3.5 KB: an answer of some 200 KB, in one request, under a 16 KiB cap.
    let flags = ["--format", "json", "--tautulli-max-body", "16KiB"];
    let r = report(&url, &flags).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report_user(&r.json(), 7)["plays"], 60);
    assert_eq!(fake.count("get_history"), 1);
    // One row past the cap.
    w.data.history[30]["full_title"] = "x".repeat(20_000).into();
    let (_fake, url) = spawn_fake(w.data, "UTC").await;
    let r = report(&url, &flags).await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("larger than 16384 bytes"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_501_and_beyond_are_not_lost() {
    let mut w = World::default();
    for id in 1..=1100 {
        w.user(id, &format!("u{id}"), &format!("User {id}"));
    }
    w.play(1100, "tv", "Roku", "81.1.1.1", NOW - DAY, 3600).play(
        1100,
        "phone",
        "iOS",
        "82.2.2.2",
        NOW - DAY + 60,
        3600,
    );
    let (fake, url) = spawn_fake(w.data, "UTC").await;
    let r = report(&url, &["--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let last = report_user(&doc, 1100);
    assert_eq!(last["user"], "User 1100");
    assert_eq!(last["concurrent_sessions"], 1);
    assert_eq!(fake.count("get_users_table"), 2, "1100 users take two pages of 1000");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_is_cut_by_epoch_seconds_whatever_the_server_time_zone() {
    for tz in ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"] {
        let mut w = World::default();
        w.user(1, "edge", "Edge");
        let since = NOW - 2 * DAY;
        w.play(1, "a", "Roku", "81.1.1.1", since - 60, 30) // just outside
            .play(1, "b", "Roku", "81.1.1.1", since + 60, 30) // just inside
            .play(1, "c", "Roku", "81.1.1.1", NOW - 60, 30); // just before now
        let (_fake, url) = spawn_fake(w.data, tz).await;
        let r = report(&url, &["--format", "json", "--days", "2"]).await;
        assert_eq!(r.code, 0, "{tz}: {}", r.stderr);
        assert_eq!(report_user(&r.json(), 1)["plays"], 2, "server time zone {tz}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn geoip_db_finds_the_teleports_of_simultaneous_cities() {
    let dir = TempDir::new("geoip2");
    let db = dir.0.join("city.mmdb");
    write_geoip2_city(&db);
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(
        &url,
        &[
            "--format",
            "json",
            "--scoring",
            "reference",
            "--geoip-db",
            db.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let s = report_user(&doc, SHARER);
    // One jump per evening (the two sessions are one pair however their events interleave).
    assert_eq!(s["teleportations"], 6);
    assert_eq!(s["score"], 62.0 + 6.0 * 30.0);
    assert_eq!(s["ip_locations"]["81.1.1.1"], "New York, New York, United States");
    assert_eq!(report_user(&doc, FAMILY)["ip_locations"]["192.168.1.10"], "LAN");
    let j = &s["jumps"][0];
    assert!(j["speed_kmh"].as_f64().unwrap() > 900.0);
    assert_eq!(
        fake.count("get_geoip_lookup"),
        0,
        "a local database needs no Tautulli lookups"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dbip_flat_layout_databases_work_too() {
    let dir = TempDir::new("dbip");
    let db = dir.0.join("dbip.mmdb");
    write_dbip_flat(&db);
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--geoip-db", db.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("TELEPORTATION DETECTED  (6 event(s)):"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("81.1.1.1 (New York, New York, US)"), "{}", r.stdout);
    assert!(r.stdout.contains("Devices: Roku -> iOS"), "{}", r.stdout);
}

/// `--asn-db` names the operator beside every located address: in the JSON's
/// `ip_usage`, its `ip_locations`, both ends of each jump, and the text `--top-ips`.
#[tokio::test(flavor = "multi_thread")]
async fn an_asn_database_names_the_operator_wherever_an_address_is_shown() {
    let dir = TempDir::new("asn");
    let (city, asn) = (dir.0.join("city.mmdb"), dir.0.join("asn.mmdb"));
    write_geoip2_city(&city);
    write_asn_db(&asn);
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let dbs = ["--geoip-db", city.to_str().unwrap(), "--asn-db", asn.to_str().unwrap()];
    let r = report(&url, &[&dbs[..], &["--format", "json"]].concat()).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let s = report_user(&doc, SHARER);
    let ny = s["ip_usage"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["ip"] == "81.1.1.1"))
        .expect("the sharer's New York address");
    assert_eq!(ny["asn"], 7922);
    assert_eq!(ny["as_organization"], "Comcast Cable Communications, LLC");
    assert_eq!(
        s["ip_locations"]["81.1.1.1"],
        "New York, New York, United States · AS7922 Comcast Cable Communications, LLC"
    );
    let j = &s["jumps"][0];
    let operators = [&j["from"]["place"]["asn"]["number"], &j["to"]["place"]["asn"]["number"]];
    assert!(operators.contains(&&serde_json::json!(7922)), "{j}");
    assert!(operators.contains(&&serde_json::json!(5089)), "{j}");
    // Paris is in the city database but not the ASN one: located, no operator.
    let paris = doc["users"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|u| u["ip_usage"].as_array().into_iter().flatten())
        .find(|u| u["ip"] == "93.3.3.3")
        .expect("someone streams from Paris");
    assert!(paris.get("asn").is_none(), "{paris}");

    let r = report(&url, &[&dbs[..], &["--top-ips"]].concat()).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("82.2.2.2 (London, England, United Kingdom · AS5089 Virgin Media Limited)"),
        "{}",
        r.stdout
    );

    let r = report(&url, &["--asn-db", "/nonexistent/asn.mmdb"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--asn-db"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn geo_flag_uses_tautulli_lookup_once_per_public_address() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--geo", "--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report_user(&r.json(), SHARER)["teleportations"], 6);
    // Public addresses: 81.1.1.1, 82.2.2.2, 93.3.3.3, 94.4.4.4 (the last unknown to the table).
    assert_eq!(fake.count("get_geoip_lookup"), 4);
    assert_eq!(report_user(&r.json(), ODD_NAME)["ip_locations"]["94.4.4.4"], "Unknown");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeline_and_top_ips_print_the_reference_sections() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--timeline", "--top-ips", "--scoring", "reference"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let day = utc_date(NOW - DAY).to_string();
    assert!(r.stdout.contains(" SESSION TIMELINE  —  2 user(s) flagged"));
    assert!(
        r.stdout.contains(&format!(
            "    {day}\n      20:00-21:00    1h 0m  Roku           sharer-tv player     81.1.1.1\n"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("    (no concurrent sessions)"), "the family has none");
    assert!(r.stdout.contains(" IP USAGE BY USER  —  4 user(s)"));
    assert!(
        r.stdout
            .contains("    81.1.1.1                    6       6h 0m   50%  Roku"),
        "{}",
        r.stdout
    );
}

/// Escape sequences a sharer can put in the names Plex reports: OSC 52 (sets the
/// clipboard), clear screen, an 8-bit CSI, DEL, a newline and a right-to-left override.
const HOSTILE: &str = "\u{1b}]52;c;cm0gLXJmIH4K\u{7}\u{1b}[2J\u{9b}31m\u{7f}\n\u{202e}";

/// The standard world with [`HOSTILE`] in the sharer's name, device, player, platform
/// and titles, and in the GeoIP city and region of the sharer's TV.
fn hostile_world() -> World {
    let mut w = World::standard();
    for u in &mut w.data.users {
        if u["user_id"] == SHARER {
            u["friendly_name"] = format!("Sam{HOSTILE}Sharer").into();
        }
    }
    for row in &mut w.data.history {
        if row["user_id"] == SHARER {
            for key in ["machine_id", "player", "platform", "full_title", "title"] {
                let v = format!("{}{HOSTILE}", row[key].as_str().unwrap_or(""));
                row[key] = v.into();
            }
        }
    }
    w.data.geo.insert(
        "81.1.1.1".into(),
        plex_sharing_exporter::simulator::geo_row(
            &format!("New York{HOSTILE}"),
            &format!("NY{HOSTILE}"),
            "United States",
            "US",
            40.7128,
            -74.0060,
        ),
    );
    w
}

/// Fails unless `stdout` is free of every control character but the report's own line
/// breaks, and of bidirectional overrides.
fn assert_no_raw_controls(stdout: &str) {
    for seq in ["\u{1b}", "\u{7}", "\u{9b}", "\u{7f}", "\u{202e}", "\n\u{202e}"] {
        assert!(!stdout.contains(seq), "raw {seq:?} in:\n{stdout:?}");
    }
    let raw: Vec<char> = stdout.chars().filter(|&c| c != '\n' && c.is_control()).collect();
    assert!(raw.is_empty(), "raw controls {raw:?} in:\n{stdout:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn names_cannot_send_escape_sequences_to_the_terminal() {
    let (_fake, url) = spawn_fake(hostile_world().data, "UTC").await;
    let r = report(&url, &["--timeline", "--top-ips", "--geo", "--scoring", "reference"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_raw_controls(&r.stdout);
    // Still shown, with each control replaced by one visible U+FFFD.
    let shown = "\u{fffd}]52;c;cm0gLXJmIH4K\u{fffd}\u{fffd}[2J\u{fffd}31m\u{fffd}\u{fffd}\u{fffd}";
    for name in ["Sam", "sharer-tv player", "Roku", "New York", "NY"] {
        assert!(
            r.stdout.contains(&format!("{name}{shown}")),
            "{name} not shown:\n{}",
            r.stdout
        );
    }
    // Titles are cut to 37 characters first.
    let title = "Show - Episode 1\u{fffd}]52;c;cm0gLXJmIH4K\u{fffd}\u{fffd}...\n";
    assert!(r.stdout.contains(title), "title not shown:\n{}", r.stdout);
    assert!(r.stdout.contains(" SESSION TIMELINE") && r.stdout.contains("TELEPORTATION DETECTED"));

    // Nobody flagged: the IP report still names everyone.
    let r = report(&url, &["--top-ips", "--min-score", "1000"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("No users flagged") && r.stdout.contains(&format!("Sam{shown}")));
    assert_no_raw_controls(&r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_filter_reads_only_that_user() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--user", "SOLO", "--format", "json", "--days", "3"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let users = r.json()["users"].as_array().unwrap().clone();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["user_id"], SOLO);
    assert!(fake.requests().iter().filter(|q| q.cmd == "get_history").all(|q| q
        .params
        .get("user_id")
        .map(String::as_str)
        == Some("103")));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_only_and_min_score_filter_the_flags() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--concurrent-only", "--scoring", "reference"]).await;
    assert!(
        r.stdout.contains("1 user(s) flagged") && !r.stdout.contains("The Family"),
        "{}",
        r.stdout
    );
    let r = report(&url, &["--min-score", "100"]).await;
    assert_eq!(r.stdout.trim(), "No users flagged for potential account sharing.");
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_history_says_nobody_is_flagged_and_succeeds() {
    let mut w = World::default();
    w.user(1, "idle", "Idle");
    let (_fake, url) = spawn_fake(w.data, "UTC").await;
    let r = report(&url, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "No users flagged for potential account sharing.");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_is_one_clear_line_and_exit_1() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--user", "nobody"]).await;
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        "error: user \"nobody\" not found in Tautulli's users table"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_is_reported_without_showing_any_key() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let now = NOW.to_string();
    let wrong = "ffffffffffffffffffffffffffffffff";
    let r = run(&[
        "report",
        "--tautulli-url",
        &url,
        "--tautulli-api-key",
        wrong,
        "--now",
        &now,
    ])
    .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Invalid apikey"), "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 400"), "{}", r.stderr);
    assert!(!r.stderr.contains(wrong), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_tautulli_is_one_clear_line_and_exit_1() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("127.0.0.1:{port}");
    let r = report(&url, &["--tautulli-retries", "0"]).await;
    r.assert_no_key();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("cannot connect to http://127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_json_answer_is_a_clear_error() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    fake.set_fault(Some(plex_sharing_exporter::simulator::Fault::NotJson));
    let r = report(&url, &[]).await;
    r.assert_no_key();
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not Tautulli JSON"), "{}", r.stderr);
    assert!(r.stderr.contains("<html>"), "shows the start of the body: {}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_then_reported() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    fake.set_fault(Some(plex_sharing_exporter::simulator::Fault::ServerError));
    let r = report(&url, &["--tautulli-retries", "2"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 500: Check the logs for errors"), "{}", r.stderr);
    assert_eq!(fake.count("get_users_table"), 3, "one try and two retries");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_tautulli_times_out() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    fake.set_fault(Some(plex_sharing_exporter::simulator::Fault::Hang(
        std::time::Duration::from_secs(30),
    )));
    let r = report(&url, &["--tautulli-timeout", "300ms", "--tautulli-retries", "0"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no answer from"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn key_file_is_read_and_an_unreadable_one_exits_2_naming_the_flag() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let dir = TempDir::new("key");
    let key = dir.0.join("key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    let now = NOW.to_string();
    let r = run(&[
        "report",
        "--tautulli-url",
        &url,
        "--tautulli-api-key-file",
        key.to_str().unwrap(),
        "--now",
        &now,
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "report",
        "--tautulli-url",
        &url,
        "--tautulli-api-key-file",
        "/nonexistent/key",
    ])
    .await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("error: --tautulli-api-key-file: cannot read /nonexistent/key"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_url_or_key_exits_2_naming_the_flag() {
    let r = run(&["report", "--tautulli-api-key", KEY]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--tautulli-url: missing"), "{}", r.stderr);
    r.assert_no_key();
    let r = run(&["report", "--tautulli-url", "127.0.0.1:1"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--tautulli-api-key: missing"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_variables_configure_url_and_key() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_plex-sharing-exporter"))
        .args(["report", "--format", "json", "--now", &NOW.to_string()])
        .env_remove("TAUTULLI_URL")
        .env("TAUTULLI_HOST", url.trim_start_matches("http://"))
        .env("TAUTULLI_API_KEY", KEY)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_with_an_http_root_path_works() {
    let fake =
        plex_sharing_exporter::simulator::FakeTautulli::new(World::standard().data, KEY, jiff::tz::TimeZone::UTC);
    let addr = fake.spawn("127.0.0.1:0".parse().unwrap(), "/tautulli").await.unwrap();
    let r = report(&format!("http://{addr}/tautulli/"), &["--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report_user(&r.json(), SHARER)["concurrent_sessions"], 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_evidence_score_flags_the_sharer_and_not_the_household() {
    let dir = TempDir::new("evidence");
    let db = dir.0.join("city.mmdb");
    write_geoip2_city(&db);
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let r = report(&url, &["--format", "json", "--geoip-db", db.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["scoring"]["profile"], "evidence");
    assert_eq!(doc["min_score"], 30.0);
    let s = report_user(&doc, SHARER);
    // 1 device pair * 20 + 6 overlaps * 5 + 6 jumps * 20 = 170; devices score nothing.
    assert_eq!(s["score"], 170.0);
    assert_eq!(s["flagged"], true);
    let terms = s["score_terms"].as_array().unwrap();
    let term = |name: &str| {
        terms
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    assert_eq!(term("concurrent_device_pairs")["points"], 20.0);
    assert_eq!(term("teleportations")["count"], 6);
    assert_eq!(term("extra_devices")["points"], 0.0);
    assert_eq!(s["overlaps"][0]["first_network"], "81.1.1.1");
    assert_eq!(s["overlaps"][0]["second_network"], "82.2.2.2");
    let family = report_user(&doc, FAMILY);
    assert_eq!(
        (family["score"].as_f64(), family["flagged"].as_bool()),
        (Some(0.0), Some(false))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_network_beats_every_provider_and_changes_the_verdict() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    // The owner knows 82.2.2.2 is the sharer's own second line in New York, not London.
    let r = report(
        &url,
        &[
            "--geo",
            "--format",
            "json",
            "--geoip-override",
            "82.2.0.0/16=40.7128,-74.0060,Sam's flat",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = report_user(&r.json(), SHARER).clone();
    assert_eq!(s["ip_locations"]["82.2.2.2"], "Sam's flat");
    assert_eq!(s["ip_locations"]["81.1.1.1"], "New York, United States");
    assert_eq!(s["teleportations"], 0, "New York to New York is no jump");
    // 81.1.1.1, 93.3.3.3 and 94.4.4.4 are asked; the pinned address never is.
    assert_eq!(fake.count("get_geoip_lookup"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_geoip_cache_file_makes_the_next_report_ask_nothing() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let dir = TempDir::new("geoip-cache-file");
    let cache = dir.0.join("geoip-cache.json");
    let cache_arg = cache.to_str().unwrap();
    let args = ["--geo", "--format", "json", "--geoip.cache-file", cache_arg];

    let cold = report(&url, &args).await;
    assert_eq!(cold.code, 0, "{}", cold.stderr);
    assert_eq!(fake.count("get_geoip_lookup"), 4, "every public address once");
    let stored = std::fs::read_to_string(&cache).unwrap();
    assert!(
        stored.contains("81.1.1.1") && !stored.contains(KEY),
        "places, never the key"
    );

    let warm = report(&url, &args).await;
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    assert_eq!(fake.count("get_geoip_lookup"), 4, "a warm start asks nothing");
    assert_eq!(
        warm.json()["users"],
        cold.json()["users"],
        "the same places, the same verdicts"
    );

    // A damaged file: one warning, the report as usual, and the file written anew.
    std::fs::write(&cache, "{\"format\": ").unwrap();
    let damaged = report(&url, &args).await;
    assert_eq!(damaged.code, 0, "{}", damaged.stderr);
    let warnings: Vec<&str> = damaged
        .stderr
        .lines()
        .filter(|l| l.contains("GeoIP cache file"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", damaged.stderr);
    assert!(warnings[0].contains("not a GeoIP cache file"), "{}", warnings[0]);
    assert_eq!(fake.count("get_geoip_lookup"), 8, "looked up again");
    assert_eq!(damaged.json()["users"], cold.json()["users"]);
    assert!(std::fs::read_to_string(&cache).unwrap().contains("81.1.1.1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_networks_are_never_looked_up() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    // Public addresses: 81.1.1.1 and 82.2.2.2 (the sharer), 93.3.3.3, 94.4.4.4.
    let r = report(
        &url,
        &[
            "--geo",
            "--format",
            "json",
            "--trusted-network",
            "82.2.0.0/16",
            "--trusted-network",
            "solo=93.3.3.0/24",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fake.count("get_geoip_lookup"), 2, "81.1.1.1 and 94.4.4.4 only");
    assert_eq!(report_user(&r.json(), SHARER)["ip_locations"]["82.2.2.2"], "Unknown");
}

#[tokio::test(flavor = "multi_thread")]
async fn geoip_lookups_start_while_history_is_still_arriving() {
    let (fake, url) = spawn_fake(World::standard().data, "UTC").await;
    // One request at a time, one row a page: dozens of sequential history requests.
    let r = report(
        &url,
        &["--geo", "--tautulli-concurrency", "1", "--tautulli-page-size", "1"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cmds: Vec<String> = fake.requests().into_iter().map(|q| q.cmd).collect();
    let first_lookup = cmds.iter().position(|c| c == "get_geoip_lookup").expect("a lookup");
    let last_page = cmds.iter().rposition(|c| c == "get_history").expect("history");
    assert!(
        first_lookup < last_page,
        "the first lookup ({first_lookup}) waited for the last history page ({last_page})"
    );
    assert_eq!(fake.count("get_geoip_lookup"), 4, "each public address once");
}
