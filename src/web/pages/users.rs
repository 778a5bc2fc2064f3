//! `/users`: every user of every server (or of one), most suspicious first.

use std::collections::BTreeSet;

use maud::{html, Markup};

use super::{document, flagged_badge, num, table, user_href, Col, ServerView, Settings};
use crate::detect::ranking::by_suspicion_across_servers;
use crate::detect::UserFinding;
use crate::format::fmt_duration;
use crate::format::fmt_utc;
use crate::snapshot::{Live, Snapshot};

/// One row of the table: the server's name, its snapshot, the finding.
type Row<'a> = (&'a str, &'a Snapshot, &'a UserFinding);

/// The table's columns, each with what it counts.
#[rustfmt::skip]
const COLUMNS: [Col; 15] = [
    Col::num("#"), Col::text("User"), Col::text("Server"), Col::num("Score"), Col::text(""),
    Col::num("Devices").titled("distinct devices"), Col::num("Heavy").titled("devices with many plays"),
    Col::num("Networks").titled("distinct networks (the LAN counts once)"),
    Col::num("Pairs").titled("device pairs streaming at the same time from different networks"),
    Col::num("Overlaps").titled("overlapping session pairs from different devices and networks"),
    Col::num("Teleports").titled("impossible-travel jumps"),
    Col::num("VPN?").titled("one device, far-apart places minutes apart: likely a VPN or proxy"), Col::num("Live").titled("streams playing now"),
    Col::num("Plays"), Col::num("Watch time"),
];

/// `/users`: every user of every server (or of `filter` only), highest score first.
/// The caller answers 404 for a `filter` that names no server.
pub fn users(s: &Settings, servers: &[ServerView], filter: Option<&str>) -> String {
    let p = &s.prefix;
    let shown: Vec<&ServerView> = servers.iter().filter(|v| filter.is_none_or(|f| f == v.name)).collect();
    let mut rows: Vec<Row> = Vec::new();
    for v in &shown {
        if let Some(snap) = v.snapshot {
            rows.extend(snap.findings.iter().map(|f| (v.name, snap, &**f)));
        }
    }
    rows.sort_by(|a, b| by_suspicion_across_servers((a.0, a.2), (b.0, b.2)));
    let waiting: Vec<&str> = shown.iter().filter(|v| v.snapshot.is_none()).map(|v| v.name).collect();
    let flagged = rows.iter().filter(|r| r.2.flagged).count();
    let windows: BTreeSet<String> = shown
        .iter()
        .filter_map(|v| v.snapshot)
        .map(|snap| format!("{} – {}", fmt_utc(snap.window.0), fmt_utc(snap.window.1)))
        .collect();
    let windows = if windows.is_empty() {
        "—".to_string()
    } else {
        windows.into_iter().collect::<Vec<_>>().join("; ")
    };
    let body = html! {
        h1 { "Users" }
        p class="sub" {
            (rows.len()) " user(s), " b { (flagged) " flagged" } " (score ≥ " (num(s.min_score)) ") · window " (windows) " · "
            a href={ (p) "/api/v1/users" @if let Some(f) = filter { "?server=" (f) } } { "JSON" }
        }
        form class="filter" method="get" action={ (p) "/users" } {
            label for="server" { "Server" } " "
            select id="server" name="server" {
                option value="" { "all servers" }
                @for v in servers {
                    option value=(v.name) selected[filter == Some(v.name)] { (v.name) }
                }
            }
            " " button type="submit" { "Show" }
        }
        @if !waiting.is_empty() {
            p { span class="badge warn" { "waiting" } " No data yet from " (waiting.join(", ")) ": the first refresh has not succeeded." }
        }
        @if rows.is_empty() && waiting.is_empty() {
            p { "Nobody has history in the window." }
        }
        (table(Some("users"), &COLUMNS, html! { @for (rank, row) in rows.iter().enumerate() { (user_row(s, rank + 1, row)) } }, None))
    };
    document(s, "Users", body)
}

/// One user's row, `rank` counted from 1.
fn user_row(s: &Settings, rank: usize, (server, snap, f): &Row) -> Markup {
    let live = snap.live.get(&f.user_id).cloned().unwrap_or_default();
    html! {
        tr {
            td class="num" { (rank) }
            td class="user" { a href=(user_href(s, server, f.user_id)) { (f.user) } div class="muted" { (f.username) } }
            td { (server) }
            td class={ "num score" @if f.flagged { " hot" } } { (num(f.score)) }
            td { @if f.flagged { (flagged_badge()) } }
            td class="num" { (f.devices) }
            td class="num" { (f.heavy_devices) }
            td class="num" { (f.networks) }
            td class="num" { (f.concurrent_device_pairs) }
            td class="num" { (f.concurrent_sessions) }
            td class="num" { (f.teleportations) }
            td class="num" { (f.same_device_jumps) }
            td class="num" { (live_text(&live)) }
            td class="num" { (f.plays) }
            td class="num" { (fmt_duration(f.watch_time_seconds)) }
        }
    }
}

/// Streams playing now; a red badge when they come from more than one network.
fn live_text(live: &Live) -> Markup {
    html! {
        @match (live.streams, live.networks) {
            (0, _) => "—",
            (n, nets) if nets > 1 => span class="badge flag" title={ (n) " streams from " (nets) " networks right now" } { (n) " · " (nets) " nets" },
            (n, _) => (n),
        }
    }
}
