//! The HTTP face of `serve` and `demo`: the landing page, the drill-down reports
//! (`/users`, `/users/{server}/{user_id}`, the account view across servers at
//! `/accounts` and `/accounts/{user_id}`) and their JSON under `/api/v1/`, `/metrics`,
//! and health and readiness. Everything is served under the path of
//! `--web.external-url`, so links work behind a reverse proxy.
//!
//! - [`pages`]: the HTML, maud templates over the snapshots (escaped by construction).
//! - [`svg`]: the timeline picture and the travel map.
//! - [`mask`]: hides addresses for `--web.mask-ips`.
//! - [`auth`]: `--web.config.file` (basic auth, bearer tokens, TLS settings).
//! - [`tls`]: certificates for HTTPS.
//! - [`server`]: the HTTP/1.1 server loop and its limits (timeouts, connection cap).
//! - [`cache`]: pages rendered once per refresh.
//! - [`runbook`]: `docs/runbook.md` served as one page at `/runbook`.

pub mod auth;
pub mod cache;
pub mod mask;
pub mod pages;
pub mod runbook;
pub mod server;
pub mod svg;
pub mod tls;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::json;

use crate::fleet::Fleet;
use crate::metrics::Metrics;
use crate::snapshot::{Health, ServerState, Snapshot};

/// Re-reads the configuration files; `POST /-/reload` and SIGHUP call it.
pub trait Reload: Send + Sync + std::fmt::Debug {
    /// Load the files again and put them in force; on error the old configuration stays.
    fn reload(&self) -> Result<(), ReloadFailed>;
}

/// Why a reload changed nothing, as the reloader says it (the web layer only shows it).
pub type ReloadFailed = Box<dyn std::error::Error + Send + Sync>;

/// Shared state of the web handlers.
#[derive(Debug)]
pub struct Web {
    /// The registry to render.
    pub metrics: Metrics,
    /// The servers and their snapshots.
    pub fleet: Arc<Fleet>,
    /// Path of the metrics endpoint, e.g. `/metrics`.
    pub telemetry_path: String,
    /// Public base URL without a trailing slash (for links that leave the exporter:
    /// `report_url` in the JSON, which Grafana and alerts follow).
    pub external_url: String,
    /// What the HTML pages need (prefix, masking, thresholds).
    pub pages: pages::Settings,
    /// The web configuration in force (credentials required on every route but health
    /// and readiness; TLS).
    pub config: Arc<auth::Shared>,
    /// What `POST /-/reload` runs.
    pub reload: Arc<dyn Reload>,
    /// `/users` and `/api/v1/users`, rendered once per refresh.
    pub cache: cache::Pages,
}

impl Web {
    fn server(&self, name: &str) -> Option<Arc<ServerState>> {
        self.fleet.find(name)
    }
}

/// What the pages read from each server, taken once per request.
struct Taken {
    servers: Arc<[Arc<ServerState>]>,
    health: Vec<Health>,
    snapshots: Vec<Option<Arc<Snapshot>>>,
}

impl Taken {
    fn new(web: &Web) -> Taken {
        let servers = web.fleet.servers();
        Taken {
            health: servers.iter().map(|s| s.health()).collect(),
            snapshots: servers.iter().map(|s| s.snapshot()).collect(),
            servers,
        }
    }

    fn views(&self) -> Vec<pages::ServerView<'_>> {
        self.servers
            .iter()
            .zip(self.health.iter().zip(&self.snapshots))
            .map(|(s, (health, snap))| pages::ServerView {
                name: &s.name,
                health,
                snapshot: snap.as_deref(),
            })
            .collect()
    }
}

/// The router, mounted under `prefix` (the path of the external URL, "" for none).
/// The landing page answers both `{prefix}` and `{prefix}/`: the external URL is often
/// given, and followed, with a trailing slash.
pub fn router(web: Arc<Web>, prefix: &str) -> Router {
    let prefix = prefix.trim_end_matches('/');
    let at = |path: &str| format!("{prefix}{path}");
    let mut protected = Router::new()
        .route(&at("/"), get(landing))
        .route(&at(&web.telemetry_path), get(metrics))
        .route(&at("/users"), get(users_page))
        .route(&at("/users/{server}/{user_id}"), get(user_page))
        .route(&at("/api/v1/users"), get(api_users))
        .route(&at("/api/v1/users/{server}/{user_id}"), get(api_user))
        .route(&at("/accounts"), get(accounts_page))
        .route(&at("/accounts/{user_id}"), get(account_page))
        .route(&at("/api/v1/accounts"), get(api_accounts))
        .route(&at("/api/v1/accounts/{user_id}"), get(api_account))
        .route(&at("/runbook"), get(runbook::page))
        .route(&at("/-/reload"), post(reload).put(reload));
    if !prefix.is_empty() {
        protected = protected.route(prefix, get(landing));
    }
    // Always in place: a reload may add credentials to an open exporter.
    protected = protected.route_layer(middleware::from_fn_with_state(web.config.clone(), auth::require));
    // Probes come without credentials: health and readiness stay open.
    protected
        .route(&at("/-/healthy"), get(|| async { "Healthy\n" }))
        .route(&at("/-/ready"), get(ready))
        .with_state(web)
        .layer(middleware::map_response(no_sniff))
}

/// Every answer, axum's own plain-text errors included, is read as what it says it is.
async fn no_sniff(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// `POST /-/reload`: re-read `--config.file` and `--web.config.file`, as SIGHUP does.
async fn reload(State(web): State<Arc<Web>>) -> Response {
    let reloader = web.reload.clone();
    match tokio::task::spawn_blocking(move || reloader.reload()).await {
        Ok(Ok(())) => (StatusCode::OK, "Reloaded\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Reload failed; the previous configuration stays in force: {e}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Reload failed\n").into_response(),
    }
}

/// An HTML response. The CSP forbids scripts and every outside resource: the pages use
/// none, so anything that slipped through escaping still cannot run or phone home.
fn html(status: StatusCode, body: impl IntoResponse) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Reports name people and places: keep them out of shared caches.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn metrics(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let rendered = web.metrics.render(header(header::ACCEPT));
    let content_type = [
        (header::CONTENT_TYPE, rendered.content_type),
        (header::VARY, "Accept, Accept-Encoding"),
    ];
    if header(header::ACCEPT_ENCODING).contains("gzip") {
        let body = web.metrics.gzip(&rendered);
        (content_type, [(header::CONTENT_ENCODING, "gzip")], body).into_response()
    } else {
        (content_type, rendered.body).into_response()
    }
}

async fn ready(State(web): State<Arc<Web>>) -> Response {
    let servers = web.fleet.servers();
    let waiting: Vec<&str> = servers
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

async fn landing(State(web): State<Arc<Web>>) -> Response {
    let taken = Taken::new(&web);
    html(StatusCode::OK, pages::landing(&web.pages, &taken.views()))
}

/// The `?server=` filter of `/users` and `/api/v1/users`; empty means all.
#[derive(Debug, serde::Deserialize)]
struct UsersQuery {
    #[serde(default)]
    server: Option<String>,
}

impl UsersQuery {
    fn server(&self) -> Option<&str> {
        self.server.as_deref().filter(|s| !s.is_empty())
    }
}

async fn users_page(State(web): State<Arc<Web>>, Query(q): Query<UsersQuery>) -> Response {
    if let Some(name) = q.server() {
        if web.server(name).is_none() {
            return html(
                StatusCode::NOT_FOUND,
                pages::message(
                    &web.pages,
                    "No such server",
                    &format!("There is no server named {name:?}."),
                ),
            );
        }
    }
    let (stamp, w, filter) = (web.fleet.stamp(), web.clone(), q.server().map(str::to_string));
    let body = web
        .cache
        .get(cache::Page::Users, q.server(), stamp, move || {
            let taken = Taken::new(&w);
            pages::users(&w.pages, &taken.views(), filter.as_deref())
        })
        .await;
    html(StatusCode::OK, body)
}

async fn user_page(State(web): State<Arc<Web>>, Path((server, user_id)): Path<(String, String)>) -> Response {
    let missing = |title: &str, text: String| html(StatusCode::NOT_FOUND, pages::message(&web.pages, title, &text));
    let Some(s) = web.server(&server) else {
        return missing("No such server", format!("There is no server named {server:?}."));
    };
    let Ok(id) = user_id.parse::<i64>() else {
        return missing("No such user", format!("{user_id:?} is not a user id."));
    };
    let Some(snap) = s.snapshot() else {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(
                &web.pages,
                "No data yet",
                &format!("The first refresh of {server} has not succeeded yet."),
            ),
        );
    };
    match snap.finding(id) {
        Some(f) => {
            let on = web.fleet.accounts().find(id).map(|a| a.servers.len());
            html(
                StatusCode::OK,
                pages::user_on_servers(&web.pages, &server, &snap, f, on),
            )
        }
        None => missing(
            "No such user",
            format!("User {id} has no history on {server} in the window."),
        ),
    }
}

async fn api_users(State(web): State<Arc<Web>>, Query(q): Query<UsersQuery>) -> Response {
    if let Some(name) = q.server() {
        if web.server(name).is_none() {
            return json_error(StatusCode::NOT_FOUND, format!("no server named {name:?}"));
        }
    }
    let (stamp, w, filter) = (web.fleet.stamp(), web.clone(), q.server().map(str::to_string));
    let body = web
        .cache
        .get(cache::Page::UsersJson, q.server(), stamp, move || {
            users_json(&w, filter.as_deref())
        })
        .await;
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn users_json(web: &Web, filter: Option<&str>) -> String {
    let mut servers = Vec::new();
    for s in web.fleet.servers().iter() {
        if filter.is_some_and(|name| name != s.name) {
            continue;
        }
        let h = s.health();
        let snap = s.snapshot();
        let users: Vec<serde_json::Value> = snap
            .as_ref()
            .map(|snap| {
                snap.findings
                    .iter()
                    .map(|f| {
                        let live = snap.live.get(&f.user_id).cloned().unwrap_or_default();
                        let url = format!("{}/users/{}/{}", web.external_url, s.name, f.user_id);
                        user_entry(f, &live, url)
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
    json!({ "servers": servers }).to_string()
}

/// One user's entry in `/api/v1/users`, and (with `servers`) in `/api/v1/accounts`.
fn user_entry(f: &crate::detect::UserFinding, live: &crate::snapshot::Live, report_url: String) -> serde_json::Value {
    json!({
        "user_id": f.user_id, "user": f.user, "score": f.score, "flagged": f.flagged,
        "devices": f.devices, "heavy_devices": f.heavy_devices,
        "concurrent_sessions": f.concurrent_sessions,
        "concurrent_device_pairs": f.concurrent_device_pairs,
        "teleportations": f.teleportations, "same_device_jumps": f.same_device_jumps,
        "plays": f.plays,
        "watch_time_seconds": f.watch_time_seconds, "networks": f.networks,
        "live_streams": live.streams, "live_networks": live.networks,
        "report_url": report_url,
    })
}

async fn accounts_page(State(web): State<Arc<Web>>) -> Response {
    let (stamp, w) = (web.fleet.stamp(), web.clone());
    let body = web
        .cache
        .get(cache::Page::Accounts, None, stamp, move || {
            pages::accounts(&w.pages, &w.fleet.accounts())
        })
        .await;
    html(StatusCode::OK, body)
}

async fn account_page(State(web): State<Arc<Web>>, Path(user_id): Path<String>) -> Response {
    let missing = |text: String| {
        html(
            StatusCode::NOT_FOUND,
            pages::message(&web.pages, "No such account", &text),
        )
    };
    let Ok(id) = user_id.parse::<i64>() else {
        return missing(format!("{user_id:?} is not a user id."));
    };
    let all = web.fleet.accounts();
    match all.find(id) {
        Some(a) => html(StatusCode::OK, pages::account(&web.pages, &all, a)),
        None => missing(format!(
            "User {id} has no sessions on two or more servers in the window."
        )),
    }
}

async fn api_accounts(State(web): State<Arc<Web>>) -> Response {
    let (stamp, w) = (web.fleet.stamp(), web.clone());
    let body = web
        .cache
        .get(cache::Page::AccountsJson, None, stamp, move || accounts_json(&w))
        .await;
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `/api/v1/accounts`: each account on two or more servers as a `/api/v1/users` entry
/// (no live streams: those are per server), plus its servers and the stale ones.
fn accounts_json(web: &Web) -> String {
    let all = web.fleet.accounts();
    let accounts: Vec<serde_json::Value> = all
        .accounts
        .iter()
        .map(|a| {
            let url = format!("{}/accounts/{}", web.external_url, a.finding.user_id);
            let mut v = user_entry(&a.finding, &crate::snapshot::Live::default(), url);
            if let Some(o) = v.as_object_mut() {
                o.insert("servers".into(), json!(a.servers));
                o.insert("stale_servers".into(), json!(a.stale_servers));
            }
            v
        })
        .collect();
    json!({ "accounts": accounts }).to_string()
}

async fn api_account(State(web): State<Arc<Web>>, Path(user_id): Path<i64>) -> Response {
    let all = web.fleet.accounts();
    let Some(a) = all.find(user_id) else {
        return json_error(
            StatusCode::NOT_FOUND,
            format!("user {user_id} has no sessions on two or more servers in the window"),
        );
    };
    let f = &a.finding;
    let locations = crate::detect::locate::ip_locations(f, &all.view.locations);
    // The evidence's row ids number the account's sessions: where each came from.
    let origins: serde_json::Map<String, serde_json::Value> = f
        .evidence_rows()
        .into_iter()
        .filter_map(|r| {
            let (server, row_id) = a.origin(r)?;
            Some((r.to_string(), json!({"server": server, "row_id": row_id})))
        })
        .collect();
    let mut v = serde_json::to_value(f).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("servers".into(), json!(a.servers));
        o.insert("stale_servers".into(), json!(a.stale_servers));
        o.insert("row_origins".into(), json!(origins));
        o.insert("ip_locations".into(), json!(locations));
        o.insert(
            "window".into(),
            json!({"start": all.view.window.0, "end": all.view.window.1}),
        );
        o.insert(
            "sessions".into(),
            json!(f
                .spans
                .iter()
                .zip(&a.origins)
                .map(|(span, origin)| {
                    let mut s = serde_json::to_value(span).unwrap_or_default();
                    if let (Some(o), Some(server)) = (s.as_object_mut(), a.servers.get(usize::from(origin.server))) {
                        o.insert("server".into(), json!(server));
                    }
                    s
                })
                .collect::<Vec<_>>()),
        );
    }
    web.pages.ips.json(&mut v);
    Json(v).into_response()
}

async fn api_user(State(web): State<Arc<Web>>, Path((server, user_id)): Path<(String, i64)>) -> Response {
    let Some(s) = web.server(&server) else {
        return json_error(StatusCode::NOT_FOUND, format!("no server named {server:?}"));
    };
    let Some(snap) = s.snapshot() else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "no data yet".into());
    };
    let Some(f) = snap.finding(user_id) else {
        return json_error(
            StatusCode::NOT_FOUND,
            format!("user {user_id} has no history in the window"),
        );
    };
    let locations = crate::detect::locate::ip_locations(f, &snap.locations);
    let live = snap.live.get(&user_id).cloned().unwrap_or_default();
    let mut v = serde_json::to_value(f).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("server".into(), json!(server));
        o.insert("ip_locations".into(), json!(locations));
        o.insert("live_streams".into(), json!(live.streams));
        o.insert("live_networks".into(), json!(live.networks));
        o.insert("window".into(), json!({"start": snap.window.0, "end": snap.window.1}));
        // What the timeline picture draws: every session, indexing device_usage and
        // ip_usage (not in the `report` JSON, which would repeat the whole history).
        o.insert("sessions".into(), json!(f.spans));
    }
    web.pages.ips.json(&mut v);
    Json(v).into_response()
}
