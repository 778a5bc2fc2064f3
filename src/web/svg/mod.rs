//! Pictures for the user page, rendered on the server as inline SVG (no script, no
//! external resources, so the page works offline and under a strict CSP).
//!
//! - [`timeline`](timeline::timeline): the window left to right, one lane per device.
//! - [`map::travel_map`]: the places of the user's impossible-travel jumps.
//!
//! This file holds what both share: colours, the caps, time and number formatting, text
//! cutting, and `finish`, which turns a picture's markup into a string.
//!
//! Every piece of text comes from Tautulli or GeoIP. The pictures are maud templates, so
//! each interpolated value is HTML-escaped by construction, and `finish` replaces
//! bidirectional controls with U+FFFD.
//!
//! The size of a picture does not depend on the data: every loop draws at most a fixed
//! number of items (the `MAX_*` constants), every text is cut to a fixed length, times
//! are clamped into the window and coordinates onto the globe. A picture is at most a
//! few megabytes whatever Tautulli or GeoIP answered.

use std::fmt;

use maud::Markup;

mod map;
mod timeline;

pub use map::travel_map;
pub use timeline::{timeline, Timeline};

/// Colour of sessions and overlaps that are evidence of sharing.
pub const CONCURRENT: &str = "#d62728";
/// Colour of the LAN household.
pub const LAN: &str = "#6b7b8c";
/// Colour of sessions without a known address, and of networks beyond the palette.
pub const OTHER: &str = "#b0b7bf";

/// Most device lanes drawn; the rest are summarised in one line of text.
pub const MAX_LANES: usize = 40;
/// Most session bars drawn: concurrent sessions first, then the most recent others.
/// A month of a busy account is a few hundred.
pub const MAX_SESSION_BARS: usize = 2_000;
/// Most overlap marks drawn (detection keeps 200 overlaps as evidence).
pub const MAX_OVERLAP_MARKS: usize = 200;
/// Most midnight lines drawn; a longer window gets a line every few days.
pub const MAX_DAY_LINES: i64 = 120;
/// Most jumps drawn on the map (detection keeps 50 as evidence); at most twice as many places.
pub const MAX_MAP_JUMPS: usize = 50;
/// Most graticule lines drawn each way (the projection needs at most nine).
const MAX_GRID_LINES: usize = 16;
/// Longest tooltip, in characters.
const TIP_CHARS: usize = 200;
/// Longest place or network name in a legend, tooltip or map label, in characters.
const PLACE_CHARS: usize = 60;

/// Width of both pictures in SVG units.
const WIDTH: f64 = 1000.0;

/// `t` in a strftime `pattern`; empty when it is no time jiff can show.
fn fmt_with(t: i64, pattern: &str) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime(pattern).to_string())
        .unwrap_or_default()
}

/// Shorten `s` to `max` characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A coordinate as the pictures write it: one decimal.
#[derive(Debug, Clone, Copy)]
struct Px(f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// The picture as a string, bidirectional controls replaced (maud escaped the rest).
fn finish(svg: Markup) -> String {
    crate::untrusted::without_bidi(&svg.into_string()).into_owned()
}

/// One entry of a picture's legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// CSS colour.
    pub color: &'static str,
    /// What it means (plain text; the page template escapes it).
    pub label: String,
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::detect::testing::{place, Builder};
    use crate::detect::{analyze_user, Places, Rules, UserFinding, UserInfo};

    /// A user watching on `device` in New York and on a phone in London at once, and
    /// later on `device` at home.
    pub(crate) fn finding(name: &str, device: &str) -> UserFinding {
        let mut b = Builder::default();
        b.add(1, device, "81.1.1.1", 86_400 + 1000, 3600);
        b.add(1, "phone", "82.2.2.2", 86_400 + 2000, 3600);
        b.add(1, device, "192.168.1.5", 3 * 86_400, 600);
        let mut places = Places::new();
        places.insert("81.1.1.1".parse().unwrap(), place("New York", 40.7, -74.0));
        places.insert("82.2.2.2".parse().unwrap(), place("London <UK>", 51.5, -0.1));
        let info = UserInfo {
            user_id: 1,
            name: name.into(),
            username: String::new(),
        };
        analyze_user(&info, &b.sorted(), &b.strings, &places, &Rules::default())
    }
}
