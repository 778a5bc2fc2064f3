//! `/users/{server}/{user_id}`: one user's full report. This file holds the page's
//! order and its head; each section has its own function:
//! - [`summary`]: the cards and the score explained term by term;
//! - [`picture`]: the timeline picture and its legend;
//! - [`travel`]: the teleportation events and their map, the same-device jumps and the
//!   ISP pools;
//! - [`reports`]: the reference script's three reports (devices, concurrent-session
//!   timeline, IP usage).

use std::net::IpAddr;

use maud::{html, Markup};

use super::{document, flagged_badge, Settings};
use crate::detect::UserFinding;
use crate::format::fmt_utc;
use crate::snapshot::Snapshot;

mod picture;
mod reports;
mod summary;
mod travel;

/// What every section of the page reads.
struct Page<'a> {
    s: &'a Settings,
    server: &'a str,
    snap: &'a Snapshot,
    f: &'a UserFinding,
    /// Servers the user's account is seen on, when two or more (the account page exists).
    account_servers: Option<usize>,
}

impl Page<'_> {
    /// An address with its location, as every table shows it.
    fn ip_cell(&self, ip: IpAddr) -> Markup {
        html! {
            (self.s.ips.ip(ip))
            @if let Some(l) = self.snap.locations.get(&ip) {
                " " span class="muted" { "(" (l) ")" }
            }
        }
    }
}

/// `/users/{server}/{user_id}`: the reference script's three reports for one user, the
/// teleportation events, the score explained term by term, and the pictures.
pub fn user(s: &Settings, server: &str, snap: &Snapshot, f: &UserFinding) -> String {
    user_on_servers(s, server, snap, f, None)
}

/// [`user`], linking to the account page when the user's account is seen on
/// `account_servers` (two or more) servers.
pub fn user_on_servers(
    s: &Settings,
    server: &str,
    snap: &Snapshot,
    f: &UserFinding,
    account_servers: Option<usize>,
) -> String {
    let page = Page {
        s,
        server,
        snap,
        f,
        account_servers,
    };
    let body = html! {
        (head(&page))
        (account_link(&page))
        (sections(&page))
    };
    document(s, &f.user, body)
}

/// Breadcrumbs, the name with its badge, and who, where and when.
fn head(page: &Page) -> Markup {
    let Page { s, server, snap, f, .. } = page;
    let p = &s.prefix;
    html! {
        p class="crumbs" { a href={ (p) "/users" } { "Users" } " › " a href={ (p) "/users?server=" (server) } { (server) } }
        h1 {
            (f.user) " "
            @if f.flagged { (flagged_badge()) } @else { span class="badge ok" { "not flagged" } }
        }
        p class="sub" {
            @if !f.username.is_empty() { (f.username) " · " }
            "user id " (f.user_id) " · server " (server) " · window " (fmt_utc(snap.window.0)) " – " (fmt_utc(snap.window.1)) " · "
            a href={ (p) "/api/v1/users/" (server) "/" (f.user_id) } { "JSON" }
        }
    }
}

/// The way to the account view, for a user whose account streams from several servers.
fn account_link(page: &Page) -> Markup {
    html! {
        @if let Some(n) = page.account_servers {
            p { span class="badge warn" { "on " (n) " servers" } " This account streams from " (n) " servers: "
                a href={ (page.s.prefix) "/accounts/" (page.f.user_id) } { "its sessions on every server together" } "." }
        }
    }
}

/// The report's sections after its head, for a finding of the account view (`server`
/// is `accounts`): the same evidence, read from every server at once.
pub fn account_sections(s: &Settings, snap: &Snapshot, f: &UserFinding) -> Markup {
    let page = Page {
        s,
        server: "accounts",
        snap,
        f,
        account_servers: None,
    };
    sections(&page)
}

/// The report's sections after its head, in page order: one list for the user page and
/// the account page, so a new section reaches both.
fn sections(page: &Page) -> Markup {
    html! {
        (summary::cards(page))
        (summary::score(page))
        (picture::timeline(page))
        (reports::devices(page))
        (travel::teleportations(page))
        (travel::same_device(page))
        (travel::isp_pools(page))
        (reports::concurrent(page))
        (reports::ips(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::pages::fixtures::snapshot;

    #[test]
    fn the_user_page_escapes_names_and_links_under_the_prefix() {
        let snap = snapshot("Zoë & \"Friends\" <test>");
        let s = Settings {
            prefix: "/exporter".into(),
            telemetry_path: "/metrics".into(),
            ..Settings::default()
        };
        let html = user(&s, "home", &snap, &snap.findings[0]);
        assert!(!html.contains("<test>") && !html.contains("u<7>"));
        assert!(html.contains("Zoë &amp; &quot;Friends&quot; &lt;test&gt;"));
        assert!(html.contains(r#"href="/exporter/users""#));
        assert!(html.contains(r#"href="/exporter/api/v1/users/home/7""#));
        assert!(html.contains("<svg"));
    }
}
