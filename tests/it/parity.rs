//! Parity with the reference script: on data where the script has none of its known
//! flaws, `report --scoring reference --timeline` and `report --top-ips` print exactly
//! what `sharing_detector.py --timeline` / `--top-ips` print.
//!
//! The script's output for this world is kept in `tests/golden/`, so the comparison runs
//! on a bare clone. The cross-check re-runs the script, under a clock fixed at [`NOW`],
//! when it is available (`PLEX_SHARING_REFERENCE_SCRIPT`, else
//! `../shared/seed/sharing_detector.py`, and python3 with `requests`);
//! `PARITY_REQUIRE_REFERENCE=1` makes its absence a failure and `PARITY_REGENERATE=1`
//! rewrites the goldens from it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::helpers::*;

const RULE: &str = "==============================================================================";

/// One report compared: our flags, the script's flags, where the compared text starts
/// (the heading under the first rule), and its golden file.
struct Case {
    ours: &'static [&'static str],
    script: &'static str,
    heading: &'static str,
    golden: &'static str,
}

const TIMELINE: Case = Case {
    ours: &["--timeline", "--scoring", "reference"],
    script: "--timeline",
    heading: " DEVICE BREAKDOWN",
    golden: "tests/golden/parity-timeline.txt",
};

const TOP_IPS: Case = Case {
    ours: &["--top-ips"],
    script: "--top-ips",
    heading: " IP USAGE BY USER",
    golden: "tests/golden/parity-top-ips.txt",
};

/// The standard planted users at [`NOW`], on one LAN range (the script only knows
/// some), with distinct watch times per device (so both sort devices the same way).
/// Solo's plays 25 and 40 days back sit inside and outside both windows only when the
/// script's clock is [`NOW`]: the real clock (past NOW) would drop the first too.
fn world() -> World {
    let mut w = World::default();
    w.user(SHARER, "sharer", "Sam Sharer")
        .user(FAMILY, "family", "The Family")
        .user(SOLO, "solo", "Solo Viewer");
    for d in 1..=6 {
        let evening = NOW - d * DAY - 4 * 3600;
        w.play(SHARER, "sharer-tv", "Roku", "81.1.1.1", evening, 3600);
        w.play(SHARER, "sharer-phone", "iOS", "82.2.2.2", evening + 1800, 3000);
        w.play(FAMILY, "family-tv", "Roku", "192.168.1.10", evening, 3600);
        w.play(FAMILY, "family-ipad", "iOS", "192.168.1.11", evening + 600, 3000);
        w.play(FAMILY, "family-laptop", "Windows", "192.168.1.12", evening + 1200, 2400);
    }
    w.play(SHARER, "sharer-tablet", "Android", "83.3.3.3", NOW - 10 * DAY, 1200);
    for d in 1..=3 {
        w.play(SOLO, "solo-tv", "tvOS", "93.3.3.3", NOW - d * DAY, 1800);
    }
    w.play(SOLO, "solo-tv", "tvOS", "93.3.3.3", NOW - 25 * DAY, 900);
    w.play(SOLO, "solo-tv", "tvOS", "93.3.3.4", NOW - 40 * DAY, 900);
    w
}

/// `stdout` from the rule above `heading` on: the reports, without the script's
/// progress lines.
fn section<'a>(stdout: &'a str, heading: &str) -> &'a str {
    let start = stdout
        .find(&format!("\n{RULE}\n{heading}"))
        .unwrap_or_else(|| panic!("no {heading:?} report in:\n{stdout}"));
    &stdout[start..]
}

fn golden_path(case: &Case) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(case.golden)
}

fn golden(case: &Case) -> String {
    let path = golden_path(case);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails with the first differing lines of `want` (from `want_from`) and `got`.
fn assert_same(want_from: &str, want: &str, got_from: &str, got: &str) {
    if want == got {
        return;
    }
    let mut diff: Vec<String> = want
        .lines()
        .zip(got.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .take(5)
        .map(|(i, (a, b))| format!("line {i}:\n  {want_from}: {a:?}\n  {got_from}: {b:?}"))
        .collect();
    if diff.is_empty() {
        diff.push(format!("same lines, different endings: {want:?} vs {got:?}"));
    }
    panic!(
        "{want_from} and {got_from} differ ({} vs {} lines):\n{}",
        want.lines().count(),
        got.lines().count(),
        diff.join("\n")
    );
}

async fn ours(url: &str, case: &Case) -> String {
    let r = report(url, case.ours).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    section(&r.stdout, case.heading).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn timeline_report_matches_the_reference_golden_line_for_line() {
    let (_fake, url) = spawn_fake(world().data, "UTC").await;
    let want = golden(&TIMELINE);
    assert!(want.contains("DEVICE BREAKDOWN  —  2 user(s) flagged"), "{want}");
    assert!(want.contains(" SESSION TIMELINE  —  2 user(s) flagged"), "{want}");
    assert_same(TIMELINE.golden, &want, "ours", &ours(&url, &TIMELINE).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn top_ips_report_matches_the_reference_golden() {
    let (_fake, url) = spawn_fake(world().data, "UTC").await;
    let want = golden(&TOP_IPS);
    assert!(want.contains(" IP USAGE BY USER  —  3 user(s)"), "{want}");
    assert_same(TOP_IPS.golden, &want, "ours", &ours(&url, &TOP_IPS).await);
}

/// Runs the script given as its second argument with the clock at the epoch seconds of
/// its first (advancing from there): `time.time`, `datetime.now`/`utcnow`/`today`,
/// `date.today`. `requests` is imported first so it keeps the real classes.
const FIXED_CLOCK_SHIM: &str = r#"
import datetime as dt, runpy, sys, time
import requests
fixed, script = float(sys.argv[1]), sys.argv[2]
start = time.monotonic()
def fake_time():
    return fixed + (time.monotonic() - start)
time.time = fake_time
class FixedDateTime(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls.fromtimestamp(fake_time(), tz)
    @classmethod
    def utcnow(cls):
        return cls.fromtimestamp(fake_time(), dt.timezone.utc).replace(tzinfo=None)
    @classmethod
    def today(cls):
        return cls.fromtimestamp(fake_time())
class FixedDate(dt.date):
    @classmethod
    def today(cls):
        return cls.fromtimestamp(fake_time())
dt.datetime, dt.date = FixedDateTime, FixedDate
sys.argv = [script] + sys.argv[3:]
runpy.run_path(script, run_name="__main__")
"#;

/// The reference script, or why it cannot run here.
fn reference_script() -> Result<PathBuf, String> {
    let path = match std::env::var_os("PLEX_SHARING_REFERENCE_SCRIPT") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/sharing_detector.py"),
    };
    if !path.is_file() {
        return Err(format!("no reference script at {}", path.display()));
    }
    match std::process::Command::new("python3")
        .args(["-c", "import requests"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(path),
        Ok(o) => Err(format!(
            "python3 cannot import requests: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("python3 does not run: {e}")),
    }
}

fn env_is_1(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// The script's report for `case` against `url`, at [`NOW`] in UTC.
async fn script_report(script: &Path, url: &str, case: &Case) -> String {
    let out = tokio::process::Command::new("python3")
        .args(["-c", FIXED_CLOCK_SHIM, &NOW.to_string()])
        .arg(script)
        .args(["--host", url, "--api-key", KEY, case.script])
        .env("TZ", "UTC")
        .env_remove("TAUTULLI_HOST")
        .env_remove("TAUTULLI_API_KEY")
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    section(&stdout, case.heading).to_string()
}

/// The goldens are still what the script prints, and what we print (with
/// `PARITY_REGENERATE=1`: rewritten from the script, then checked against us).
#[tokio::test(flavor = "multi_thread")]
async fn the_goldens_are_what_the_reference_script_prints() {
    let script = match reference_script() {
        Ok(s) => s,
        Err(why) => {
            assert!(
                !env_is_1("PARITY_REQUIRE_REFERENCE") && !env_is_1("PARITY_REGENERATE"),
                "the reference script is required but cannot run: {why}"
            );
            // Straight to stderr, past the test harness's capture, so a passing run
            // still says the cross-check did not happen.
            let _ = writeln!(
                std::io::stderr(),
                "parity cross-check NOT RUN ({why}): the goldens in tests/golden were compared, \
                 the reference script was not re-run"
            );
            return;
        }
    };
    let (_fake, url) = spawn_fake(world().data, "UTC").await;
    for case in [&TIMELINE, &TOP_IPS] {
        let script_out = script_report(&script, &url, case).await;
        if env_is_1("PARITY_REGENERATE") {
            std::fs::write(golden_path(case), &script_out).expect("write the golden");
        }
        assert_same("script", &script_out, case.golden, &golden(case));
        assert_same("script", &script_out, "ours", &ours(&url, case).await);
    }
}
