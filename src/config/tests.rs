//! Flag parsing and validation, end to end through the command line.

use super::*;
use crate::detect::{Rules, ScoringProfile};

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
    assert!(parse_duration("-5s").is_err());
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("").is_err());
}

fn report(args: &[&str]) -> Result<ReportArgs, clap::Error> {
    let mut v = vec!["plex-sharing-exporter", "report"];
    v.extend_from_slice(args);
    Cli::try_parse_from(v).map(|c| match c.command {
        Command::Report(r) => r,
        _ => unreachable!("parsed a report"),
    })
}

#[test]
fn weights_override_the_profile() {
    let r = report(&[
        "--scoring",
        "reference",
        "--weight.teleportation",
        "99",
        "--weight.concurrent-session-cap",
        "3",
    ])
    .unwrap();
    let rules = r.detect.resolve().unwrap();
    assert_eq!(rules.scoring.weights.teleportation, 99.0);
    assert_eq!(rules.scoring.weights.concurrent_session_cap, 3);
    assert_eq!(rules.scoring.weights.extra_device, 10.0);
    assert_eq!(rules.min_score, 20.0);
}

#[test]
fn the_same_device_jump_weight_is_a_flag_and_rejects_negative_numbers() {
    let rules = report(&["--weight.same-device-jump", "2.5"])
        .unwrap()
        .detect
        .resolve()
        .unwrap();
    assert_eq!(rules.scoring.weights.same_device_jump, 2.5);
    assert_eq!(
        report(&[])
            .unwrap()
            .detect
            .resolve()
            .unwrap()
            .scoring
            .weights
            .same_device_jump,
        0.0
    );
    let e = report(&["--weight.same-device-jump=-1"])
        .unwrap()
        .detect
        .resolve()
        .unwrap_err();
    assert_eq!(e.flag, "--weight.same-device-jump");
}

#[test]
fn the_default_profile_is_evidence_and_flags_override_its_rules() {
    let rules = report(&[]).unwrap().detect.resolve().unwrap();
    assert_eq!(rules, Rules::for_profile(ScoringProfile::Evidence));
    let args = [
        "--min-overlap",
        "0s",
        "--same-device-jumps",
        "true",
        "--household-rules",
        "false",
        "--min-score",
        "5",
    ];
    let rules = report(&args).unwrap().detect.resolve().unwrap();
    assert_eq!(rules.min_overlap_seconds, 0);
    assert!(rules.travel.same_device_counts);
    assert!(!rules.devices_at_home_are_one_household && !rules.dual_stack_is_one_household);
    assert!(!rules.nearby_overlaps_are_apart);
    assert_eq!(rules.min_score, 5.0);
}

#[test]
fn the_nearby_overlap_weight_is_a_flag_and_must_not_be_negative() {
    let rules = report(&["--weight.nearby-concurrent-session", "1.5"])
        .unwrap()
        .detect
        .resolve()
        .unwrap();
    assert_eq!(rules.scoring.weights.nearby_concurrent_session, 1.5);
    assert!(rules.nearby_overlaps_are_apart, "on in the evidence profile");
    let reference = report(&["--scoring", "reference"]).unwrap().detect.resolve().unwrap();
    assert!(!reference.nearby_overlaps_are_apart);
    let e = report(&["--weight.nearby-concurrent-session=-1"])
        .unwrap()
        .detect
        .resolve()
        .unwrap_err();
    assert_eq!(e.flag, "--weight.nearby-concurrent-session");
}

#[test]
fn trusted_networks_parse_globally_and_per_user() {
    let t = parse_trusted(&[
        "100.64.0.0/10".into(),
        "alice=203.0.113.0/24".into(),
        "42=198.51.100.7".into(),
    ])
    .unwrap();
    assert_eq!(t.global, vec!["100.64.0.0/10".parse::<ipnet::IpNet>().unwrap()]);
    assert_eq!(t.per_user.len(), 2);
    assert_eq!(t.per_user[1].1.to_string(), "198.51.100.7/32");
    let e = parse_trusted(&["alice=nonsense".into()]).unwrap_err();
    assert_eq!(e.flag, "--trusted-network");
    assert!(parse_trusted(&["=10.0.0.0/8".into()]).is_err());
}

#[test]
fn ignored_users_are_kept_trimmed() {
    let rules = report(&["--ignore-user", " Local ", "--ignore-user", "0"])
        .unwrap()
        .detect
        .resolve()
        .unwrap();
    assert_eq!(rules.ignore_users, vec!["Local", "0"]);
}

#[test]
fn key_and_key_file_together_are_rejected_naming_the_flag() {
    let r = report(&[
        "--tautulli-url",
        "t:8181",
        "--tautulli-api-key",
        "k",
        "--tautulli-api-key-file",
        "/x",
    ])
    .unwrap();
    let e = r.tautulli.resolve(None).unwrap_err();
    assert_eq!(e.flag, "--tautulli-api-key-file");
}

#[test]
fn tautulli_host_env_is_a_fallback_for_the_url() {
    let r = report(&["--tautulli-api-key", "k"]).unwrap();
    let mut r = r;
    r.tautulli.tautulli_url = None;
    let opts = r.tautulli.resolve(Some("tautulli:8181".into())).unwrap();
    assert_eq!(opts.url.as_str(), "http://tautulli:8181");
    assert_eq!(r.tautulli.resolve(None).unwrap_err().flag, "--tautulli-url");
}

#[test]
fn the_reference_scripts_flag_names_still_work() {
    let r = report(&["--host", "t", "--api-key", "k"]).unwrap();
    assert_eq!(r.tautulli.tautulli_url.as_deref(), Some("t"));
}

fn web(args: &[&str]) -> Result<Web, ConfigError> {
    let mut v = vec!["plex-sharing-exporter", "demo"];
    v.extend_from_slice(args);
    match Cli::try_parse_from(v).expect("flags parse").command {
        Command::Demo(d) => d.web.resolve(),
        _ => unreachable!("parsed a demo"),
    }
}

#[test]
fn a_bad_web_config_file_is_one_error_naming_the_flag() {
    let dir = std::env::temp_dir().join(format!("pse-webcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("web.yml");
    std::fs::write(&path, "basic_auth_users:\n  a: x\ntls_server_confg: {}\n").unwrap();
    let e = web(&["--web.config.file", path.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.flag, "--web.config.file");
    assert!(e.problem.contains("tls_server_confg"), "{e}");
    assert!(e.problem.contains("web.yml"), "names the file: {e}");
    let missing = dir.join("missing.yml");
    let e = web(&["--web.config.file", missing.to_str().unwrap()]).unwrap_err();
    assert!(e.problem.starts_with("cannot read"), "{e}");
    std::fs::write(&path, "").unwrap();
    let w = web(&["--web.config.file", path.to_str().unwrap(), "--web.mask-ips"]).unwrap();
    assert!(w.config.auth.is_none() && w.config.tls.is_none() && w.mask_ips);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sizes_parse_with_binary_and_decimal_units() {
    assert_eq!(parse_size("1048576"), Ok(1 << 20));
    assert_eq!(parse_size("64KiB"), Ok(64 << 10));
    assert_eq!(parse_size("256MiB"), Ok(256 << 20));
    assert_eq!(parse_size("2M"), Ok(2 << 20));
    assert_eq!(parse_size("1MB"), Ok(1_000_000));
    assert!(parse_size("0").is_err());
    assert!(parse_size("-1MiB").is_err());
    assert!(parse_size("12 parsecs").is_err());
    assert!(parse_size("99999999999GiB").is_err());
}

#[test]
fn negative_values_reach_their_flag_and_usage_errors_are_one_line() {
    let e = parse_from(["p", "serve", "--refresh-interval", "-5s"]).unwrap_err();
    let line = one_line(&e);
    assert!(
        line.contains("--refresh-interval") && line.contains("is negative"),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line}");
    let e = parse_from(["p", "report", "--days", "-3"]).unwrap_err();
    assert!(one_line(&e).contains("--days"), "{}", one_line(&e));
    let e = parse_from(["p", "serve", "--bogus"]).unwrap_err();
    assert_eq!(one_line(&e), "error: unexpected argument '--bogus' found (see --help)");
    let ok = parse_from(["p", "serve", "--tautulli-url", "t", "--refresh-interval", "5s"]).unwrap();
    assert!(matches!(ok.command, Command::Serve(_)));
}

#[test]
fn zero_days_is_rejected() {
    let r = report(&["--days", "0"]).unwrap();
    assert_eq!(r.detect.resolve().unwrap_err().flag, "--days");
}

/// The library's defaults (used by `demo`, tests and anyone building options in code)
/// and the flags' defaults (shown by `--help`) are one set of values.
#[test]
fn flag_defaults_are_the_library_defaults() {
    let url = crate::tautulli::TautulliUrl::parse("http://tautulli:8181").expect("a URL");
    let lib = crate::tautulli::ClientOptions::new(url, crate::tautulli::ApiKey::new("k"));
    let flags: TautulliArgs = flag_defaults();
    assert_eq!(flags.tautulli_timeout, lib.timeout);
    assert_eq!(flags.tautulli_retries, lib.retries);
    assert_eq!(flags.tautulli_concurrency, lib.concurrency);
    assert_eq!(flags.tautulli_page_size, lib.page_size);
    assert_eq!(flags.tautulli_max_body, lib.max_body_bytes);
    assert_eq!(flags.tautulli_max_rows, lib.max_rows);

    let web: WebArgs = flag_defaults();
    let limits = crate::web::server::Limits::default();
    assert_eq!(web.read_header_timeout, limits.read_header_timeout);
    assert_eq!(web.idle_timeout, limits.idle_timeout);
    assert_eq!(web.max_connections, limits.max_connections);

    let geo: GeoArgs = flag_defaults();
    let cache = crate::geo::CacheOptions::default();
    assert_eq!(geo.cache_ttl, cache.ttl);
    assert_eq!(geo.failure_ttl, cache.failure_ttl);
    assert_eq!(geo.cache_capacity, cache.capacity);
    assert_eq!(geo.concurrency, cache.concurrency);

    let detect: DetectArgs = flag_defaults();
    for profile in [ScoringProfile::Evidence, ScoringProfile::Reference] {
        let rules = Rules::for_profile(profile);
        assert_eq!(detect.heavy_device_plays, rules.heavy_device_plays);
        assert_eq!(detect.regular_network_plays, rules.regular_network_plays);
        assert_eq!(detect.min_distance_km, rules.travel.min_distance_km);
        assert_eq!(detect.max_speed_kmh, rules.travel.max_speed_kmh);
    }
}
