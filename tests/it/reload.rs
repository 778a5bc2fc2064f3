//! Live reload, as Prometheus exporters do it: SIGHUP and `POST /-/reload` re-read
//! `--config.file` and `--web.config.file`; a bad file keeps the old configuration and
//! says so in a metric and a log line; SIGHUP never ends the process.

use std::time::Duration;

use crate::helpers::*;

fn users(list: &[(&str, &str)]) -> String {
    let mut yaml = String::from("basic_auth_users:\n");
    for (user, password) in list {
        yaml.push_str(&format!("  {user}: '{}'\n", bcrypt::hash(password, 4).unwrap()));
    }
    yaml
}

async fn status_as(exp: &Exporter, path: &str, user: &str, password: &str) -> u16 {
    exp.http
        .get(format!("{}{path}", exp.url))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `/metrics` as `user`, polled until `pred` holds.
async fn wait_metrics(exp: &Exporter, user: &str, password: &str, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        let r = exp
            .http
            .get(format!("{}/metrics", exp.url))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        last = r.text().await.unwrap();
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("metrics never matched:\n{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_credentials_and_a_bad_file_keeps_the_old_ones() {
    let (_fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let dir = TempDir::new("reload-web");
    let web = dir.0.join("web.yml");
    std::fs::write(&web, users(&[("alice", "a-pass")])).unwrap();
    let mut exp = Exporter::start(&url, KEY, &["--web.config.file", web.to_str().unwrap()]).await;
    exp.wait_ready().await;
    assert_eq!(status_as(&exp, "/metrics", "alice", "a-pass").await, 200);
    assert_eq!(status_as(&exp, "/metrics", "bob", "b-pass").await, 401);

    std::fs::write(&web, users(&[("bob", "b-pass")])).unwrap();
    exp.signal("HUP");
    wait_metrics(&exp, "bob", "b-pass", |m| {
        m.contains("plex_sharing_config_last_reload_successful 1")
    })
    .await;
    assert!(exp.running(), "SIGHUP ended the process");
    assert_eq!(
        status_as(&exp, "/metrics", "alice", "a-pass").await,
        401,
        "alice was removed"
    );

    // A broken file changes nothing, and says so.
    std::fs::write(&web, "basic_auth_users:\n  carol: not-a-hash\n").unwrap();
    exp.signal("HUP");
    let m = wait_metrics(&exp, "bob", "b-pass", |m| {
        m.contains("plex_sharing_config_last_reload_successful 0")
    })
    .await;
    assert!(metric_value(&m, "plex_sharing_config_last_reload_success_timestamp_seconds").is_some_and(|t| t > 1e9));
    assert!(exp.running());
    assert_eq!(
        status_as(&exp, "/metrics", "bob", "b-pass").await,
        200,
        "the old users stay"
    );
    let logs = exp.stop().await;
    let failed: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("configuration reload failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{logs:#?}");
    assert!(
        failed[0].contains("basic_auth_users.carol"),
        "names the problem: {}",
        failed[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn post_reload_adds_and_removes_servers_and_requires_credentials() {
    let ((_a, url_a), (_b, url_b)) = two_servers().await;
    let dir = TempDir::new("reload-servers");
    let cfg = dir.0.join("servers.yml");
    let server = |name: &str, url: &str| format!("  - name: {name}\n    url: {url}\n    api_key: {KEY}\n");
    std::fs::write(&cfg, format!("servers:\n{}", server("home", &url_a))).unwrap();
    let web = dir.0.join("web.yml");
    std::fs::write(&web, users(&[("alice", "a-pass")])).unwrap();
    let exp = Exporter::spawn(
        &[
            "--config.file",
            cfg.to_str().unwrap(),
            "--web.config.file",
            web.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    exp.wait_ready().await;
    let reload = |user: Option<&str>| {
        let mut r = exp.http.post(format!("{}/-/reload", exp.url));
        if let Some(u) = user {
            r = r.basic_auth(u, Some("a-pass"));
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(reload(None).await.0, 401, "reloading needs credentials");

    std::fs::write(
        &cfg,
        format!("servers:\n{}{}", server("home", &url_a), server("cabin", &url_b)),
    )
    .unwrap();
    assert_eq!(reload(Some("alice")).await, (200, "Reloaded\n".to_string()));
    wait_metrics(&exp, "alice", "a-pass", |m| {
        m.contains(r#"plex_sharing_up{server="cabin"} 1"#) && m.contains(r#"plex_sharing_up{server="home"} 1"#)
    })
    .await;

    // A bad file: 500 with the reason, the servers stay.
    std::fs::write(&cfg, "servers: []\n").unwrap();
    let (status, text) = reload(Some("alice")).await;
    assert_eq!(status, 500);
    assert!(
        text.contains("--config.file") && text.contains("at least one server"),
        "{text}"
    );
    let m = wait_metrics(&exp, "alice", "a-pass", |m| {
        m.contains("plex_sharing_config_last_reload_successful 0")
    })
    .await;
    assert!(m.contains(r#"plex_sharing_up{server="cabin"} 1"#), "{m}");

    std::fs::write(&cfg, format!("servers:\n{}", server("cabin", &url_b))).unwrap();
    assert_eq!(reload(Some("alice")).await.0, 200);
    let m = wait_metrics(&exp, "alice", "a-pass", |m| {
        !m.contains(r#"server="home""#) && m.contains("plex_sharing_config_last_reload_successful 1")
    })
    .await;
    assert!(
        m.contains(r#"plex_sharing_user_plays{server="cabin",user_id="7",user="Other User"} 1"#),
        "{m}"
    );
    assert!(m.contains("plex_sharing_config_last_reload_successful 1"), "{m}");
    assert!(!exp.logs().iter().any(|l| l.contains(KEY)), "the key is never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_serves_a_renewed_certificate_to_new_connections() {
    let (_fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let dir = TempDir::new("reload-tls");
    let write_cert = |name: &str| {
        let cert = rcgen::generate_simple_self_signed(vec![name.into(), "127.0.0.1".into()]).unwrap();
        std::fs::write(dir.0.join("server.crt"), cert.cert.pem()).unwrap();
        std::fs::write(dir.0.join("server.key"), cert.signing_key.serialize_pem()).unwrap();
        cert.cert.der().to_vec()
    };
    let first = write_cert("first.example");
    let web = dir.0.join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    )
    .unwrap();
    let exp = Exporter::start(&url, KEY, &["--web.config.file", web.to_str().unwrap()]).await;
    let https = exp.url.replacen("http://", "https://", 1);
    let peer_cert = || async {
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let r = client.get(format!("{https}/-/healthy")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), reqwest::Version::HTTP_11, "ALPN offers only http/1.1");
        let info = r.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
        info.peer_certificate().expect("a certificate").to_vec()
    };
    assert_eq!(peer_cert().await, first);
    let second = write_cert("second.example");
    exp.signal("HUP");
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = peer_cert().await;
        if seen == second {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, second, "new connections get the renewed certificate");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_validates_both_files_and_exits() {
    let (_fake, url) = spawn_fake(World::standard().data, "UTC").await;
    let dir = TempDir::new("check");
    let cfg = dir.0.join("servers.yml");
    std::fs::write(
        &cfg,
        format!("servers:\n  - name: home\n    url: {url}\n    api_key: {KEY}\n"),
    )
    .unwrap();
    let web = dir.0.join("web.yml");
    std::fs::write(&web, users(&[("alice", "a-pass")])).unwrap();
    let args = |web: &str| {
        vec![
            "serve".to_string(),
            "--config.file".into(),
            cfg.to_string_lossy().into_owned(),
            "--web.config.file".into(),
            web.to_string(),
            "--config.check".into(),
        ]
    };
    let good = args(web.to_str().unwrap());
    let r = run(&good.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("configuration OK"), "{}", r.stdout);
    std::fs::write(&web, "basic_auth_users:\n  alice: plain\n").unwrap();
    let r = run(&good.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: --web.config.file: "), "{}", r.stderr);
}

/// How the JSON API labels the sharer's New York address.
async fn sharer_label(exp: &Exporter) -> String {
    let (_, body) = exp.get(&format!("/api/v1/users/home/{SHARER}")).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["ip_locations"]["81.1.1.1"].as_str().unwrap_or_default().to_string()
}

/// [`sharer_label`] once it is `want` (a refresh after a reload), or the last one seen
/// after 10 s.
async fn wait_sharer_label(exp: &Exporter, want: &str) -> String {
    let mut seen = String::new();
    for _ in 0..200 {
        seen = sharer_label(exp).await;
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_puts_new_geoip_overrides_in_force() {
    let (_fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let dir = TempDir::new("reload-overrides");
    let cfg = dir.0.join("servers.yml");
    let write = |label: &str| {
        let text = format!(
            "servers:\n  - name: home\n    url: {url}\n    api_key: {KEY}\ngeoip_overrides:\n  - '81.1.0.0/16=40.7,-74.0,{label}'\n"
        );
        std::fs::write(&cfg, text).unwrap();
    };
    write("First Street");
    let exp = Exporter::spawn(
        &["--config.file", cfg.to_str().unwrap(), "--refresh-interval", "1s"],
        &[],
    )
    .await;
    exp.wait_ready().await;
    assert_eq!(
        sharer_label(&exp).await,
        "First Street",
        "pinned without any GeoIP provider"
    );

    write("Second Avenue");
    let r = exp.http.post(format!("{}/-/reload", exp.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let seen = wait_sharer_label(&exp, "Second Avenue").await;
    assert_eq!(seen, "Second Avenue", "the next refresh uses the reloaded pin");
    let (_, m) = exp.get("/metrics").await;
    assert!(
        m.contains(r#"plex_sharing_geoip_lookups_total{provider="override",outcome="hit"}"#),
        "{m}"
    );
}

/// The configuration file's `asn_db` names operators, and a reload that adds it puts it
/// in force without a restart: the JSON, the user page and the lookup counters show it.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_puts_an_asn_database_in_force() {
    let (_fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let dir = TempDir::new("reload-asn");
    let (cfg, asn) = (dir.0.join("servers.yml"), dir.0.join("asn.mmdb"));
    write_asn_db(&asn);
    let write = |asn_db: Option<&std::path::Path>| {
        let mut text = format!(
            "servers:\n  - name: home\n    url: {url}\n    api_key: {KEY}\ngeoip_overrides:\n  - '81.1.0.0/16=40.7,-74.0,Home'\n"
        );
        if let Some(path) = asn_db {
            text.push_str(&format!("asn_db: {}\n", path.display()));
        }
        std::fs::write(&cfg, text).unwrap();
    };
    write(None);
    let exp = Exporter::spawn(
        &["--config.file", cfg.to_str().unwrap(), "--refresh-interval", "1s"],
        &[],
    )
    .await;
    exp.wait_ready().await;
    assert_eq!(sharer_label(&exp).await, "Home");

    write(Some(&asn));
    let r = exp.http.post(format!("{}/-/reload", exp.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let named = "Home · AS7922 Comcast Cable Communications, LLC";
    let seen = wait_sharer_label(&exp, named).await;
    assert_eq!(seen, named, "the next refresh names the operator");
    let (_, page) = exp.get(&format!("/users/home/{SHARER}")).await;
    assert!(page.contains("AS7922 Comcast Cable Communications, LLC"), "{page}");
    let (_, m) = exp.get("/metrics").await;
    assert!(
        m.contains(r#"plex_sharing_geoip_lookups_total{provider="asn",outcome="hit"}"#),
        "{m}"
    );

    // A file whose asn_db cannot be opened is refused, naming the file and the key.
    write(Some(&dir.0.join("missing.mmdb")));
    let r = exp.http.post(format!("{}/-/reload", exp.url)).send().await.unwrap();
    assert_eq!(r.status(), 500);
    let text = r.text().await.unwrap();
    assert!(text.contains("asn_db"), "{text}");
    assert_eq!(sharer_label(&exp).await, named, "the running database stays");
}
