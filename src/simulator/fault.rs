//! The misbehaviours the simulated server can be switched to ([`Fault`]) and the
//! made-up answers some of them send: rows with a key given twice, pages without end,
//! bodies past any size cap.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{json, Value};

use super::dataset::{user_row, SessionSpec};

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
    /// Requests for `cmd` wait this long before answering; the others answer at once.
    Slow {
        /// The command that is slow.
        cmd: &'static str,
        /// How long it waits.
        delay: Duration,
    },
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
    /// `get_history` ignores `order_column`: rows come grouped by user, each user's
    /// oldest first, as `../shared/bench/fake_tautulli.py` serves them.
    Unordered,
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

/// A success envelope around `data`, where a `"__duplicate_key_row__"` element becomes
/// [`DUPLICATE_KEY_ROW`] (a JSON value cannot hold a key twice, its text can).
pub(super) fn success_with_raw_rows(data: Value) -> Response {
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
pub(super) fn with_duplicate_key_row(mut rows: Vec<Value>, fault: Option<&Fault>) -> Vec<Value> {
    if fault == Some(&Fault::DuplicateKeyRow) {
        rows.push(json!("__duplicate_key_row__"));
    }
    rows
}

/// A full page of made-up rows for [`Fault::EndlessPages`]: ids from `start` on, so
/// every page brings new ones.
pub(super) fn endless_page(cmd: &str, q: &HashMap<String, String>) -> Vec<Value> {
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

/// `resp` padded with spaces (valid JSON whitespace) to `bytes`, streamed in chunks.
pub(super) async fn oversized(resp: Response, bytes: usize) -> Response {
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
