//! A simulated Tautulli: an HTTP server speaking API v2 with Tautulli's envelope,
//! status codes and quirks (date filters on the server-local date of `started`,
//! `length=-1` dropping the last row, every error HTTP 400), serving an in-memory
//! dataset. The `demo` command and the integration tests use it; faults can be switched
//! on to test how clients cope.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jiff::tz::TimeZone;
use jiff::Timestamp;
pub mod rng;
pub mod scenario;

use serde_json::{json, Value};

/// One playback to put in the simulated history (the fields detection reads; the
/// rest of Tautulli's row is filled with plausible values).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSpec {
    /// History row id.
    pub row_id: i64,
    /// Plex user id.
    pub user_id: i64,
    /// Username.
    pub user: String,
    /// Display name.
    pub friendly_name: String,
    /// Start, epoch seconds.
    pub started: i64,
    /// Seconds played.
    pub play: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Device id.
    pub machine_id: String,
    /// Platform.
    pub platform: String,
    /// Player name.
    pub player: String,
    /// Client address.
    pub ip: String,
    /// Title played.
    pub title: String,
    /// Through Plex's relay.
    pub relayed: bool,
    /// On a cellular network (`location: cellular`).
    pub cellular: bool,
}

impl SessionSpec {
    /// The row exactly as Tautulli's `get_history` (grouping=0) returns it.
    pub fn to_row(&self) -> Value {
        let stopped = self.started + self.play + self.paused;
        let location = if self.cellular {
            "cellular"
        } else if crate::detect::network::is_private(self.ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))) {
            "lan"
        } else {
            "wan"
        };
        json!({
            "reference_id": self.row_id, "row_id": self.row_id, "id": self.row_id,
            "date": self.started, "started": self.started, "stopped": stopped,
            "duration": self.play, "play_duration": self.play, "paused_counter": self.paused,
            "user_id": self.user_id, "user": self.user, "friendly_name": self.friendly_name,
            "user_thumb": "", "platform": self.platform, "product": format!("Plex for {}", self.platform),
            "player": self.player, "ip_address": self.ip, "live": 0, "machine_id": self.machine_id,
            "location": location, "secure": 1, "relayed": i64::from(self.relayed),
            "media_type": "episode", "rating_key": 5000 + self.row_id % 97,
            "parent_rating_key": 4000, "grandparent_rating_key": 3000,
            "full_title": self.title, "title": self.title, "parent_title": "Season 1",
            "grandparent_title": "", "original_title": "", "year": 2019, "media_index": 1,
            "parent_media_index": 1, "thumb": "", "originally_available_at": "2019-01-01",
            "guid": "plex://episode/0", "transcode_decision": "direct play",
            "percent_complete": 97, "watched_status": 1, "group_count": 1,
            "group_ids": self.row_id.to_string(), "state": null, "session_key": null
        })
    }
}

/// What the simulated server holds.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// `get_users_table` rows.
    pub users: Vec<Value>,
    /// Ungrouped history rows (any order).
    pub history: Vec<Value>,
    /// `get_geoip_lookup` data by address.
    pub geo: HashMap<String, Value>,
    /// `get_activity` sessions.
    pub activity: Vec<Value>,
}

/// A user row as `get_users_table` returns it.
pub fn user_row(user_id: i64, username: &str, friendly_name: &str) -> Value {
    json!({
        "row_id": user_id, "user_id": user_id, "username": username, "friendly_name": friendly_name,
        "title": username, "email": format!("{username}@example.com"), "user_thumb": "",
        "plays": 0, "duration": 0, "last_seen": null, "last_played": null, "history_row_id": null,
        "ip_address": null, "platform": null, "player": null, "do_notify": 1, "keep_history": 1,
        "allow_guest": 0, "is_active": 1
    })
}

/// A `get_geoip_lookup` answer.
pub fn geo_row(city: &str, region: &str, country: &str, code: &str, lat: f64, lon: f64) -> Value {
    json!({
        "city": city, "code": code, "continent": null, "country": country, "latitude": lat,
        "longitude": lon, "postal_code": null, "region": region, "timezone": null, "accuracy": null
    })
}

/// A misbehaviour to switch on.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Every request: HTTP 500 `Check the logs for errors`.
    ServerError,
    /// Every request: HTTP 200 with an HTML page.
    NotJson,
    /// Every request: a JSON body cut in the middle.
    TruncatedJson,
    /// Every request waits this long before answering.
    Hang(Duration),
    /// Every request: HTTP 400 `Invalid apikey` (the key was changed in Tautulli).
    InvalidKey,
    /// Every answer is padded with whitespace to at least this many bytes and streamed
    /// without a `Content-Length`, so only counting the body can catch it.
    Oversized(usize),
    /// `get_history`: each page after the first is served as if one row had been
    /// written ahead of it since the previous page: it repeats the previous page's last
    /// row, and `recordsFiltered` is one higher than the first page said.
    ShiftingRows,
    /// `get_history`: `recordsFiltered` is off by this many rows.
    CountMismatch(i64),
    /// Every request: HTTP 502 with an HTML page quoting the request URL, API key
    /// included, as some reverse proxies do.
    EchoRequest,
    /// `get_history`: every page also carries elements that are not rows at all (a
    /// number, a string, null, a list), which no real Tautulli row looks like; they are
    /// not in `recordsFiltered`.
    JunkRows,
    /// `get_history`, `get_users_table` and `get_activity`: every answer also carries one
    /// row object that gives a key twice (`"user_id":990,"user_id":991`); it is not in
    /// `recordsFiltered`.
    DuplicateKeyRow,
    /// `cmd` (`get_history` or `get_users_table`): every page is full, `length` rows
    /// (at most [`ENDLESS_PAGE_MAX`]) with ids never sent before, however far it is
    /// paged. `recordsFiltered` stays the dataset's count, or is `"n/a"` with
    /// `garbage_count`.
    EndlessPages {
        /// The command that misbehaves.
        cmd: &'static str,
        /// Send `recordsFiltered: "n/a"` instead of a count.
        garbage_count: bool,
    },
}

/// The most rows one [`Fault::EndlessPages`] page holds, whatever `length` asks.
pub const ENDLESS_PAGE_MAX: usize = 10_000;

/// The ghost user whose rows [`Fault::EndlessPages`] and [`Fault::DuplicateKeyRow`] make up.
pub const GHOST_USER: i64 = 990;

/// A row with `user_id` twice, as [`Fault::DuplicateKeyRow`] sends it.
const DUPLICATE_KEY_ROW: &str = r#"{"row_id":1999999999,"id":1999999999,"user_id":990,"user":"ghost","friendly_name":"Ghost","username":"ghost","started":1795132800,"stopped":1795133400,"play_duration":600,"ip_address":"85.5.5.5","machine_id":"ghost-tv","session_key":"77","state":"playing","user_id":991}"#;

/// Where [`DUPLICATE_KEY_ROW`] goes in a serialized body.
const DUPLICATE_KEY_SLOT: &str = "\"__duplicate_key_row__\"";

/// One request the server received (without the API key).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The `cmd` parameter.
    pub cmd: String,
    /// All other parameters.
    pub params: HashMap<String, String>,
}

/// The simulated Tautulli.
pub struct FakeTautulli {
    data: RwLock<Indexed>,
    api_key: String,
    tz: TimeZone,
    fault: Mutex<Option<Fault>>,
    log: Mutex<Vec<Request>>,
}

#[derive(Default)]
struct Indexed {
    dataset: Dataset,
    /// Per history row: (started, server-local date, user_id as text).
    keys: Vec<(i64, String, String)>,
}

impl Indexed {
    fn new(dataset: Dataset, tz: &TimeZone) -> Indexed {
        let keys = dataset
            .history
            .iter()
            .map(|r| {
                let started = r.get("started").and_then(Value::as_i64).unwrap_or(0);
                let date = Timestamp::from_second(started)
                    .map(|t| t.to_zoned(tz.clone()).date().to_string())
                    .unwrap_or_default();
                let uid = match r.get("user_id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => String::new(),
                };
                (started, date, uid)
            })
            .collect();
        Indexed { dataset, keys }
    }
}

impl FakeTautulli {
    /// A server with `dataset`, accepting `api_key`, whose local time zone is `tz`.
    pub fn new(dataset: Dataset, api_key: &str, tz: TimeZone) -> Arc<FakeTautulli> {
        Arc::new(FakeTautulli {
            data: RwLock::new(Indexed::new(dataset, &tz)),
            api_key: api_key.to_string(),
            tz,
            fault: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        })
    }

    /// Replace the dataset (simulates Tautulli recording new plays).
    pub fn set_dataset(&self, dataset: Dataset) {
        if let Ok(mut d) = self.data.write() {
            *d = Indexed::new(dataset, &self.tz);
        }
    }

    /// Change the dataset in place.
    pub fn update(&self, f: impl FnOnce(&mut Dataset)) {
        if let Ok(mut d) = self.data.write() {
            let mut ds = std::mem::take(&mut d.dataset);
            f(&mut ds);
            *d = Indexed::new(ds, &self.tz);
        }
    }

    /// Switch a fault on (`Some`) or off (`None`).
    pub fn set_fault(&self, fault: Option<Fault>) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Requests received for `cmd`.
    pub fn count(&self, cmd: &str) -> usize {
        self.requests().iter().filter(|r| r.cmd == cmd).count()
    }

    /// The HTTP routes, with the API under `{root}/api/v2`.
    pub fn router(self: &Arc<Self>, root: &str) -> Router {
        let path = format!("{}/api/v2", root.trim_end_matches('/'));
        Router::new().route(&path, get(handle)).with_state(self.clone())
    }

    /// Serve on `addr` (port 0 picks one) in the background; returns the bound address.
    pub async fn spawn(self: &Arc<Self>, addr: SocketAddr, root: &str) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let app = self.router(root);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(bound)
    }
}

/// A running simulated Tautulli that can stop listening and listen again on the same
/// address, to simulate "connection refused" and recovery.
pub struct FakeServer {
    fake: Arc<FakeTautulli>,
    addr: SocketAddr,
    root: String,
    running: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl FakeTautulli {
    /// Serve on `addr` (port 0 picks one) and return a handle that can stop and restart.
    pub async fn serve(self: &Arc<Self>, addr: SocketAddr, root: &str) -> std::io::Result<FakeServer> {
        let mut server = FakeServer {
            fake: self.clone(),
            addr,
            root: root.to_string(),
            running: None,
        };
        server.restart().await?;
        Ok(server)
    }
}

impl FakeServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop listening and close open connections: new connections are refused.
    pub async fn stop(&mut self) {
        if let Some((tx, task)) = self.running.take() {
            let _ = tx.send(());
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Listen again on the same address (no-op while running).
    pub async fn restart(&mut self) -> std::io::Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        self.addr = listener.local_addr()?;
        let app = self.fake.router(&self.root);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        self.running = Some((tx, task));
        Ok(())
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some((tx, _)) = self.running.take() {
            let _ = tx.send(());
        }
    }
}

fn envelope(status: StatusCode, result: &str, message: Option<&str>, data: Value) -> Response {
    let body = json!({"response": {"result": result, "message": message, "data": data}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// A success envelope around `data`, where a `"__duplicate_key_row__"` element becomes
/// [`DUPLICATE_KEY_ROW`] (a JSON value cannot hold a key twice, its text can).
fn success_with_raw_rows(data: Value) -> Response {
    let body = json!({"response": {"result": "success", "message": null, "data": data}})
        .to_string()
        .replace(DUPLICATE_KEY_SLOT, DUPLICATE_KEY_ROW);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body,
    )
        .into_response()
}

/// `rows` plus the duplicate-key row when that fault is on.
fn with_duplicate_key_row(mut rows: Vec<Value>, fault: Option<&Fault>) -> Vec<Value> {
    if fault == Some(&Fault::DuplicateKeyRow) {
        rows.push(json!("__duplicate_key_row__"));
    }
    rows
}

/// A full page of made-up rows for [`Fault::EndlessPages`]: ids from `start` on, so
/// every page brings new ones.
fn endless_page(cmd: &str, q: &HashMap<String, String>) -> Vec<Value> {
    let int = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0).max(0);
    let (start, length) = (int("start"), int("length").min(ENDLESS_PAGE_MAX as i64));
    (start..start + length)
        .map(|i| {
            let id = 1_000_000_000 + i;
            if cmd == "get_users_table" {
                user_row(id, &format!("ghost{i}"), &format!("Ghost {i}"))
            } else {
                SessionSpec {
                    row_id: id,
                    user_id: GHOST_USER,
                    user: "ghost".into(),
                    friendly_name: "Ghost".into(),
                    started: Timestamp::now().as_second() - 86_400,
                    play: 600,
                    paused: 0,
                    machine_id: "ghost-tv".into(),
                    platform: "Roku".into(),
                    player: "Ghost TV".into(),
                    ip: "85.5.5.5".into(),
                    title: "Ghost Show".into(),
                    relayed: false,
                    cellular: false,
                }
                .to_row()
            }
        })
        .collect()
}

fn error(message: &str) -> Response {
    envelope(StatusCode::BAD_REQUEST, "error", Some(message), json!({}))
}

fn exception() -> Response {
    envelope(
        StatusCode::INTERNAL_SERVER_ERROR,
        "error",
        Some("Check the logs for errors"),
        json!({}),
    )
}

const COMMANDS: &str = "get_activity, get_geoip_lookup, get_history, get_users_table";

async fn handle(
    State(s): State<Arc<FakeTautulli>>,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = s.fault.lock().ok().and_then(|f| f.clone());
    let resp = answer(&s, fault.as_ref(), &q, raw.as_deref().unwrap_or("")).await;
    match fault {
        Some(Fault::Oversized(bytes)) => oversized(resp, bytes).await,
        _ => resp,
    }
}

/// `resp` padded with spaces (valid JSON whitespace) to `bytes`, streamed in chunks.
async fn oversized(resp: Response, bytes: usize) -> Response {
    let (parts, body) = resp.into_parts();
    let mut body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    body.resize(body.len().max(bytes), b' ');
    let chunks: Vec<Result<Vec<u8>, std::convert::Infallible>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let mut resp = Response::from_parts(parts, axum::body::Body::from_stream(futures_util::stream::iter(chunks)));
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp
}

async fn answer(s: &FakeTautulli, fault: Option<&Fault>, q: &HashMap<String, String>, raw: &str) -> Response {
    let cmd = q.get("cmd").cloned().unwrap_or_default();
    if let Ok(mut log) = s.log.lock() {
        let params = q
            .iter()
            .filter(|(k, _)| *k != "apikey" && *k != "cmd")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        log.push(Request {
            cmd: cmd.clone(),
            params,
        });
    }
    match fault {
        Some(Fault::ServerError) => return exception(),
        Some(Fault::NotJson) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Bad Gateway</body></html>",
            )
                .into_response()
        }
        Some(Fault::TruncatedJson) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"response": {"result": "success", "data": {"recordsFi"#,
            )
                .into_response()
        }
        Some(Fault::Hang(d)) => tokio::time::sleep(*d).await,
        Some(Fault::InvalidKey) => return error("Invalid apikey"),
        Some(Fault::EchoRequest) => {
            return (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                format!("<html><body>502 Bad Gateway: upstream failed for GET /api/v2?{raw}</body></html>"),
            )
                .into_response()
        }
        _ => {}
    }
    let Some(key) = q.get("apikey") else {
        return error("Parameter apikey is required");
    };
    if cmd.is_empty() {
        return error(&format!("Parameter cmd is required. Possible commands are: {COMMANDS}"));
    }
    if !COMMANDS.split(", ").any(|c| c == cmd) {
        return error(&format!("Unknown command: {cmd}. Possible commands are: {COMMANDS}"));
    }
    if *key != s.api_key {
        return error("Invalid apikey");
    }
    let Ok(data) = s.data.read() else {
        return exception();
    };
    match cmd.as_str() {
        "get_users_table" => {
            let rows = &data.dataset.users;
            let count = json!(rows.len());
            let page = match fault {
                Some(Fault::EndlessPages { cmd, garbage_count }) if *cmd == "get_users_table" => {
                    let count = if *garbage_count { json!("n/a") } else { count };
                    Some((endless_page(cmd, q), count))
                }
                _ => page(rows.iter().collect(), q).map(|p| (p.into_iter().cloned().collect(), count)),
            };
            match page {
                Some((p, count)) => {
                    success_with_raw_rows(json!({"recordsFiltered": count, "recordsTotal": rows.len(), "draw": 1,
                       "data": with_duplicate_key_row(p, fault)}))
                }
                None => exception(),
            }
        }
        "get_history" => history(&data, q, fault),
        "get_geoip_lookup" => {
            let ip = q.get("ip_address").map(|s| s.trim().to_string()).unwrap_or_default();
            if ip.is_empty() {
                return error("No IP address provided.");
            }
            if ip.parse::<std::net::IpAddr>().is_err() {
                let m = format!("Invalid IP address provided: {ip}");
                return envelope(StatusCode::BAD_REQUEST, "error", Some(&m), json!({"error": m}));
            }
            match data.dataset.geo.get(&ip) {
                Some(g) => envelope(StatusCode::OK, "success", None, g.clone()),
                None => {
                    let m = format!("Failed to lookup GeoIP info for address: {ip}");
                    envelope(StatusCode::BAD_REQUEST, "error", Some(&m), json!({"error": m}))
                }
            }
        }
        "get_activity" => {
            let sessions = &data.dataset.activity;
            success_with_raw_rows(json!({"stream_count": sessions.len().to_string(),
                "sessions": with_duplicate_key_row(sessions.clone(), fault)}))
        }
        _ => error("Unknown command"),
    }
}

/// Tautulli's slice: `start`/`length` (default 25); `length=-1` drops the last row;
/// a non-integer is an exception (HTTP 500).
fn page<'a>(rows: Vec<&'a Value>, q: &HashMap<String, String>) -> Option<Vec<&'a Value>> {
    let int = |k: &str, d: i64| -> Option<i64> {
        match q.get(k) {
            None => Some(d),
            Some(v) if v.is_empty() => Some(d),
            Some(v) => v.parse().ok(),
        }
    };
    let start = int("start", 0)?.max(0) as usize;
    let length = int("length", 25)?;
    let n = rows.len();
    let start = start.min(n);
    let end = if length < 0 {
        // Python's rows[start:start-1]
        ((start as i64 + length).rem_euclid(n.max(1) as i64) as usize)
            .max(start)
            .min(n)
    } else {
        (start + length as usize).min(n)
    };
    Some(rows[start..end].to_vec())
}

fn history(data: &Indexed, q: &HashMap<String, String>, fault: Option<&Fault>) -> Response {
    let users: Option<Vec<&str>> = q
        .get("user_id")
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').map(str::trim).collect());
    let after = q.get("after").filter(|s| !s.is_empty());
    let before = q.get("before").filter(|s| !s.is_empty());
    let mut idx: Vec<usize> = (0..data.keys.len())
        .filter(|&i| {
            let (_, date, uid) = &data.keys[i];
            users.as_ref().is_none_or(|u| u.contains(&uid.as_str()))
                && after.is_none_or(|a| date.as_str() >= a.as_str())
                && before.is_none_or(|b| date.as_str() <= b.as_str())
        })
        .collect();
    let asc = q.get("order_column").map(String::as_str) == Some("started")
        && q.get("order_dir").map(String::as_str) == Some("asc");
    idx.sort_by_key(|&i| data.keys[i].0);
    if !asc {
        idx.reverse();
    }
    let rows: Vec<&Value> = idx.iter().map(|&i| &data.dataset.history[i]).collect();
    let mut filtered = rows.len() as i64;
    let mut q = q.clone();
    match fault {
        Some(Fault::ShiftingRows) => {
            let start: i64 = q.get("start").and_then(|v| v.parse().ok()).unwrap_or(0);
            if start > 0 {
                q.insert("start".into(), (start - 1).to_string());
                filtered += 1;
            }
        }
        Some(Fault::CountMismatch(delta)) => filtered = (filtered + delta).max(0),
        _ => {}
    }
    let mut count = json!(filtered);
    let page = match fault {
        Some(Fault::EndlessPages { cmd, garbage_count }) if *cmd == "get_history" => {
            if *garbage_count {
                count = json!("n/a");
            }
            Some(endless_page(cmd, &q))
        }
        _ => page(rows, &q).map(|p| p.into_iter().cloned().collect()),
    };
    match page {
        Some(mut p) => {
            if fault == Some(&Fault::JunkRows) {
                p.extend([json!(42), json!("row"), Value::Null, json!([1, 2])]);
            }
            success_with_raw_rows(
                json!({"recordsFiltered": count, "recordsTotal": data.keys.len(), "draw": 1,
                   "filter_duration": "0", "total_duration": "0", "data": with_duplicate_key_row(p, fault)}),
            )
        }
        None => exception(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!(i)).collect()
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn length_minus_one_drops_the_last_row_like_tautulli() {
        let r = rows(5);
        assert_eq!(page(r.iter().collect(), &q(&[("length", "-1")])).unwrap().len(), 4);
        assert_eq!(page(r.iter().collect(), &q(&[])).unwrap().len(), 5);
        assert_eq!(
            page(r.iter().collect(), &q(&[("start", "3"), ("length", "25")]))
                .unwrap()
                .len(),
            2
        );
        assert!(page(r.iter().collect(), &q(&[("length", "abc")])).is_none());
    }
}
