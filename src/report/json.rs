//! The `--format json` document: `{"generated_at", "window", "scoring", "source", "users"}`.
//! Every user in the window is listed (most suspicious first) with `flagged` telling
//! whether they pass `--min-score` / `--concurrent-only`. With several servers
//! (`--config.file`): `{"generated_at", "servers": [that document with "server"],
//! "accounts"}`, the accounts seen on two or more servers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Context;
use crate::detect::locate::ip_locations;
use crate::detect::{Scoring, UserFinding};
use crate::format::rfc3339;

/// The detection window.
#[derive(Debug, Serialize)]
pub struct Window {
    /// Start, epoch seconds.
    pub start: i64,
    /// End, epoch seconds.
    pub end: i64,
    /// Start, RFC 3339 UTC.
    pub start_time: String,
    /// End, RFC 3339 UTC.
    pub end_time: String,
    /// Length in days.
    pub days: f64,
}

/// Where the data came from and what was dropped on the way.
#[derive(Debug, Serialize, Default)]
pub struct Source {
    /// Tautulli base URL (no key).
    pub tautulli_url: String,
    /// API requests sent.
    pub api_requests: u64,
    /// History rows received.
    pub rows_received: u64,
    /// Sessions inside the window that were analysed.
    pub sessions: u64,
    /// Rows skipped, by reason.
    pub rows_skipped: BTreeMap<String, u64>,
    /// Days whose row count disagreed with Tautulli's count.
    pub count_mismatches: Vec<String>,
}

/// One user with the location of each of their addresses.
#[derive(Debug, Serialize)]
pub struct UserEntry<'a> {
    /// The finding.
    #[serde(flatten)]
    pub finding: &'a UserFinding,
    /// Location label per address (empty without GeoIP).
    pub ip_locations: BTreeMap<String, String>,
}

/// The whole document.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// When it was produced, RFC 3339 UTC.
    pub generated_at: String,
    /// The window analysed.
    pub window: Window,
    /// The score formula and threshold.
    pub scoring: &'a Scoring,
    /// Flag threshold.
    pub min_score: f64,
    /// Data source summary.
    pub source: Source,
    /// Users, highest score first.
    pub users: Vec<UserEntry<'a>>,
}

/// Build the document; `findings` should already be sorted.
pub fn document<'a, F: std::borrow::Borrow<UserFinding>>(
    findings: &'a [F],
    ctx: &Context,
    scoring: &'a Scoring,
    min_score: f64,
    source: Source,
) -> Document<'a> {
    let (start, end) = ctx.window;
    Document {
        generated_at: rfc3339(ctx.generated_at),
        window: Window {
            start,
            end,
            start_time: rfc3339(start),
            end_time: rfc3339(end),
            days: (end - start) as f64 / 86_400.0,
        },
        scoring,
        min_score,
        source,
        users: findings
            .iter()
            .map(|f| f.borrow())
            .map(|f| UserEntry {
                finding: f,
                ip_locations: ip_locations(f, &ctx.locations),
            })
            .collect(),
    }
}

/// One account seen on two or more servers: a user entry, plus its servers and where
/// each session of the evidence came from.
#[derive(Debug, Serialize)]
pub struct AccountEntry<'a> {
    /// The finding over every server (its evidence's row ids are keys of `row_origins`).
    #[serde(flatten)]
    pub user: UserEntry<'a>,
    /// The servers with sessions of the account.
    pub servers: &'a [String],
    /// The server and Tautulli row id behind each row id of the evidence.
    pub row_origins: BTreeMap<i64, RowOrigin<'a>>,
}

/// Where one session of an account's evidence came from.
#[derive(Debug, Serialize)]
pub struct RowOrigin<'a> {
    /// Server name.
    pub server: &'a str,
    /// Row id on that server.
    pub row_id: i64,
}

/// One server's document in a report of several servers.
#[derive(Debug, Serialize)]
pub struct ServerDocument<'a> {
    /// Server name (from the configuration file).
    pub server: &'a str,
    /// Its report.
    #[serde(flatten)]
    pub document: Document<'a>,
}

/// The document of a report of several servers (`--config.file`).
#[derive(Debug, Serialize)]
pub struct ServersDocument<'a> {
    /// When it was produced, RFC 3339 UTC.
    pub generated_at: String,
    /// One document per server, in the file's order.
    pub servers: Vec<ServerDocument<'a>>,
    /// Accounts seen on two or more servers, highest score first.
    pub accounts: Vec<AccountEntry<'a>>,
}

/// The entries of `accounts` (already sorted), located through `ctx`.
pub fn accounts<'a>(accounts: &'a [crate::detect::AccountFinding], ctx: &Context) -> Vec<AccountEntry<'a>> {
    accounts
        .iter()
        .map(|a| {
            let f = &a.finding;
            AccountEntry {
                user: UserEntry {
                    finding: f,
                    ip_locations: ip_locations(f, &ctx.locations),
                },
                servers: &a.servers,
                row_origins: f
                    .evidence_rows()
                    .into_iter()
                    .filter_map(|r| a.origin(r).map(|(server, row_id)| (r, RowOrigin { server, row_id })))
                    .collect(),
            }
        })
        .collect()
}
