//! The HTTP face of `serve` and `demo`: landing page, `/metrics`, health and
//! readiness, and the JSON API. Everything is served under the path of
//! `--web.external-url`, so links work behind a reverse proxy.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::metrics::{Exporter, Metrics};
use crate::refresh::ServerState;

/// Shared state of the web handlers.
#[derive(Debug)]
pub struct Web {
    /// The registry to render.
    pub metrics: Metrics,
    /// What the metrics describe (servers and their snapshots).
    pub exporter: Arc<Exporter>,
    /// Path of the metrics endpoint, e.g. `/metrics`.
    pub telemetry_path: String,
    /// Public base URL without a trailing slash.
    pub external_url: String,
}

impl Web {
    fn server(&self, name: &str) -> Option<&Arc<ServerState>> {
        self.exporter.servers.iter().find(|s| s.name == name)
    }
}

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The router, mounted under `prefix` (the path of the external URL, "" for none).
pub fn router(web: Arc<Web>, prefix: &str) -> Router {
    let routes = Router::new()
        .route("/", get(landing))
        .route(&web.telemetry_path, get(metrics))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(ready))
        .route("/api/v1/users", get(api_users))
        .route("/api/v1/users/{server}/{user_id}", get(api_user))
        .with_state(web);
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(prefix, routes)
    }
}

async fn metrics(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (content_type, body) = web.metrics.render(accept);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn ready(State(web): State<Arc<Web>>) -> Response {
    let waiting: Vec<&str> = web
        .exporter
        .servers
        .iter()
        .filter(|s| s.snapshot().is_none())
        .map(|s| s.name.as_str())
        .collect();
    if waiting.is_empty() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Not ready: waiting for the first successful refresh of {}\n",
                waiting.join(", ")
            ),
        )
            .into_response()
    }
}

async fn landing(State(web): State<Arc<Web>>) -> Html<String> {
    let base = &web.external_url;
    let mut servers = String::new();
    for s in &web.exporter.servers {
        let h = s.health();
        let snap = s.snapshot();
        let _ = write!(
            servers,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.name),
            if h.up {
                "up"
            } else if h.attempts == 0 {
                "starting"
            } else {
                "DOWN"
            },
            snap.as_ref().map(|s| s.rows).unwrap_or(0),
            snap.as_ref()
                .map(|s| s.findings.iter().filter(|f| f.flagged).count())
                .unwrap_or(0),
            escape(h.last_error.as_deref().unwrap_or("")),
        );
    }
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plex Sharing Exporter</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}td,th{{padding:.2em .8em;text-align:left}}</style>
</head><body>
<h1>Plex Sharing Exporter</h1>
<p>Finds Plex account sharing in Tautulli's history. Version {version}.</p>
<ul>
<li><a href="{base}{metrics}">Metrics</a></li>
<li><a href="{base}/api/v1/users">Users (JSON)</a></li>
<li><a href="{base}/-/healthy">Health</a> · <a href="{base}/-/ready">Readiness</a></li>
</ul>
<h2>Servers</h2>
<table><tr><th>Server</th><th>Status</th><th>Sessions</th><th>Flagged</th><th>Last error</th></tr>{servers}</table>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        base = escape(base),
        metrics = escape(&web.telemetry_path),
    ))
}

async fn api_users(State(web): State<Arc<Web>>) -> Json<serde_json::Value> {
    let mut servers = Vec::new();
    for s in &web.exporter.servers {
        let h = s.health();
        let snap = s.snapshot();
        let users: Vec<serde_json::Value> = snap
            .as_ref()
            .map(|snap| {
                snap.findings
                    .iter()
                    .map(|f| {
                        let live = snap.live.get(&f.user_id).cloned().unwrap_or_default();
                        json!({
                            "user_id": f.user_id, "user": f.user, "score": f.score, "flagged": f.flagged,
                            "devices": f.devices, "heavy_devices": f.heavy_devices,
                            "concurrent_sessions": f.concurrent_sessions,
                            "concurrent_device_pairs": f.concurrent_device_pairs,
                            "teleportations": f.teleportations, "plays": f.plays,
                            "watch_time_seconds": f.watch_time_seconds, "networks": f.networks,
                            "live_streams": live.streams, "live_networks": live.networks,
                            "report_url": format!("{}/users/{}/{}", web.external_url, s.name, f.user_id),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        servers.push(json!({
            "server": s.name,
            "up": h.up,
            "last_refresh_success": h.last_success,
            "window": snap.as_ref().map(|s| json!({"start": s.window.0, "end": s.window.1})),
            "users": users,
        }));
    }
    Json(json!({ "servers": servers }))
}

async fn api_user(State(web): State<Arc<Web>>, Path((server, user_id)): Path<(String, i64)>) -> Response {
    let Some(s) = web.server(&server) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no server named {server:?}")})),
        )
            .into_response();
    };
    let Some(snap) = s.snapshot() else {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "no data yet"}))).into_response();
    };
    let Some(f) = snap.finding(user_id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("user {user_id} has no history in the window")})),
        )
            .into_response();
    };
    let locations: std::collections::BTreeMap<String, String> = f
        .ip_usage
        .iter()
        .filter_map(|u| snap.locations.get(&u.ip).map(|l| (u.ip.to_string(), l.clone())))
        .collect();
    let live = snap.live.get(&user_id).cloned().unwrap_or_default();
    let mut v = serde_json::to_value(f).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("server".into(), json!(server));
        o.insert("ip_locations".into(), json!(locations));
        o.insert("live_streams".into(), json!(live.streams));
        o.insert("live_networks".into(), json!(live.networks));
        o.insert("window".into(), json!({"start": snap.window.0, "end": snap.window.1}));
    }
    Json(v).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_every_special_character() {
        assert_eq!(
            escape("Zoë & \"Friends\" <test> 'x'"),
            "Zoë &amp; &quot;Friends&quot; &lt;test&gt; &#39;x&#39;"
        );
    }
}
