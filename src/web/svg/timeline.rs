//! The timeline picture: the window left to right, one lane per device, one bar per
//! session, coloured by network; sessions in a cross-network overlap are red, and a first
//! lane marks the overlaps themselves. Two homes streaming at once show as red bars at
//! the same x in two lanes.

use std::collections::HashMap;
use std::net::IpAddr;

use maud::{html, Markup};

use super::{
    finish, fmt_with, truncate, LegendEntry, Px, CONCURRENT, LAN, MAX_DAY_LINES, MAX_LANES, MAX_OVERLAP_MARKS,
    MAX_SESSION_BARS, OTHER, PLACE_CHARS, TIP_CHARS, WIDTH,
};
use crate::detect::{Network, Span, UserFinding};
use crate::format::{fmt_duration, fmt_utc};
use crate::web::mask::IpView;

/// Colours of public networks, most watched first. No reds or oranges: red means overlap.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#bcbd22", "#393b79", "#637939",
];

const PLOT_X0: f64 = 210.0;
const PLOT_X1: f64 = 988.0;
const TOP: f64 = 6.0;
const LANE_H: f64 = 26.0;
const BAR_H: f64 = 16.0;

/// The timeline picture and its legend.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The `<svg>` element.
    pub svg: String,
    /// Colours used, in order.
    pub legend: Vec<LegendEntry>,
    /// Sessions in the drawn lanes left out by [`MAX_SESSION_BARS`].
    pub sessions_not_drawn: usize,
}

/// Colour per network of `f`, in `ip_usage` order (most watched first): the LAN, the
/// first public networks in [`PALETTE`] colours, and the first network beyond the palette
/// as [`OTHER`] (standing for all of them). At most `PALETTE.len() + 2` entries, so
/// finding a session's colour is cheap however many networks the user has.
fn network_colors(f: &UserFinding) -> Vec<(Network, &'static str, IpAddr)> {
    let mut out: Vec<(Network, &'static str, IpAddr)> = Vec::new();
    let mut public = 0;
    for u in &f.ip_usage {
        let net = Network::of(u.ip);
        let lan = net.is_lan();
        let full = public > PALETTE.len();
        if (full && !lan) || out.iter().any(|(n, _, _)| *n == net) {
            continue;
        }
        let color = if lan {
            LAN
        } else {
            public += 1;
            PALETTE.get(public - 1).copied().unwrap_or(OTHER)
        };
        out.push((net, color, u.ip));
        if public > PALETTE.len() && out.iter().any(|(n, _, _)| n.is_lan()) {
            break;
        }
    }
    out
}

/// Where times go across the plot, clamped into the window.
struct TimeAxis {
    w0: i64,
    /// Window length in seconds; i128: the difference of two arbitrary i64 times does
    /// not fit an i64.
    span: i128,
}

impl TimeAxis {
    fn x(&self, t: i64) -> f64 {
        PLOT_X0
            + (i128::from(t) - i128::from(self.w0)).clamp(0, self.span) as f64 * (PLOT_X1 - PLOT_X0) / self.span as f64
    }

    /// One bar from `t0` to `t1` at height `y`, with its tooltip.
    fn bar(&self, y: f64, t0: i64, t1: i64, color: &str, tip: &str) -> Markup {
        let (x0, x1) = (self.x(t0), self.x(t1));
        html! {
            rect x=(Px(x0)) y=(Px(y)) width=(Px((x1 - x0).max(2.0))) height=(BAR_H) fill=(color) {
                title { (truncate(tip, TIP_CHARS)) }
            }
        }
    }
}

/// The lane backgrounds and labels: the overlaps lane, then one per drawn device.
fn lanes(f: &UserFinding, lanes: usize) -> Markup {
    html! {
        @for lane in 0..=lanes {
            @let y = TOP + lane as f64 * LANE_H;
            @let (label, tip) = lane_text(f, lane);
            rect x="0" y=(Px(y)) width=(WIDTH) height=(LANE_H) fill=(if lane % 2 == 0 { "#f6f8fa" } else { "#ffffff" }) {}
            text class="lane" x="8" y=(Px(y + LANE_H / 2.0 + 4.0)) font-size="12"
                font-weight=(if lane == 0 { "600" } else { "400" }) fill="#1d232a" {
                title { (truncate(&tip, TIP_CHARS)) }
                (label)
            }
        }
    }
}

/// A lane's label and tooltip: lane 0 is the overlaps, lane `n` device `n - 1`.
fn lane_text(f: &UserFinding, lane: usize) -> (String, String) {
    let Some(d) = lane.checked_sub(1).and_then(|i| f.device_usage.get(i)) else {
        return (
            "Overlaps".to_string(),
            "Times when two devices streamed from different networks".to_string(),
        );
    };
    let name = match (d.platform.is_empty(), d.player.is_empty()) {
        (false, false) => format!("{} · {}", d.platform, d.player),
        (false, true) => d.platform.clone(),
        (true, false) => d.player.clone(),
        (true, true) => d.machine_id.clone(),
    };
    let tip = format!(
        "{name} ({}): {} plays, {}",
        d.machine_id,
        d.plays,
        fmt_duration(d.watch_time_seconds)
    );
    (truncate(&name, 30), tip)
}

/// Day lines and labels: midnight UTC (every `line_every` days in a window too long for
/// a line a day), labelled often enough for about ten labels; at most
/// [`MAX_DAY_LINES`] + 1 lines.
fn day_lines(axis: &TimeAxis, w1: i64, axis_y: f64) -> Markup {
    let days = (axis.span + 86_399) / 86_400;
    let line_every = ((days + i128::from(MAX_DAY_LINES) - 1) / i128::from(MAX_DAY_LINES)).max(1);
    let every = line_every * ((days + 10 * line_every - 1) / (10 * line_every)).max(1);
    let step = line_every * 86_400;
    let first = (i128::from(axis.w0).div_euclid(step) + 1) * step;
    let midnights = (0..=MAX_DAY_LINES)
        .map_while(|k| i64::try_from(first + i128::from(k) * step).ok())
        .take_while(|day| *day < w1);
    html! {
        @for day in midnights {
            @let dx = axis.x(day);
            line x1=(Px(dx)) y1=(TOP) x2=(Px(dx)) y2=(Px(axis_y)) stroke="#d5dbe1" stroke-width="1" {}
            // No label so close to the right edge that it would be cut.
            @if (i128::from(day) / 86_400).rem_euclid(every) == 0 && dx < PLOT_X1 - 24.0 {
                text x=(Px(dx)) y=(Px(axis_y + 15.0)) font-size="11" text-anchor="middle" fill="#5b6672" {
                    (fmt_with(day, "%b %d"))
                }
            }
        }
        line x1=(PLOT_X0) y1=(Px(axis_y)) x2=(PLOT_X1) y2=(Px(axis_y)) stroke="#8a949e" stroke-width="1" {}
    }
}

/// The sessions in the drawn lanes, at most [`MAX_SESSION_BARS`]: concurrent ones (the
/// evidence) first, the most recent others with the room left.
struct Drawn<'a> {
    concurrent: Vec<&'a Span>,
    ordinary: Vec<&'a Span>,
    not_drawn: usize,
}

impl<'a> Drawn<'a> {
    fn pick(f: &'a UserFinding, lanes: usize) -> Self {
        let in_lanes = |s: &&Span| (s.device() as usize) < lanes;
        let concurrent: Vec<&Span> = f
            .spans
            .iter()
            .filter(in_lanes)
            .filter(|s| s.concurrent())
            .take(MAX_SESSION_BARS)
            .collect();
        let ordinary: Vec<&Span> = f
            .spans
            .iter()
            .rev()
            .filter(in_lanes)
            .filter(|s| !s.concurrent())
            .take(MAX_SESSION_BARS - concurrent.len())
            .collect();
        let not_drawn = f.spans.iter().filter(in_lanes).count() - concurrent.len() - ordinary.len();
        Drawn {
            concurrent,
            ordinary,
            not_drawn,
        }
    }

    /// Ordinary ones first so the concurrent ones are drawn on top.
    fn in_order(&self) -> impl Iterator<Item = &&'a Span> {
        self.ordinary.iter().chain(&self.concurrent)
    }
}

/// The sessions of `f` across `window` (epoch seconds), one lane per device.
pub fn timeline(f: &UserFinding, window: (i64, i64), ips: IpView, locations: &HashMap<IpAddr, String>) -> Timeline {
    let (w0, w1) = window;
    let axis = TimeAxis {
        w0,
        span: (i128::from(w1) - i128::from(w0)).max(1),
    };
    let colors = network_colors(f);
    let color_of_ip = |i: Option<u32>| -> &'static str {
        i.and_then(|i| f.ip_usage.get(i as usize))
            .and_then(|u| {
                let net = Network::of(u.ip);
                colors.iter().find(|(n, _, _)| *n == net).map(|c| c.1)
            })
            .unwrap_or(OTHER)
    };
    let lane_count = f.device_usage.len().min(MAX_LANES);
    let axis_y = TOP + (lane_count as f64 + 1.0) * LANE_H + 4.0;
    let height = axis_y + 22.0;
    let drawn = Drawn::pick(f, lane_count);
    let overlap_y = TOP + (LANE_H - BAR_H) / 2.0;
    let svg = html! {
        svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
            aria-label={ "Sessions of " (truncate(&f.user, PLACE_CHARS)) " per device, " (fmt_utc(w0)) " to " (fmt_utc(w1)) } {
            (lanes(f, lane_count))
            (day_lines(&axis, w1, axis_y))
            @for o in f.overlaps.iter().filter(|o| !o.nearby).take(MAX_OVERLAP_MARKS) {
                @let tip = format!(
                    "{} for {}: {} ({}) and {} ({})",
                    fmt_utc(o.started),
                    fmt_duration(u64::try_from(o.seconds).unwrap_or(0)),
                    o.first_machine_id,
                    o.first_ip.map(|ip| ips.ip(ip)).unwrap_or_default(),
                    o.second_machine_id,
                    o.second_ip.map(|ip| ips.ip(ip)).unwrap_or_default(),
                );
                (axis.bar(overlap_y, o.started, o.started.saturating_add(o.seconds), CONCURRENT, &tip))
            }
            @for s in drawn.in_order() {
                @let y = TOP + (s.device() as f64 + 1.0) * LANE_H + (LANE_H - BAR_H) / 2.0;
                @let color = if s.concurrent() { CONCURRENT } else { color_of_ip(s.ip()) };
                (axis.bar(y, s.started(), s.ended(), color, &session_tip(f, s, ips, locations)))
            }
        }
    };
    Timeline {
        svg: finish(svg),
        legend: legend(&colors, &drawn, ips, locations),
        sessions_not_drawn: drawn.not_drawn,
    }
}

/// A session bar's tooltip: when, whether concurrent, and from where.
fn session_tip(f: &UserFinding, s: &Span, ips: IpView, locations: &HashMap<IpAddr, String>) -> String {
    let addr = s
        .ip()
        .and_then(|i| f.ip_usage.get(i as usize))
        .map(|u| {
            let loc = locations.get(&u.ip).map(|l| format!(" ({})", truncate(l, PLACE_CHARS)));
            format!("{}{}", ips.ip(u.ip), loc.unwrap_or_default())
        })
        .unwrap_or_else(|| "unknown address".into());
    format!(
        "{} – {}{} · {addr}",
        fmt_utc(s.started()),
        fmt_with(s.ended(), "%H:%MZ"),
        if s.concurrent() { " · concurrent" } else { "" },
    )
}

/// The colours used: concurrent, each network's, and "unknown address" when a drawn
/// session has none.
fn legend(
    colors: &[(Network, &'static str, IpAddr)],
    drawn: &Drawn,
    ips: IpView,
    locations: &HashMap<IpAddr, String>,
) -> Vec<LegendEntry> {
    let mut legend = vec![LegendEntry {
        color: CONCURRENT,
        label: "concurrent: overlaps another device on another network".into(),
    }];
    for (net, color, ip) in colors {
        let label = if net.is_lan() {
            "LAN (the server's household)".to_string()
        } else {
            match locations.get(ip) {
                Some(l) => format!("{} ({})", ips.network(*ip), truncate(l, PLACE_CHARS)),
                None => ips.network(*ip),
            }
        };
        if *color == OTHER && legend.iter().any(|e| e.color == OTHER) {
            continue;
        }
        legend.push(LegendEntry {
            color,
            label: if *color == OTHER {
                "other networks".into()
            } else {
                label
            },
        });
    }
    let unknown_drawn = drawn.in_order().any(|s| s.ip().is_none());
    if unknown_drawn && !legend.iter().any(|e| e.color == OTHER) {
        legend.push(LegendEntry {
            color: OTHER,
            label: "unknown address".into(),
        });
    }
    legend
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::svg::fixtures::finding;

    #[test]
    fn the_timeline_has_a_lane_per_device_and_red_concurrent_sessions() {
        let f = finding("Sam", "tv");
        let t = timeline(&f, (0, 5 * 86_400), IpView::default(), &HashMap::new());
        assert!(t.svg.starts_with("<svg") && t.svg.ends_with("</svg>"));
        assert_eq!(t.svg.matches(r#"class="lane""#).count(), 1 + 2);
        assert_eq!(
            t.svg.matches(&format!(r#"fill="{CONCURRENT}""#)).count(),
            1 + 2,
            "one overlap mark and two concurrent sessions"
        );
        assert_eq!(t.svg.matches(&format!(r#"fill="{LAN}""#)).count(), 1);
        assert_eq!(t.legend[0].color, CONCURRENT);
        assert!(t.legend.iter().any(|e| e.label.starts_with("LAN")));
    }

    #[test]
    fn text_in_the_timeline_is_escaped() {
        let f = finding("Zoë & \"Friends\" <test>\u{202e}", "<script>alert(1)</script>");
        let t = timeline(&f, (0, 5 * 86_400), IpView::default(), &HashMap::new());
        assert!(!t.svg.contains("<test>") && !t.svg.contains("<script>"));
        assert!(t.svg.contains("Zoë &amp; &quot;Friends&quot; &lt;test&gt;\u{fffd}"));
        assert!(t.svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn masked_timelines_show_no_whole_address() {
        let f = finding("Sam", "tv");
        let locations = HashMap::from([("81.1.1.1".parse().unwrap(), "New York".to_string())]);
        let t = timeline(&f, (0, 5 * 86_400), IpView { mask: true }, &locations);
        assert!(!t.svg.contains("81.1.1.1") && !t.svg.contains("82.2.2.2"));
        assert!(t.svg.contains("81.1.x.x (New York)"));
        assert!(t.legend.iter().all(|e| !e.label.contains("81.1.1.1")));
    }

    #[test]
    fn sessions_outside_the_window_are_clamped_into_the_plot() {
        let f = finding("Sam", "tv");
        let t = timeline(&f, (2 * 86_400, 2 * 86_400 + 10), IpView::default(), &HashMap::new());
        for part in t.svg.split(" x=\"").skip(1) {
            let v: f64 = part.split('"').next().unwrap().parse().unwrap();
            assert!((0.0..=WIDTH).contains(&v), "{v}");
        }
    }

    #[test]
    fn windows_of_any_length_draw_a_bounded_number_of_day_lines() {
        let f = finding("Sam", "tv");
        for window in [(0, 10 * 365 * 86_400), (i64::MIN, i64::MAX), (i64::MAX, i64::MIN)] {
            let t = timeline(&f, window, IpView::default(), &HashMap::new());
            let lines = t.svg.matches("<line").count();
            assert!(lines <= MAX_DAY_LINES as usize + 1, "{window:?}: {lines} lines");
        }
        // A month still gets a line every midnight.
        let t = timeline(&f, (0, 30 * 86_400), IpView::default(), &HashMap::new());
        assert_eq!(t.svg.matches("<line").count(), 29 + 1);
    }

    #[test]
    fn at_most_max_session_bars_are_drawn_concurrent_ones_first() {
        let mut f = finding("Sam", "tv");
        let n = MAX_SESSION_BARS as i64 + 500;
        f.spans = (0..n)
            .map(|i| crate::detect::Span::new(i * 60, i * 60 + 30, 0, Some(0), i == n / 2))
            .collect();
        f.overlaps.clear();
        let t = timeline(&f, (0, n * 60), IpView::default(), &HashMap::new());
        let bars = t.svg.matches("<rect").count() - t.svg.matches(r#"<rect x="0""#).count();
        assert_eq!(bars, MAX_SESSION_BARS);
        assert_eq!(t.sessions_not_drawn, 500);
        assert_eq!(t.svg.matches(&format!(r#"fill="{CONCURRENT}""#)).count(), 1);
    }
}
