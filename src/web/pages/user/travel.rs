//! The teleportation events of a user's report (the map and one row per jump), the
//! same-device jumps, shown apart because they point at a VPN rather than at sharing,
//! and the ISP pools that made two places one home.

use maud::{html, Markup, PreEscaped};

use super::Page;
use crate::detect::{Jump, JumpEnd};
use crate::format::fmt_utc;
use crate::web::pages::{num, table, Col, Settings};
use crate::web::svg;

#[rustfmt::skip]
const JUMPS: [Col; 6] = [
    Col::text("From"), Col::text("To"), Col::num("Distance"), Col::num("Time"), Col::num("Speed"),
    Col::text("Devices"),
];

#[rustfmt::skip]
const SAME_DEVICE: [Col; 6] = [
    Col::text("From"), Col::text("To"), Col::num("Distance"), Col::num("Time"), Col::num("Speed"),
    Col::text("Device"),
];

/// Consecutive sessions too far apart for the time between them, on a map and in a table.
pub(super) fn teleportations(page: &Page) -> Markup {
    let Page { s, snap, f, .. } = page;
    let teleports: Vec<Jump> = f.jumps.iter().filter(|j| !j.same_device).cloned().collect();
    let rows = html! {
        @for j in &teleports {
            tr {
                (jump_cells(s, j))
                td class="nw" { (j.from.platform) " → " (j.to.platform) }
            }
        }
    };
    html! {
        h2 id="teleportations" { "Teleportation events (" (f.teleportations) ")" }
        @if teleports.is_empty() {
            @if snap.locations.is_empty() {
                p class="muted" { "None: addresses are not located (enable " code { "--geoip-db" } " or " code { "--geo" } ")." }
            } @else {
                p class="muted" { "None detected." }
            }
        } @else {
            @if let Some(map) = svg::travel_map(&teleports) {
                // maud output with its text escaped (web::svg).
                figure { (PreEscaped(map)) }
            }
            p class="sub" {
                "Consecutive sessions too far apart for the time between them (faster than " (num(s.max_speed_kmh))
                " km/h, after subtracting GeoIP accuracy)."
            }
            (table(Some("jumps"), &JUMPS, rows, None))
        }
    }
}

/// Jumps between two sessions of one device: one device cannot be in two places, so its
/// address moved (a VPN or proxy switching exits). Shown, never scored by default.
pub(super) fn same_device(page: &Page) -> Markup {
    let Page { s, f, .. } = page;
    if f.same_device_jumps == 0 {
        return html! {};
    }
    let rows = html! {
        @for j in f.jumps.iter().filter(|j| j.same_device) {
            tr {
                (jump_cells(s, j))
                td class="nw" {
                    (j.from.platform) div class="muted" { (j.from.machine_id) }
                    @if j.likely_vpn_exit { div { "VPN or proxy exit: the ends' operators or countries differ" } }
                }
            }
        }
    };
    let shown = f.jumps.iter().filter(|j| j.same_device).count();
    let weight = f
        .score_terms
        .iter()
        .find(|t| t.name == "same_device_jumps")
        .map_or(0.0, |t| t.weight);
    html! {
        h2 id="same-device-jumps" {
            "One device, far-apart places minutes apart: likely a VPN or proxy (" (f.same_device_jumps) ")"
        }
        p class="sub" {
            "The same device in places too far apart for the time between them. One device cannot be in two "
            "places, so its address moved: most often a VPN or proxy switching exits. Not counted as "
            "teleportation; they score " code { "--weight.same-device-jump" } " each (" (num(weight)) ")."
            @if shown < f.same_device_jumps { " The first " (shown) " are listed." }
        }
        (table(Some("same-device-jumps"), &SAME_DEVICE, rows, None))
    }
}

#[rustfmt::skip]
const POOLS: [Col; 5] = [
    Col::text("Networks"), Col::text("Where GeoIP puts them"), Col::num("Apart"), Col::num("Switches"),
    Col::text("Device"),
];

/// Networks of one operator that a device kept switching between faster than anyone
/// travels: one home GeoIP splits, so its overlaps and jumps are not evidence. Shown so
/// the owner sees why.
pub(super) fn isp_pools(page: &Page) -> Markup {
    let Page { s, f, .. } = page;
    if f.isp_pools.is_empty() {
        return html! {};
    }
    let rows = html! {
        @for p in &f.isp_pools {
            tr {
                td class="nw" { (s.ips.household(p.networks[0])) br; (s.ips.household(p.networks[1])) }
                td { (p.places[0]) br; (p.places[1]) }
                td class="num" { (format!("{:.0} km", p.distance_km)) }
                td class="num" { (p.switches) }
                td class="nw" { (p.machine_id) }
            }
        }
    };
    html! {
        h2 id="isp-pools" { "One home, two places: ISP address pools (" (f.isp_pools.len()) ")" }
        p class="sub" {
            "Two networks of one operator in one country that a device kept switching between "
            "faster than anyone travels: one home whose addresses GeoIP places apart. Their overlaps "
            "and jumps count as one home. One operator alone never joins two homes."
        }
        (table(Some("isp-pools"), &POOLS, rows, None))
    }
}

/// The cells both jump tables share: each end (time, place, address), then distance,
/// time between and speed.
fn jump_cells(s: &Settings, j: &Jump) -> Markup {
    let end = |e: &JumpEnd| html! { span class="nw" { (fmt_utc(e.time)) } br; (e.place.label_with_network()) div class="muted" { (s.ips.ip(e.ip)) } };
    html! {
        td { (end(&j.from)) }
        td { (end(&j.to)) }
        td class="num" { (format!("{:.0} km", j.distance_km)) }
        td class="num" { (format!("{:.1} h", j.hours)) }
        td class="num" { (format!("{:.0} km/h", j.speed_kmh)) }
    }
}
