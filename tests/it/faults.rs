//! The fault matrix (issue 7): the real `serve` binary, as a user runs it, against a
//! simulated Tautulli that misbehaves in one way at a time. For each fault that fails a
//! refresh: the exporter keeps running, serves the last good values, sets
//! `plex_sharing_up` 0, counts the failure under exactly one reason, logs one line per
//! failed refresh without the key, and recovers by itself when the fault is healed.
//! Faults in the rows themselves are not failures: the refresh succeeds and the bad
//! rows are dropped or repaired and counted.

use std::time::Duration;

use plex_sharing_exporter::simulator::{Dataset, FakeServer, FakeTautulli, Fault, GHOST_USER};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::serve::sample;

/// The standard world moved so that its "now" is the real clock's: the binary reads
/// the real clock, and fixed dates would slowly leave its 30-day window.
pub fn standard_now() -> Dataset {
    shift_to_now(World::standard().data)
}

/// Flags of every fault run: fast refreshes, a short timeout.
pub const FAST: &[&str] = &["--refresh-interval", "200ms", "--tautulli-timeout", "500ms"];

pub fn up(m: &str) -> Option<f64> {
    sample(m, "plex_sharing_up{server=\"home\"}")
}

pub fn failures(m: &str, reason: &str) -> f64 {
    sample(
        m,
        &format!("plex_sharing_refresh_failures_total{{server=\"home\",reason=\"{reason}\"}}"),
    )
    .unwrap_or(0.0)
}

/// The reasons with a failure count for server `home`.
pub fn failure_reasons(m: &str) -> Vec<String> {
    m.lines()
        .filter_map(|l| l.strip_prefix("plex_sharing_refresh_failures_total{server=\"home\",reason=\""))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

fn counter(m: &str, name: &str, reason: &str) -> f64 {
    sample(m, &format!("{name}{{server=\"home\",reason=\"{reason}\"}}")).unwrap_or(0.0)
}

const SHARER_SESSIONS: &str =
    "plex_sharing_user_concurrent_sessions{server=\"home\",user_id=\"101\",user=\"Sam Sharer\"}";
const ROWS: &str = "plex_sharing_history_rows{server=\"home\"}";

/// The last good values of the standard world are what `/metrics` shows.
fn assert_standard_values(m: &str) {
    assert_eq!(sample(m, SHARER_SESSIONS), Some(6.0), "{m}");
    assert_eq!(sample(m, ROWS), Some(34.0), "{m}");
}

/// Where the fake is and how to break it; `Refused` stops listening altogether.
enum Break {
    Fault(Fault),
    Refused,
}

/// The whole contract for one fault that fails refreshes.
async fn fails_then_recovers(brk: Break, reason: &str, extra: &[&str]) {
    let fake = FakeTautulli::new(standard_now(), KEY, jiff::tz::TimeZone::UTC);
    let mut server: FakeServer = fake.serve("127.0.0.1:0".parse().unwrap(), "").await.unwrap();
    let tautulli = format!("http://{}", server.addr());
    // FAST and no retries, unless `extra` sets them.
    let mut flags = vec!["--refresh-interval", "200ms"];
    for (flag, value) in [("--tautulli-timeout", "500ms"), ("--tautulli-retries", "0")] {
        if !extra.contains(&flag) {
            flags.extend_from_slice(&[flag, value]);
        }
    }
    flags.extend_from_slice(extra);
    let exp = Exporter::start(&tautulli, KEY, &flags).await;
    let m = exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
    assert_standard_values(&m);

    match &brk {
        Break::Fault(f) => fake.set_fault(Some(f.clone())),
        Break::Refused => server.stop().await,
    }
    let m = exp
        .wait_for(reason, |m| up(m) == Some(0.0) && failures(m, reason) >= 1.0)
        .await;
    assert_eq!(
        failure_reasons(&m),
        vec![reason.to_string()],
        "exactly one reason:\n{m}"
    );
    assert_standard_values(&m);
    let (ready, _) = exp.get("/-/ready").await;
    assert_eq!(ready, 200, "still ready: it has data to serve");

    match brk {
        Break::Fault(_) => fake.set_fault(None),
        Break::Refused => server.restart().await.expect("listen again on the same port"),
    }
    let m = exp.wait_for("recovery", |m| up(m) == Some(1.0)).await;
    assert_standard_values(&m);
    let failed = failures(&m, reason) as usize;
    assert_eq!(failure_reasons(&m), vec![reason.to_string()], "{m}");

    // Logs: one WARN line per failed refresh, naming the reason, never the key; nothing
    // else above INFO; an INFO line when it came back.
    let mut records = Vec::new();
    for _ in 0..100 {
        records = exp.log_records();
        let n = records
            .iter()
            .filter(|r| {
                r["fields"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("refresh failed")
            })
            .count();
        if n >= failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failed_lines: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["fields"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("refresh failed")
        })
        .collect();
    assert_eq!(failed_lines.len(), failed, "one line per failed refresh: {records:#?}");
    for r in &failed_lines {
        assert_eq!(r["level"], "WARN", "{r}");
        assert_eq!(r["fields"]["reason"], reason, "{r}");
        assert_eq!(r["fields"]["server"], "home", "{r}");
        assert!(r["fields"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
    }
    let noisy: Vec<&Value> = records
        .iter()
        .filter(|r| r["level"] == "WARN" || r["level"] == "ERROR")
        .filter(|r| {
            !r["fields"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("refresh failed")
        })
        .collect();
    assert!(noisy.is_empty(), "unexpected warnings: {noisy:#?}");
    let last_failure = records
        .iter()
        .rposition(|r| {
            r["fields"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("refresh failed")
        })
        .unwrap();
    assert!(
        records[last_failure..]
            .iter()
            .any(|r| r["fields"]["message"] == "refresh succeeded" && r["level"] == "INFO"),
        "recovery is logged: {records:#?}"
    );
    let logs = exp.stop().await.join("\n");
    assert!(!logs.contains(KEY), "key in logs:\n{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused() {
    fails_then_recovers(Break::Refused, "connect", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hang_past_the_timeout() {
    fails_then_recovers(Break::Fault(Fault::Hang(Duration::from_secs(3))), "timeout", &[]).await;
}

/// The users table and the live streams are read beside the history: either failing alone
/// fails the refresh and keeps the last good data, on a full reload as on a tail refresh.
#[tokio::test(flavor = "multi_thread")]
async fn a_users_table_past_the_timeout_on_a_full_reload() {
    let slow = Fault::Slow {
        cmd: "get_users_table",
        delay: Duration::from_secs(3),
    };
    let every_time = ["--users-refresh-interval", "1ms", "--full-reload-interval", "1ms"];
    fails_then_recovers(Break::Fault(slow), "timeout", &every_time).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn live_activity_past_the_timeout_on_a_tail_refresh() {
    let slow = Fault::Slow {
        cmd: "get_activity",
        delay: Duration::from_secs(3),
    };
    fails_then_recovers(Break::Fault(slow), "timeout", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_500() {
    fails_then_recovers(Break::Fault(Fault::ServerError), "server_error", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_500_with_retries_is_still_one_line_per_refresh() {
    fails_then_recovers(
        Break::Fault(Fault::ServerError),
        "server_error",
        &["--tautulli-retries", "1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_400_invalid_apikey() {
    fails_then_recovers(Break::Fault(Fault::InvalidKey), "auth", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_json_body() {
    fails_then_recovers(Break::Fault(Fault::NotJson), "decode", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_json() {
    fails_then_recovers(Break::Fault(Fault::TruncatedJson), "decode", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_page_quoting_the_key() {
    fails_then_recovers(Break::Fault(Fault::EchoRequest), "decode", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_is_refused_at_the_cap() {
    fails_then_recovers(
        Break::Fault(Fault::Oversized(1 << 20)),
        "too_large",
        &["--tautulli-max-body", "64KiB"],
    )
    .await;
}

/// A refresh that pages, waits or locates past `--refresh-timeout` is abandoned there:
/// here every request takes 1.5 s, well within `--tautulli-timeout`, and the refresh
/// as a whole gets 1 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_past_its_deadline_is_abandoned() {
    fails_then_recovers(
        Break::Fault(Fault::Hang(Duration::from_millis(1500))),
        "deadline",
        &["--tautulli-timeout", "5s", "--refresh-timeout", "1s"],
    )
    .await;
}

/// History pages that never end and carry no usable count (`recordsFiltered: "n/a"`):
/// the read stops at `--tautulli-max-rows` and the refresh fails, keeping the last
/// good data. Every refresh is a full load, so every refresh pages every day.
#[tokio::test(flavor = "multi_thread")]
async fn rows_past_max_rows_fail_the_refresh_and_keep_the_last_good_data() {
    let endless = Fault::EndlessPages {
        cmd: "get_history",
        garbage_count: true,
    };
    fails_then_recovers(
        Break::Fault(endless),
        "too_many_rows",
        &[
            "--tautulli-max-rows",
            "100",
            "--tautulli-page-size",
            "50",
            "--full-reload-interval",
            "1ms",
        ],
    )
    .await;
}

/// One refresh only (the interval is an hour): what a single read costs.
const ONE_REFRESH: &[&str] = &["--refresh-interval", "1h", "--tautulli-timeout", "2s"];

/// A users table whose pages are always full of new users, while `recordsFiltered`
/// says 4: one page of 1000 already passes the count and its tolerance, so reading
/// stops there, once, and the exporter is ready.
#[tokio::test(flavor = "multi_thread")]
async fn a_users_table_that_never_ends_is_read_to_its_count_and_no_further() {
    let (fake, url) = spawn_fake(standard_now(), "UTC").await;
    fake.set_fault(Some(Fault::EndlessPages {
        cmd: "get_users_table",
        garbage_count: false,
    }));
    let exp = Exporter::start(&url, KEY, ONE_REFRESH).await;
    let m = exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
    assert_standard_values(&m);
    assert_eq!(fake.count("get_users_table"), 1, "one page, then stop");
    assert_eq!(exp.get("/-/ready").await.0, 200);
    let warned = exp.log_records().iter().any(|r| {
        r["level"] == "WARN"
            && r["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("users table kept sending new users"))
    });
    assert!(warned, "{:#?}", exp.logs());
}

/// History pages that are always full of new rows, all started a day ago, while
/// `recordsFiltered` gives the real count of what was asked. The whole-window request
/// brings one page of 50; the rest is one range from the day before that start to the
/// window's end, read up to its count (at most 6 rows here) plus the tolerance (100
/// rows): 3 pages of 50, and that range is a counted mismatch.
#[tokio::test(flavor = "multi_thread")]
async fn history_pages_that_never_end_are_read_to_the_count_and_counted() {
    let (fake, url) = spawn_fake(standard_now(), "UTC").await;
    fake.set_fault(Some(Fault::EndlessPages {
        cmd: "get_history",
        garbage_count: false,
    }));
    let mut flags = ONE_REFRESH.to_vec();
    flags.extend_from_slice(&["--tautulli-page-size", "50", "--tautulli-concurrency", "1"]);
    let exp = Exporter::start(&url, KEY, &flags).await;
    let m = exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
    let history = history_requests(&fake);
    let starts: Vec<&str> = history.iter().map(|r| r.params["start"].as_str()).collect();
    assert_eq!(
        starts,
        ["0", "0", "50", "100"],
        "one page of the window, then one range paged to its bound"
    );
    let a_day_ago = jiff::Timestamp::now().as_second() - 86_400;
    let from = utc_date(a_day_ago - 86_400).to_string();
    assert_eq!(
        history[1].params["after"], from,
        "the rest starts where the first page reached"
    );
    assert_eq!(
        sample(&m, "plex_sharing_history_count_mismatches_total{server=\"home\"}"),
        Some(1.0),
        "{m}"
    );
    assert!(failure_reasons(&m).is_empty(), "{m}");
    assert!(
        m.contains(&format!("user_id=\"{GHOST_USER}\"")),
        "the rows read are kept:\n{m}"
    );
    assert_eq!(exp.get("/-/ready").await.0, 200);
}

/// A row object with a key given twice, in the history, the users table and the live
/// activity: each is one skipped row (counted for history), the rest of its page is
/// read, and every refresh succeeds with the standard values.
#[tokio::test(flavor = "multi_thread")]
async fn a_row_with_a_key_given_twice_is_one_skipped_row() {
    let (fake, url) = spawn_fake(standard_now(), "UTC").await;
    fake.set_fault(Some(Fault::DuplicateKeyRow));
    let exp = Exporter::start(&url, KEY, FAST).await;
    let m = succeeding_run(&exp, 3.0, "undecodable rows counted", |m| {
        counter(m, "plex_sharing_history_rows_skipped_total", "undecodable") >= 1.0
    })
    .await;
    assert_standard_values(&m);
    assert!(!m.contains(&format!("user_id=\"{GHOST_USER}\"")), "{m}");
    assert!(fake.count("get_users_table") >= 1 && fake.count("get_activity") >= 3);
    let logs = exp.stop().await.join("\n");
    assert!(!logs.contains("refresh failed"), "{logs}");
}

/// Metrics of a run whose refreshes all succeed, after at least `refreshes` of them.
async fn succeeding_run(exp: &Exporter, refreshes: f64, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let refreshes_done = |m: &str| {
        sample(
            m,
            "plex_sharing_tautulli_requests_total{server=\"home\",cmd=\"get_activity\",outcome=\"success\"}",
        )
        .unwrap_or(0.0)
    };
    let m = exp.wait_for(what, |m| refreshes_done(m) >= refreshes && pred(m)).await;
    assert_eq!(up(&m), Some(1.0), "{m}");
    assert!(failure_reasons(&m).is_empty(), "no refresh failed:\n{m}");
    m
}

/// The "skipped or repaired" warnings: logged when what is wrong changes, not on
/// every refresh.
fn row_warnings(exp: &Exporter) -> usize {
    exp.log_records()
        .iter()
        .filter(|r| r["fields"]["message"] == "some history rows were skipped or repaired")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_changing_between_pages_are_read_once_and_counted() {
    let (fake, url) = spawn_fake(standard_now(), "UTC").await;
    let mut flags = FAST.to_vec();
    // Small pages and a full reload on every refresh, so every day is paged.
    flags.extend_from_slice(&["--tautulli-page-size", "2", "--full-reload-interval", "1ms"]);
    let exp = Exporter::start(&url, KEY, &flags).await;
    exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
    fake.set_fault(Some(Fault::ShiftingRows));
    let m = succeeding_run(&exp, 8.0, "duplicates counted", |m| {
        counter(m, "plex_sharing_history_rows_skipped_total", "duplicate") >= 2.0
    })
    .await;
    assert_standard_values(&m);
    assert!(
        sample(&m, "plex_sharing_history_count_mismatches_total{server=\"home\"}").unwrap_or(0.0) >= 1.0,
        "{m}"
    );
    assert!(row_warnings(&exp) <= 3, "logged on change only: {:#?}", exp.logs());
    assert!(row_warnings(&exp) >= 1);
    let logs = exp.stop().await.join("\n");
    assert!(!logs.contains(KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn records_filtered_disagreeing_loses_no_rows_and_is_counted() {
    for delta in [-3, 3] {
        let (fake, url) = spawn_fake(standard_now(), "UTC").await;
        let mut flags = FAST.to_vec();
        flags.extend_from_slice(&["--tautulli-page-size", "2", "--full-reload-interval", "1ms"]);
        let exp = Exporter::start(&url, KEY, &flags).await;
        exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
        fake.set_fault(Some(Fault::CountMismatch(delta)));
        let m = succeeding_run(&exp, 5.0, "mismatches counted", |m| {
            sample(m, "plex_sharing_history_count_mismatches_total{server=\"home\"}").unwrap_or(0.0) >= 3.0
        })
        .await;
        assert_standard_values(&m);
        assert_eq!(
            counter(&m, "plex_sharing_history_rows_skipped_total", "duplicate"),
            0.0,
            "{m}"
        );
    }
}

/// Rows no honest Tautulli should send: the refresh succeeds, the sharer's numbers do
/// not move, bad rows are dropped or repaired and counted by reason.
#[tokio::test(flavor = "multi_thread")]
async fn bad_rows_are_skipped_or_repaired_and_counted() {
    const JUNK: i64 = 900;
    let mut w = World::standard();
    w.user(JUNK, "junk", "Junk Rows");
    let base = w.data.history.len();
    for (i, d) in (1..=7).enumerate() {
        w.play(
            JUNK,
            &format!("junk-{i}"),
            "Roku",
            "81.9.9.9",
            NOW - d * DAY + 3600,
            600,
        );
    }
    let rows = &mut w.data.history[base..];
    rows[0]["ip_address"] = json!("999.1.1.1"); // garbage address: kept, unknown
    rows[1]["ip_address"] = json!("not-an-ip");
    rows[2]["play_duration"] = json!(-50); // negative duration: kept, 0
    rows[2]["duration"] = json!(-50);
    rows[3]["user_id"] = Value::Null; // no user: skipped
    rows[4]["state"] = json!("playing"); // a live row: skipped
    rows[5]["ip_address"] = json!("82.9.9.9"); // another network, and it stops in
    rows[5]["play_duration"] = json!(0); // the year 5138: cut, or it would overlap row 2
    rows[5]["stopped"] = json!(99_999_999_999_i64);
    let mut data = shift_to_now(w.data);
    // Starts in the year 2100 (a server clock gone wrong): skipped. Only `after`-only
    // queries (the incremental refreshes) return it.
    let mut future = data.history[base].clone();
    future["row_id"] = json!(99_001);
    future["id"] = json!(99_001);
    future["started"] = json!(4_102_444_800_i64);
    future["stopped"] = json!(4_102_445_400_i64);
    data.history.push(future);

    let (fake, url) = spawn_fake(data, "UTC").await;
    fake.set_fault(Some(Fault::JunkRows)); // not objects at all: skipped
    let exp = Exporter::start(&url, KEY, FAST).await;
    let m = succeeding_run(&exp, 3.0, "bad rows counted", |m| {
        counter(m, "plex_sharing_history_rows_skipped_total", "absurd_time") >= 1.0
    })
    .await;
    assert_eq!(sample(&m, SHARER_SESSIONS), Some(6.0), "{m}");
    // 34 good rows plus the 5 junk rows that could be kept.
    assert_eq!(sample(&m, ROWS), Some(39.0), "{m}");
    assert_eq!(
        sample(
            &m,
            "plex_sharing_user_plays{server=\"home\",user_id=\"900\",user=\"Junk Rows\"}"
        ),
        Some(5.0),
        "{m}"
    );
    for (name, reason) in [
        ("plex_sharing_history_rows_skipped_total", "not_an_object"),
        ("plex_sharing_history_rows_skipped_total", "no_user_id"),
        ("plex_sharing_history_rows_skipped_total", "live_row"),
        ("plex_sharing_history_rows_skipped_total", "absurd_time"),
        ("plex_sharing_history_rows_repaired_total", "bad_ip"),
        ("plex_sharing_history_rows_repaired_total", "negative_duration"),
        ("plex_sharing_history_rows_repaired_total", "absurd_duration"),
    ] {
        assert!(counter(&m, name, reason) >= 1.0, "{name} {reason}:\n{m}");
    }
    // The stop in 5138 did not make the junk user overlap with everything.
    assert_eq!(
        sample(
            &m,
            "plex_sharing_user_concurrent_sessions{server=\"home\",user_id=\"900\",user=\"Junk Rows\"}"
        ),
        Some(0.0)
    );
    assert!(row_warnings(&exp) >= 1, "{:#?}", exp.logs());
    let logs = exp.stop().await.join("\n");
    assert!(!logs.contains(KEY));
    assert!(!logs.contains("refresh failed"), "{logs}");
}
