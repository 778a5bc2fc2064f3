//! The landing page: what this is, where to go, and how each server is doing.

use maud::{html, Markup};

use super::{document, table, Col, ServerView, Settings};

#[rustfmt::skip]
const COLUMNS: [Col; 6] = [
    Col::text("Server"), Col::text("Status"), Col::num("Sessions"), Col::num("Users"), Col::num("Flagged"),
    Col::text("Last error"),
];

/// The landing page: what this is, where to go, and how each server is doing.
pub fn landing(s: &Settings, servers: &[ServerView]) -> String {
    let p = &s.prefix;
    let body = html! {
        h1 { "Plex Sharing Exporter" }
        p class="sub" { "Finds Plex account sharing in Tautulli's history: streams from different networks at the same time, and travel faster than a plane." }
        ul {
            li { a href={ (p) "/users" } { "Users" } ": every user in the window, most suspicious first, each with a full report (" a href={ (p) "/api/v1/users" } { "JSON" } ")" }
            li { a href={ (p) "/accounts" } { "Accounts" } ": accounts that stream from two or more servers, their sessions on all of them analysed together (" a href={ (p) "/api/v1/accounts" } { "JSON" } ")" }
            li { a href={ (p) (s.telemetry_path) } { "Metrics" } " for Prometheus" }
            li { a href={ (p) "/runbook" } { "Runbook" } ": what each alert means and what to do" }
            li { a href={ (p) "/-/healthy" } { "Health" } " · " a href={ (p) "/-/ready" } { "Readiness" } }
        }
        h2 { "Servers" }
        (table(None, &COLUMNS, html! { @for v in servers { (server_row(s, v)) } }, None))
    };
    document(s, "Home", body)
}

/// One server's row: status, sessions, users, flagged users, last error.
fn server_row(s: &Settings, v: &ServerView) -> Markup {
    let h = v.health;
    let snap = v.snapshot;
    html! {
        tr {
            td { a href={ (s.prefix) "/users?server=" (v.name) } { (v.name) } }
            td {
                @if h.up {
                    span class="badge ok" { "up" }
                } @else if h.attempts == 0 {
                    span class="badge warn" { "starting" }
                } @else {
                    span class="badge flag" { "DOWN" }
                }
            }
            td class="num" { (snap.map(|s| s.rows).unwrap_or(0)) }
            td class="num" { (snap.map(|s| s.findings.len()).unwrap_or(0)) }
            td class="num" { (snap.map(|s| s.findings.iter().filter(|f| f.flagged).count()).unwrap_or(0)) }
            td { (h.last_error.as_deref().unwrap_or("")) }
        }
    }
}
