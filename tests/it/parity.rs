//! Parity with the reference script: on data where the script has none of its known
//! flaws, `report --timeline` prints exactly what `sharing_detector.py --timeline` prints.
//! Needs python3 with `requests` (CI installs it); the script is `../shared/seed/`.

use crate::helpers::*;

fn seed_script() -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/sharing_detector.py");
    assert!(p.exists(), "reference script not found at {}", p.display());
    p
}

/// The standard planted users, but relative to the real clock (the script has no
/// `--now`), on one LAN range (the script only knows some), with distinct watch times
/// per device (so both sort devices the same way).
fn world() -> World {
    let now = jiff::Timestamp::now().as_second() / 3600 * 3600;
    let mut w = World::default();
    w.user(SHARER, "sharer", "Sam Sharer")
        .user(FAMILY, "family", "The Family")
        .user(SOLO, "solo", "Solo Viewer");
    for d in 1..=6 {
        let evening = now - d * DAY - 4 * 3600;
        w.play(SHARER, "sharer-tv", "Roku", "81.1.1.1", evening, 3600);
        w.play(SHARER, "sharer-phone", "iOS", "82.2.2.2", evening + 1800, 3000);
        w.play(FAMILY, "family-tv", "Roku", "192.168.1.10", evening, 3600);
        w.play(FAMILY, "family-ipad", "iOS", "192.168.1.11", evening + 600, 3000);
        w.play(FAMILY, "family-laptop", "Windows", "192.168.1.12", evening + 1200, 2400);
    }
    w.play(SHARER, "sharer-tablet", "Android", "83.3.3.3", now - 10 * DAY, 1200);
    for d in 1..=3 {
        w.play(SOLO, "solo-tv", "tvOS", "93.3.3.3", now - d * DAY, 1800);
    }
    w
}

fn reports_only(stdout: &str) -> String {
    match stdout.find("\n=====") {
        Some(i) => stdout[i..].to_string(),
        None => stdout.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_matches_the_reference_script_line_for_line() {
    let (_fake, url) = spawn_fake(world().data, "UTC").await;
    let seed = tokio::process::Command::new("python3")
        .arg(seed_script())
        .args(["--host", &url, "--api-key", KEY, "--timeline"])
        .env("TZ", "UTC")
        .output()
        .await
        .expect("python3 runs");
    let seed_out = String::from_utf8_lossy(&seed.stdout).into_owned();
    assert!(
        seed.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let ours = run(&[
        "report",
        "--tautulli-url",
        &url,
        "--tautulli-api-key",
        KEY,
        "--timeline",
        "--scoring",
        "reference",
    ])
    .await;
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let (want, got) = (reports_only(&seed_out), reports_only(&ours.stdout));
    assert!(want.contains("DEVICE BREAKDOWN  —  2 user(s) flagged"), "{want}");
    if want != got {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {i}:\n  script: {a:?}\n  ours:   {b:?}"))
            .collect();
        panic!(
            "reports differ ({} vs {} lines):\n{}",
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn top_ips_matches_the_reference_script() {
    let (_fake, url) = spawn_fake(world().data, "UTC").await;
    let seed = tokio::process::Command::new("python3")
        .arg(seed_script())
        .args(["--host", &url, "--api-key", KEY, "--top-ips"])
        .env("TZ", "UTC")
        .output()
        .await
        .expect("python3 runs");
    assert!(seed.status.success(), "{}", String::from_utf8_lossy(&seed.stderr));
    let want = reports_only(&String::from_utf8_lossy(&seed.stdout));
    let ours = run(&["report", "--tautulli-url", &url, "--tautulli-api-key", KEY, "--top-ips"]).await;
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let got = &ours.stdout[ours
        .stdout
        .find("\n=====\n IP USAGE")
        .or_else(|| {
            ours.stdout
                .find("\n==============================================================================\n IP USAGE")
        })
        .expect("ip report")..];
    assert_eq!(want.trim_end(), got.trim_end());
}
