//! The head of a user's report: the summary cards and the score explained term by term.

use maud::{html, Markup};

use super::Page;
use crate::format::fmt_duration;
use crate::web::pages::{num, table, Col};

/// One summary card; `hot` ones are red.
fn card(key: &str, value: &str, hot: bool) -> Markup {
    html! {
        div class={ "card" @if hot { " hot" } } { div class="v" { (value) } div class="k" { (key) } }
    }
}

/// The summary cards: score, devices, networks, concurrency, travel, plays, live.
pub(super) fn cards(page: &Page) -> Markup {
    let Page { s, snap, f, .. } = page;
    let live = snap.live.get(&f.user_id).cloned().unwrap_or_default();
    html! {
        div class="cards" {
            (card(&format!("score (flag ≥ {})", num(s.min_score)), &num(f.score), f.flagged))
            (card("devices (heavy)", &format!("{} ({})", f.devices, f.heavy_devices), false))
            (card("networks", &f.networks.to_string(), false))
            (card("concurrent sessions", &f.concurrent_sessions.to_string(), f.concurrent_sessions > 0))
            (card("concurrent device pairs", &f.concurrent_device_pairs.to_string(), f.concurrent_device_pairs > 0))
            (card("teleportations", &f.teleportations.to_string(), f.teleportations > 0))
            (card("plays", &f.plays.to_string(), false))
            (card("watch time", &fmt_duration(f.watch_time_seconds), false))
            (card("live (networks)", &format!("{} ({})", live.streams, live.networks), live.networks > 1))
        }
    }
}

#[rustfmt::skip]
const TERMS: [Col; 5] = [
    Col::text("Term"), Col::text("What is counted"), Col::num("Count"), Col::num("Weight"), Col::num("Points"),
];

/// Why the score is what it is: each term's count, weight and points, and the total.
pub(super) fn score(page: &Page) -> Markup {
    let Page { s, f, .. } = page;
    let rows = html! {
        @for t in &f.score_terms {
            tr {
                td { code { (t.name) } }
                td { (t.description) }
                td class="num" { (t.count) }
                td class="num" { "× " (num(t.weight)) }
                td class="num" { (num(t.points)) }
            }
        }
    };
    let verdict = if f.flagged {
        format!(" — at or above {}: flagged", num(s.min_score))
    } else {
        format!(" — flagged at {} or more", num(s.min_score))
    };
    let foot = html! { tr { td colspan="4" { "Score" (verdict) } td class="num" { (num(f.score)) } } };
    html! {
        h2 id="score" { "Why the score is " (num(f.score)) }
        (table(Some("terms"), &TERMS, rows, Some(foot)))
    }
}
