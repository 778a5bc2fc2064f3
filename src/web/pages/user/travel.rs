//! The teleportation events of a user's report: the map and one row per jump.

use maud::{html, Markup, PreEscaped};

use super::Page;
use crate::detect::JumpEnd;
use crate::format::fmt_utc;
use crate::web::pages::{num, table, Col};
use crate::web::svg;

#[rustfmt::skip]
const JUMPS: [Col; 6] = [
    Col::text("From"), Col::text("To"), Col::num("Distance"), Col::num("Time"), Col::num("Speed"),
    Col::text("Devices"),
];

/// Consecutive sessions too far apart for the time between them, on a map and in a table.
pub(super) fn teleportations(page: &Page) -> Markup {
    let Page { s, snap, f, .. } = page;
    let end = |e: &JumpEnd| html! { span class="nw" { (fmt_utc(e.time)) } br; (e.place.label()) div class="muted" { (s.ips.ip(e.ip)) } };
    let rows = html! {
        @for j in &f.jumps {
            tr {
                td { (end(&j.from)) }
                td { (end(&j.to)) }
                td class="num" { (format!("{:.0} km", j.distance_km)) }
                td class="num" { (format!("{:.1} h", j.hours)) }
                td class="num" { (format!("{:.0} km/h", j.speed_kmh)) }
                td class="nw" { (j.from.platform) " → " (j.to.platform) }
            }
        }
    };
    html! {
        h2 id="teleportations" { "Teleportation events (" (f.jumps.len()) ")" }
        @if f.jumps.is_empty() {
            @if snap.locations.is_empty() {
                p class="muted" { "None: addresses are not located (enable " code { "--geoip-db" } " or " code { "--geo" } ")." }
            } @else {
                p class="muted" { "None detected." }
            }
        } @else {
            @if let Some(map) = svg::travel_map(&f.jumps) {
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
