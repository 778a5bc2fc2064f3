//! The API v2 answers: the envelope, the commands and their parameters, Tautulli's
//! paging and date filters, and where a switched-on [`Fault`] changes the answer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::dataset::Indexed;
use super::fault::{endless_page, oversized, success_with_raw_rows, with_duplicate_key_row, Fault};
use super::server::{FakeTautulli, Request};

fn envelope(status: StatusCode, result: &str, message: Option<&str>, data: Value) -> Response {
    let body = json!({"response": {"result": result, "message": message, "data": data}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
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

pub(super) async fn handle(
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
        Some(Fault::Slow { cmd: slow, delay }) if *slow == cmd => tokio::time::sleep(*delay).await,
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
    let delay = s.lookup_delay.lock().map(|d| *d).unwrap_or_default();
    if cmd == "get_geoip_lookup" && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if cmd == "get_history" {
        let (response, (filtered, returned)) = match s.data.read() {
            Ok(data) => history(&data, q, fault),
            Err(_) => return exception(),
        };
        s.charge(filtered, returned).await;
        return response;
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

/// The answer, and the rows the filters matched and the page returned (its cost).
fn history(data: &Indexed, q: &HashMap<String, String>, fault: Option<&Fault>) -> (Response, (usize, usize)) {
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
    if fault == Some(&Fault::Unordered) {
        idx.sort_by(|&a, &b| (&data.keys[a].2, data.keys[a].0).cmp(&(&data.keys[b].2, data.keys[b].0)));
    } else {
        idx.sort_by_key(|&i| data.keys[i].0);
        if !asc {
            idx.reverse();
        }
    }
    let rows: Vec<&Value> = idx.iter().map(|&i| &data.dataset.history[i]).collect();
    let matched = rows.len();
    let mut filtered = matched as i64;
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
            let returned = p.len();
            if fault == Some(&Fault::JunkRows) {
                p.extend([json!(42), json!("row"), Value::Null, json!([1, 2])]);
            }
            let response = success_with_raw_rows(
                json!({"recordsFiltered": count, "recordsTotal": data.keys.len(), "draw": 1,
                   "filter_duration": "0", "total_duration": "0", "data": with_duplicate_key_row(p, fault)}),
            );
            (response, (matched, returned))
        }
        None => (exception(), (matched, 0)),
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
