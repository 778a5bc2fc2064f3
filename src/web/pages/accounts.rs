//! `/accounts` and `/accounts/{user_id}`: the account view across servers. An account
//! (Tautulli's `user_id`, the plex.tv account) seen on two or more servers, its sessions
//! on all of them analysed together; the evidence names the server of each session.

use maud::{html, Markup};

use super::user::account_sections;
use super::{document, flagged_badge, num, table, user_href, Col, Settings};
use crate::accounts::Accounts;
use crate::detect::AccountFinding;
use crate::format::{fmt_duration, fmt_utc};

#[rustfmt::skip]
const COLUMNS: [Col; 12] = [
    Col::num("#"), Col::text("Account"), Col::text("Servers"), Col::num("Score"), Col::text(""),
    Col::num("Devices").titled("distinct devices on every server"),
    Col::num("Networks").titled("distinct networks (the LAN counts once)"),
    Col::num("Pairs").titled("device pairs streaming at the same time from different networks"),
    Col::num("Overlaps").titled("overlapping session pairs from different devices and networks"),
    Col::num("Teleports").titled("impossible-travel jumps"),
    Col::num("Plays"), Col::num("Watch time"),
];

/// `/accounts`: every account seen on two or more servers, most suspicious first.
pub fn accounts(s: &Settings, all: &Accounts) -> String {
    let p = &s.prefix;
    let flagged = all.accounts.iter().filter(|a| a.finding.flagged).count();
    let rows = html! {
        @for (rank, a) in all.accounts.iter().enumerate() {
            @let f = &a.finding;
            tr {
                td class="num" { (rank + 1) }
                td class="user" { a href={ (p) "/accounts/" (f.user_id) } { (f.user) } div class="muted" { "user id " (f.user_id) } }
                td { (servers(s, a)) }
                td class={ "num score" @if f.flagged { " hot" } } { (num(f.score)) }
                td { @if f.flagged { (flagged_badge()) } }
                td class="num" { (f.devices) }
                td class="num" { (f.networks) }
                td class="num" { (f.concurrent_device_pairs) }
                td class="num" { (f.concurrent_sessions) }
                td class="num" { (f.teleportations) }
                td class="num" { (f.plays) }
                td class="num" { (fmt_duration(f.watch_time_seconds)) }
            }
        }
    };
    let body = html! {
        h1 { "Accounts across servers" }
        p class="sub" {
            (all.accounts.len()) " account(s) on two or more servers, " b { (flagged) " flagged" } " (score ≥ " (num(s.min_score)) ") · "
            a href={ (p) "/api/v1/accounts" } { "JSON" }
        }
        p { "Tautulli's user id is the plex.tv account, the same on every server. Each account here streams from several servers; its sessions on all of them are analysed together, so one login used by two households, one on each server, shows as it would on one server." }
        @if all.accounts.is_empty() {
            p class="muted" { "No account has sessions on two or more servers in the window (or fewer than two servers have data)." }
        }
        (table(Some("accounts"), &COLUMNS, rows, None))
    };
    document(s, "Accounts", body)
}

/// The servers of an account, each linking to its user page there, stale ones marked.
fn servers(s: &Settings, a: &AccountFinding) -> Markup {
    html! {
        @for (i, name) in a.servers.iter().enumerate() {
            @if i > 0 { ", " }
            a href=(user_href(s, name, a.finding.user_id)) { (name) }
            @if a.stale_servers.contains(name) { " " span class="badge warn" title="this server's last refresh failed: its last good sessions are shown" { "stale" } }
        }
    }
}

/// `/accounts/{user_id}`: one account's report over every server: which session came
/// from which server, then the sections of a user's report.
pub fn account(s: &Settings, all: &Accounts, a: &AccountFinding) -> String {
    let p = &s.prefix;
    let f = &a.finding;
    let body = html! {
        p class="crumbs" { a href={ (p) "/accounts" } { "Accounts" } }
        h1 {
            (f.user) " "
            @if f.flagged { (flagged_badge()) } @else { span class="badge ok" { "not flagged" } }
        }
        p class="sub" {
            "user id " (f.user_id) " · on " (a.servers.len()) " servers: " (servers(s, a))
            " · window " (fmt_utc(all.view.window.0)) " – " (fmt_utc(all.view.window.1)) " · "
            a href={ (p) "/api/v1/accounts/" (f.user_id) } { "JSON" }
        }
        @if !a.stale_servers.is_empty() {
            p { span class="badge warn" { "stale" } " The last refresh of " (a.stale_servers.join(", ")) " failed: its last good sessions are used." }
        }
        (by_server(a))
        (account_sections(s, &all.view, f))
    };
    document(s, &f.user, body)
}

#[rustfmt::skip]
const PAIRS: [Col; 4] = [Col::text("From"), Col::text("Both playing"), Col::text("First session"), Col::text("Second session")];

#[rustfmt::skip]
const JUMPS: [Col; 4] = [Col::text("From"), Col::text("To"), Col::num("Distance"), Col::num("Speed")];

/// The evidence with the server of each session: the overlapping pairs and the jumps.
fn by_server(a: &AccountFinding) -> Markup {
    let f = &a.finding;
    let on = |row_id: i64| a.origin(row_id).map(|(server, _)| server).unwrap_or("?");
    let pairs = html! {
        @for o in f.overlaps.iter().filter(|o| !o.nearby) {
            tr {
                td class="nw" { (fmt_utc(o.started)) }
                td class="num" { (fmt_duration(u64::try_from(o.seconds).unwrap_or(0))) }
                td { b { (on(o.first_row_id)) } " · " (o.first_player) " (" (o.first_platform) ")" @if let Some(pl) = &o.first_place { " · " (pl) } }
                td { b { (on(o.second_row_id)) } " · " (o.second_player) " (" (o.second_platform) ")" @if let Some(pl) = &o.second_place { " · " (pl) } }
            }
        }
    };
    let jumps = html! {
        @for j in f.jumps.iter().filter(|j| !j.same_device) {
            tr {
                td { (fmt_utc(j.from.time)) " · " b { (on(j.from.row_id)) } " · " (j.from.place.label()) }
                td { (fmt_utc(j.to.time)) " · " b { (on(j.to.row_id)) } " · " (j.to.place.label()) }
                td class="num" { (num(j.distance_km)) " km" }
                td class="num" { (num(j.speed_kmh)) " km/h" }
            }
        }
    };
    html! {
        h2 id="servers" { "Sessions by server" }
        @if f.concurrent_sessions == 0 && f.teleportations == 0 {
            p class="muted" { "No concurrent sessions and no impossible travel across the servers." }
        }
        @if f.concurrent_sessions > 0 {
            p class="sub" { "Overlapping sessions from different devices and networks, and the server each streamed from." }
            (table(Some("server-pairs"), &PAIRS, pairs, None))
        }
        @if f.teleportations > 0 {
            p class="sub" { "Impossible travel, and the server each end streamed from." }
            (table(Some("server-jumps"), &JUMPS, jumps, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::accounts::Origin;
    use crate::web::pages::fixtures::snapshot;

    /// User 7 of the fixture as an account on `home` (stale) and `cabin`.
    fn all() -> Accounts {
        let view = snapshot("Zoë & \"Friends\" <test>");
        let finding = view.findings[0].clone();
        // The fixture's rows are 1 (the TV) and 2 (the phone): row 0 is unused here.
        let origin = |server, row_id| Origin { server, row_id };
        let origins = vec![origin(0, 0), origin(0, 1), origin(1, 1)];
        Accounts {
            accounts: vec![AccountFinding {
                finding,
                servers: vec!["home".into(), "cabin".into()],
                stale_servers: vec!["home".into()],
                origins,
            }],
            view,
            analysis: Default::default(),
        }
    }

    #[test]
    fn the_account_pages_escape_names_link_under_the_prefix_and_name_each_sessions_server() {
        let s = Settings {
            prefix: "/exporter".into(),
            telemetry_path: "/metrics".into(),
            ..Settings::default()
        };
        let all = all();
        let list = accounts(&s, &all);
        assert!(!list.contains("<test>") && list.contains("Zoë &amp; &quot;Friends&quot; &lt;test&gt;"));
        assert!(list.contains(r#"href="/exporter/accounts/7""#));
        assert!(
            list.contains(r#"href="/exporter/users/home/7""#) && list.contains(r#"href="/exporter/users/cabin/7""#)
        );
        assert!(list.contains("stale"));
        let page = account(&s, &all, &all.accounts[0]);
        assert!(!page.contains("<test>"));
        assert!(page.contains(r#"href="/exporter/api/v1/accounts/7""#));
        assert!(page.contains("The last refresh of home failed"));
        // The fixture's one overlap: the TV on home, the phone on cabin.
        assert!(page.contains("<b>home</b> · tv-player (tv-platform)"), "{page}");
        assert!(page.contains("<b>cabin</b> · phone-player (phone-platform)"), "{page}");
        assert!(page.contains("<svg"), "the user page's sections follow");
    }
}
