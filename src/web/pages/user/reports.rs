//! The reference script's three reports for one user: the device breakdown, the
//! concurrent-session timeline with its overlapping pairs, and IP usage by watch time.

use maud::{html, Markup};

use super::Page;
use crate::detect::concurrency::DistanceUnknown;
use crate::detect::Overlap;
use crate::format::fmt_duration;
use crate::format::fmt_utc;
use crate::web::pages::{table, Col};

#[rustfmt::skip]
const DEVICES: [Col; 6] = [
    Col::text("Platform"), Col::text("Player"), Col::text("Device"), Col::num("Plays"), Col::num("Watch time"),
    Col::text("IPs"),
];

/// Report 1: every device with its plays, watch time and addresses.
pub(super) fn devices(page: &Page) -> Markup {
    let f = page.f;
    let rows = html! {
        @for d in &f.device_usage {
            tr {
                td { (d.platform) }
                td { (d.player) }
                td { code { (d.machine_id) } @if d.heavy { " " span class="badge warn" { "heavy" } } }
                td class="num" { (d.plays) }
                td class="num" { (fmt_duration(d.watch_time_seconds)) }
                td {
                    @for (i, ip) in d.ips.iter().enumerate() { @if i > 0 { br; } (page.ip_cell(*ip)) }
                    @if d.ips.is_empty() { "—" }
                }
            }
        }
    };
    html! {
        h2 id="devices" { "Device breakdown" }
        p class="sub" {
            "Devices: " (f.devices) " · Heavy devices: " (f.heavy_devices) " · Concurrent sessions: " (f.concurrent_sessions)
            " · Concurrent device pairs: " (f.concurrent_device_pairs) " · Total plays: " (f.plays)
            " · Total watch time: " (fmt_duration(f.watch_time_seconds))
        }
        (table(Some("devices"), &DEVICES, rows, None))
    }
}

#[rustfmt::skip]
const SESSIONS: [Col; 6] = [
    Col::text("Time"), Col::num("Played"), Col::text("Platform"), Col::text("Player"), Col::text("IP"),
    Col::text("Title"),
];

#[rustfmt::skip]
const OVERLAPS: [Col; 5] = [
    Col::text("From"), Col::num("Both playing"), Col::text("First session"), Col::text("Second session"),
    Col::text("Distance"),
];

/// Report 2: the sessions that overlapped another device on another network, by day,
/// and the overlapping pairs themselves.
pub(super) fn concurrent(page: &Page) -> Markup {
    html! {
        h2 id="timeline" { "Concurrent-session timeline" }
        @if page.f.timeline.is_empty() && page.f.overlaps.is_empty() {
            p class="muted" { "No concurrent sessions." }
        } @else {
            (sessions_and_overlaps(page))
        }
    }
}

/// The sessions table, a date row before each new day, and the pairs under a fold.
fn sessions_and_overlaps(page: &Page) -> Markup {
    let f = page.f;
    let mut current = String::new();
    let mut sessions = Vec::with_capacity(f.timeline.len());
    for e in &f.timeline {
        let date = fmt_utc(e.started).chars().take(10).collect::<String>();
        let new_day = (date != current).then(|| date.clone());
        current = date;
        sessions.push(html! {
            @if let Some(date) = new_day { tr class="date" { th colspan="6" { (date) } } }
            tr {
                td class="nw" { (fmt_utc(e.started).get(11..).unwrap_or("")) "–" (fmt_utc(e.ended).get(11..).unwrap_or("")) }
                td class="num" { (fmt_duration(u64::from(e.play_seconds))) }
                td { (e.platform) }
                td { (e.player) }
                td { @match e.ip { Some(ip) => (page.ip_cell(ip)), None => "?" } }
                td { (if e.title.is_empty() { "?" } else { &e.title }) }
            }
        });
    }
    let overlaps = html! {
        @for o in &f.overlaps {
            tr {
                td { (fmt_utc(o.started)) }
                td class="num" { (fmt_duration(u64::try_from(o.seconds).unwrap_or(0))) }
                td { (overlap_side(page, o, true)) }
                td { (overlap_side(page, o, false)) }
                td { (distance(o)) }
            }
        }
    };
    let counted = f.overlaps.iter().filter(|o| !o.nearby).count();
    let nearby = f.overlaps.len() - counted;
    html! {
        p class="sub" {
            "Sessions that ran at the same time as another device on another network: " (f.timeline.len())
            " session(s) in " (counted) " overlapping pair(s)."
            @if nearby > 0 {
                " " (nearby) " more pair(s) are nearby: GeoIP places both sides in the same area, so they are counted apart."
            }
        }
        @if !f.timeline.is_empty() {
            (table(Some("sessions"), &SESSIONS, html! { @for row in sessions { (row) } }, None))
        }
        details {
            summary { "The " (f.overlaps.len()) " overlapping pair(s)" }
            (table(Some("overlaps"), &OVERLAPS, overlaps, None))
        }
    }
}

/// One side of an overlap: device, platform and player, when it played, address and place.
fn overlap_side(page: &Page, o: &Overlap, first: bool) -> Markup {
    let (machine, platform, player, started, ended, ip, place) = if first {
        (
            &o.first_machine_id,
            &o.first_platform,
            &o.first_player,
            o.first_started,
            o.first_ended,
            o.first_ip,
            &o.first_place,
        )
    } else {
        (
            &o.second_machine_id,
            &o.second_platform,
            &o.second_player,
            o.second_started,
            o.second_ended,
            o.second_ip,
            &o.second_place,
        )
    };
    html! {
        code { (machine) } " " (platform) " · " (player) br;
        span class="nw" { (fmt_utc(started)) " – " (fmt_utc(ended).get(11..).unwrap_or("")) } br;
        @if let Some(ip) = ip { (page.s.ips.ip(ip)) } @else { "?" }
        @if let Some(place) = place { " " span class="muted" { "(" (place) ")" } }
    }
}

/// How far apart the two sides are, whether that makes the pair nearby, or why it is unknown.
fn distance(o: &Overlap) -> Markup {
    html! {
        @match (o.distance_km, o.distance_unknown) {
            (Some(km), _) => {
                (format!("{km:.0} km"))
                @if o.nearby { " " span class="badge ok" title="both sides in the same area: not counted as a concurrent session" { "nearby" } }
            }
            (None, reason) => {
                "distance unknown" br;
                span class="muted" { (match reason {
                    Some(DistanceUnknown::PrivateAddress) => "a local address",
                    Some(DistanceUnknown::CountryLevel) => "located to a country only",
                    Some(DistanceUnknown::NotLocated) | None => "not located",
                }) }
            }
        }
    }
}

#[rustfmt::skip]
const IPS: [Col; 6] = [
    Col::text("IP"), Col::text("Network"), Col::num("Plays"), Col::num("Watch time"), Col::num("Share"),
    Col::text("Platforms"),
];

/// Report 3: every address with its network, plays and share of the watch time.
pub(super) fn ips(page: &Page) -> Markup {
    let Page { s, f, .. } = page;
    let total: u64 = f.ip_usage.iter().map(|i| i.watch_time_seconds).sum();
    let plays: u64 = f.ip_usage.iter().map(|i| i.plays).sum();
    let rows = html! {
        @for u in &f.ip_usage {
            @let pct = if total > 0 { u.watch_time_seconds as f64 / total as f64 * 100.0 } else { 0.0 };
            tr {
                td { (page.ip_cell(u.ip)) }
                td { (s.ips.network(u.ip)) }
                td class="num" { (u.plays) }
                td class="num" { (fmt_duration(u.watch_time_seconds)) }
                td class="num" { (format!("{pct:.0}%")) }
                td { (u.platforms.join(", ")) }
            }
        }
    };
    html! {
        h2 id="ips" { "IP usage by watch time" }
        p class="sub" { "Total: " (plays) " plays, " (fmt_duration(total)) " watch time, " (f.ip_usage.len()) " unique IP(s)" }
        (table(Some("ips"), &IPS, rows, None))
    }
}
