//! The timeline picture of a user's report, its legend, and what it leaves out.

use maud::{html, Markup, PreEscaped};

use super::Page;
use crate::web::svg;

/// The sessions across the window as a picture, with its legend and a line for each
/// cap that left something out.
pub(super) fn timeline(page: &Page) -> Markup {
    let Page { s, snap, f, .. } = page;
    let t = svg::timeline(f, snap.window, s.ips, &snap.locations);
    html! {
        h2 id="picture" { "Sessions across the window" }
        figure {
            // maud output with its text escaped (web::svg).
            (PreEscaped(&t.svg))
            figcaption class="legend" {
                @for e in &t.legend {
                    span { span class="sw" style={ "background:" (e.color) } {} (e.label) }
                }
            }
        }
        @if f.device_usage.len() > svg::MAX_LANES {
            p class="muted" { "The picture shows the " (svg::MAX_LANES) " most watched devices of " (f.device_usage.len()) "." }
        }
        @if t.sessions_not_drawn > 0 {
            p class="muted" {
                (t.sessions_not_drawn) " sessions are not drawn: the picture shows at most " (svg::MAX_SESSION_BARS)
                " (concurrent ones first, then the most recent)."
            }
        }
    }
}
