//! Slow and greedy clients against the real binary: silent connections are closed, a
//! full house turns newcomers away but still answers health probes, only HTTP/1.1 is
//! spoken, and every answer says `nosniff`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

async fn exporter(extra: &[&str]) -> (Exporter, std::sync::Arc<plex_sharing_exporter::simulator::FakeTautulli>) {
    let (fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let exp = Exporter::start(&url, KEY, extra).await;
    exp.wait_ready().await;
    (exp, fake)
}

fn addr(exp: &Exporter) -> String {
    exp.url.trim_start_matches("http://").to_string()
}

/// Read until the server closes the connection; what it sent, or None if it is still
/// open after `patience`.
async fn read_to_close(conn: &mut TcpStream, patience: Duration) -> Option<String> {
    let mut got = Vec::new();
    match tokio::time::timeout(patience, conn.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let (exp, _fake) = exporter(&["--web.read-header-timeout", "1s"]).await;
    let mut conn = TcpStream::connect(addr(&exp)).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let closed = read_to_close(&mut conn, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "a half-sent request holds its connection open");
    // A connection that says nothing at all is closed the same way.
    let mut silent = TcpStream::connect(addr(&exp)).await.unwrap();
    assert!(read_to_close(&mut silent, Duration::from_secs(10)).await.is_some());
    assert_eq!(exp.get("/-/healthy").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_moves_no_data_is_closed_after_the_idle_timeout() {
    // The header timeout is long, so only the idle timeout can close it.
    let (exp, _fake) = exporter(&["--web.read-header-timeout", "60s", "--web.idle-timeout", "1s"]).await;
    let mut conn = TcpStream::connect(addr(&exp)).await.unwrap();
    assert!(read_to_close(&mut conn, Duration::from_secs(10)).await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_house_turns_newcomers_away_but_still_answers_health_probes() {
    let (exp, _fake) = exporter(&["--web.max-connections", "4", "--web.read-header-timeout", "30s"]).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr(&exp)).await.unwrap());
    }
    // Let the server accept all four before the next one arrives.
    let fresh = || reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut turned_away = false;
    for _ in 0..100 {
        let r = fresh().get(format!("{}/metrics", exp.url)).send().await.unwrap();
        if r.status() == 503 {
            assert_eq!(r.headers()["retry-after"], "1");
            turned_away = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(turned_away, "a fifth connection was served in full");
    for path in ["/-/healthy", "/-/ready"] {
        let r = fresh().get(format!("{}{path}", exp.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path} is outside the cap");
    }
    drop(idle);
    let m = exp
        .wait_for("the cap to free up", |m| {
            m.contains("plex_sharing_web_connections_rejected_total")
        })
        .await;
    let rejected = metric_value(&m, "plex_sharing_web_connections_rejected_total").unwrap();
    assert!(rejected >= 3.0, "every turned-away connection is counted: {rejected}");
    // At least the scrape itself (closing connections may still be counted for a moment).
    assert!(
        metric_value(&m, "plex_sharing_web_connections").is_some_and(|v| v >= 1.0),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_http_1_1_is_spoken() {
    let (exp, _fake) = exporter(&[]).await;
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    assert!(
        h2.get(format!("{}/-/healthy", exp.url)).send().await.is_err(),
        "cleartext HTTP/2 is refused"
    );
    let r = reqwest::get(format!("{}/-/healthy", exp.url)).await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_says_nosniff() {
    let (exp, _fake) = exporter(&[]).await;
    for (path, status) in [
        ("/api/v1/users", 200),
        ("/api/v1/users/home/101", 200),
        ("/api/v1/users/home/not-a-number", 400),
        ("/nowhere", 404),
        ("/metrics", 200),
        ("/-/healthy", 200),
    ] {
        let r = exp.http.get(format!("{}{path}", exp.url)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(
            r.headers().get("x-content-type-options").map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_list_is_rendered_once_for_many_readers_and_stays_current() {
    let (exp, _fake) = exporter(&[]).await;
    let reads = (0..8).map(|_| exp.get("/api/v1/users"));
    let bodies: Vec<(u16, String)> = futures_util::future::join_all(reads).await;
    assert!(bodies.iter().all(|b| b.0 == 200 && b.1 == bodies[0].1));
    let v: serde_json::Value = serde_json::from_str(&bodies[0].1).unwrap();
    assert_eq!(v["servers"][0]["server"], "home");
    assert!(v["servers"][0]["users"].as_array().is_some_and(|u| !u.is_empty()));
    let (status, html) = exp.get("/users").await;
    assert_eq!(status, 200);
    assert!(html.contains("Sam Sharer"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_beyond_loopback_without_credentials_warns_once() {
    let (fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let args = [
        "--server-name",
        "home",
        "--tautulli-url",
        &url,
        "--tautulli-api-key",
        KEY,
    ];
    let open = Exporter::spawn_listening("0.0.0.0:0", &args, &[]).await;
    let loopback = Exporter::spawn_listening("127.0.0.1:0", &args, &[]).await;
    let warned = |logs: &[String]| logs.iter().filter(|l| l.contains("require credentials")).count();
    assert_eq!(warned(&open.stop().await), 1);
    assert_eq!(warned(&loopback.stop().await), 0);
    drop(fake);
}
