//! The `serve` binary as a user runs it: flags, configuration file, logs, shutdown.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_scrapes_and_stops_cleanly_on_sigterm() {
    let (_fake, fake_url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let exp = Exporter::spawn(
        &[
            "--tautulli-url",
            &fake_url,
            "--tautulli-api-key",
            KEY,
            "--server-name",
            "living-room",
        ],
        &[],
    )
    .await;
    exp.wait_ready().await;
    let m = exp.metrics().await;
    assert!(
        m.contains(r#"plex_sharing_user_concurrent_sessions{server="living-room",user_id="101",user="Sam Sharer"} 6"#),
        "{m}"
    );
    let (status, logs) = exp.terminate().await;
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    for line in &logs {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "log line is not JSON: {line}");
    }
    let logs = logs.join("\n");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(KEY), "key in logs: {logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_file_watches_several_servers_with_their_own_labels() {
    let ((_a, url_a), (_b, url_b)) = two_servers().await;
    let dir = TempDir::new("cfg");
    let key_file = dir.0.join("key");
    std::fs::write(&key_file, KEY).unwrap();
    let cfg = dir.0.join("servers.yml");
    std::fs::write(
        &cfg,
        format!("servers:\n  - name: home\n    url: {url_a}\n    api_key_file: {}\n  - name: cabin\n    url: {url_b}\n    api_key: {KEY}\n    timeout: 5s\n", key_file.display()),
    )
    .unwrap();
    let exp = Exporter::spawn(&["--config.file", cfg.to_str().unwrap()], &[]).await;
    exp.wait_ready().await;
    let m = exp.metrics().await;
    assert!(
        m.contains(r#"plex_sharing_up{server="home"} 1"#) && m.contains(r#"plex_sharing_up{server="cabin"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"plex_sharing_user_plays{server="cabin",user_id="7",user="Other User"} 1"#),
        "{m}"
    );
}

async fn config_error(yaml: &str, extra: &[&str]) -> (i32, String) {
    let dir = TempDir::new("bad");
    let cfg = dir.0.join("bad.yml");
    std::fs::write(&cfg, yaml).unwrap();
    let mut args = vec!["serve", "--config.file", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = run(&args).await;
    (r.code, r.stderr.replace(cfg.to_str().unwrap(), "CFG"))
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_configuration_is_one_line_naming_the_problem_and_exit_2() {
    let cases: [(&str, &[&str], &str); 6] = [
        (
            "servers:\n  - name: a\n    url: t:8181\n    apikey: x\n",
            &[],
            "error: --config.file: CFG: servers[0]: unknown field `apikey`",
        ),
        (
            "servers:\n  - name: a\n    url: t:8181\n    api_key: k\n  - name: a\n    url: u:8181\n    api_key: k\n",
            &[],
            "error: --config.file: CFG: servers[1].name: \"a\" is used twice",
        ),
        (
            "servers:\n  - name: a\n    url: t:8181\n    api_key_file: /nonexistent/k\n",
            &[],
            "error: --config.file: CFG: servers[0].api_key_file: cannot read /nonexistent/k",
        ),
        (
            "servers:\n  - name: a b\n    url: t:8181\n    api_key: k\n",
            &[],
            "error: --config.file: CFG: servers[0].name: \"a b\" must be letters, digits",
        ),
        (
            "servers:\n  - name: a\n    url: t:8181\n    api_key: k\n",
            &["--refresh-interval", "0s"],
            "error: --refresh-interval: must be greater than zero",
        ),
        (
            "servers:\n  - name: a\n    url: t:8181\n    api_key: k\n",
            &["--web.listen-address", "nonsense"],
            "error: --web.listen-address: \"nonsense\" is not host:port",
        ),
    ];
    for (yaml, extra, want) in cases {
        let (code, stderr) = config_error(yaml, extra).await;
        assert_eq!(code, 2, "{want}: {stderr}");
        assert!(stderr.starts_with(want), "want {want:?}\n got {stderr:?}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_validates_and_exits_0() {
    let (code, _) = config_error(
        "servers:\n  - name: a\n    url: t:8181\n    api_key: k\n",
        &["--config.check"],
    )
    .await;
    assert_eq!(code, 0);
}
