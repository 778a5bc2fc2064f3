//! Pictures for the user page, rendered on the server as inline SVG (no script, no
//! external resources, so the page works offline and under a strict CSP).
//!
//! - [`timeline`]: the window left to right, one lane per device, one bar per session,
//!   coloured by network; sessions in a cross-network overlap are red, and a first lane
//!   marks the overlaps themselves. Two homes streaming at once show as red bars at the
//!   same x in two lanes.
//! - [`travel_map`]: the located places of the user's impossible-travel jumps on a
//!   plain latitude/longitude grid, with the jumps drawn between them.
//!
//! Every piece of text comes from Tautulli or GeoIP and goes through [`escape`].
//!
//! The size of a picture does not depend on the data: every loop draws at most a fixed
//! number of items (the `MAX_*` constants), every text is cut to a fixed length, times
//! are clamped into the window and coordinates onto the globe. A picture is at most a
//! few megabytes whatever Tautulli or GeoIP answered.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::escape;
use super::mask::IpView;
use crate::detect::{Jump, Network, Place, Span, UserFinding};
use crate::report::fmt_duration;

/// Colour of sessions and overlaps that are evidence of sharing.
pub const CONCURRENT: &str = "#d62728";
/// Colour of the LAN household.
pub const LAN: &str = "#6b7b8c";
/// Colour of sessions without a known address, and of networks beyond the palette.
pub const OTHER: &str = "#b0b7bf";
/// Colours of public networks, most watched first. No reds or oranges: red means overlap.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#bcbd22", "#393b79", "#637939",
];

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

const WIDTH: f64 = 1000.0;
const PLOT_X0: f64 = 210.0;
const PLOT_X1: f64 = 988.0;
const TOP: f64 = 6.0;
const LANE_H: f64 = 26.0;
const BAR_H: f64 = 16.0;

/// `YYYY-MM-DDTHH:MMZ`: ISO 8601 in UTC, as every page shows times.
pub fn fmt_utc(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_else(|_| t.to_string())
}

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

/// One entry of a picture's legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// CSS colour.
    pub color: &'static str,
    /// What it means (plain text; escape before use).
    pub label: String,
}

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

/// The sessions of `f` across `window` (epoch seconds), one lane per device.
pub fn timeline(f: &UserFinding, window: (i64, i64), ips: IpView, locations: &HashMap<IpAddr, String>) -> Timeline {
    let (w0, w1) = window;
    // i128: the difference of two arbitrary i64 times does not fit an i64.
    let span = (i128::from(w1) - i128::from(w0)).max(1);
    let x =
        |t: i64| PLOT_X0 + (i128::from(t) - i128::from(w0)).clamp(0, span) as f64 * (PLOT_X1 - PLOT_X0) / span as f64;
    let colors = network_colors(f);
    let color_of_ip = |i: Option<u32>| -> &'static str {
        i.and_then(|i| f.ip_usage.get(i as usize))
            .and_then(|u| {
                let net = Network::of(u.ip);
                colors.iter().find(|(n, _, _)| *n == net).map(|c| c.1)
            })
            .unwrap_or(OTHER)
    };
    let lanes = f.device_usage.len().min(MAX_LANES);
    let axis_y = TOP + (lanes as f64 + 1.0) * LANE_H + 4.0;
    let height = axis_y + 22.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="Sessions of {name} per device, {from} to {to}">"#,
        name = escape(&truncate(&f.user, PLACE_CHARS)),
        from = fmt_utc(w0),
        to = fmt_utc(w1),
    );
    // Lane backgrounds and labels.
    for lane in 0..=lanes {
        let y = TOP + lane as f64 * LANE_H;
        let fill = if lane % 2 == 0 { "#f6f8fa" } else { "#ffffff" };
        let _ = write!(
            svg,
            r##"<rect x="0" y="{y:.1}" width="{WIDTH}" height="{LANE_H}" fill="{fill}"/>"##
        );
        let (label, tip) = if lane == 0 {
            (
                "Overlaps".to_string(),
                "Times when two devices streamed from different networks".to_string(),
            )
        } else {
            let d = &f.device_usage[lane - 1];
            let name = match (d.platform.is_empty(), d.player.is_empty()) {
                (false, false) => format!("{} · {}", d.platform, d.player),
                (false, true) => d.platform.clone(),
                (true, false) => d.player.clone(),
                (true, true) => d.machine_id.clone(),
            };
            (
                truncate(&name, 30),
                format!(
                    "{name} ({}): {} plays, {}",
                    d.machine_id,
                    d.plays,
                    fmt_duration(d.watch_time_seconds)
                ),
            )
        };
        let weight = if lane == 0 { "600" } else { "400" };
        let _ = write!(
            svg,
            r##"<text class="lane" x="8" y="{ty:.1}" font-size="12" font-weight="{weight}" fill="#1d232a"><title>{tip}</title>{label}</text>"##,
            ty = y + LANE_H / 2.0 + 4.0,
            tip = escape(&truncate(&tip, TIP_CHARS)),
            label = escape(&label),
        );
    }
    // Day lines and labels: midnight UTC (every `line_every` days in a window too long
    // for a line a day), labelled often enough for about ten labels.
    let days = (span + 86_399) / 86_400;
    let line_every = ((days + i128::from(MAX_DAY_LINES) - 1) / i128::from(MAX_DAY_LINES)).max(1);
    let every = line_every * ((days + 10 * line_every - 1) / (10 * line_every)).max(1);
    let step = line_every * 86_400;
    let first = (i128::from(w0).div_euclid(step) + 1) * step;
    for k in 0..=MAX_DAY_LINES {
        let Ok(day) = i64::try_from(first + i128::from(k) * step) else {
            break;
        };
        if day >= w1 {
            break;
        }
        let dx = x(day);
        let _ = write!(
            svg,
            r##"<line x1="{dx:.1}" y1="{TOP}" x2="{dx:.1}" y2="{axis_y:.1}" stroke="#d5dbe1" stroke-width="1"/>"##
        );
        // No label so close to the right edge that it would be cut.
        if (i128::from(day) / 86_400).rem_euclid(every) == 0 && dx < PLOT_X1 - 24.0 {
            let _ = write!(
                svg,
                r##"<text x="{dx:.1}" y="{ly:.1}" font-size="11" text-anchor="middle" fill="#5b6672">{label}</text>"##,
                ly = axis_y + 15.0,
                label = fmt_with(day, "%b %d"),
            );
        }
    }
    let _ = write!(
        svg,
        r##"<line x1="{PLOT_X0}" y1="{axis_y:.1}" x2="{PLOT_X1}" y2="{axis_y:.1}" stroke="#8a949e" stroke-width="1"/>"##
    );
    let bar = |svg: &mut String, y: f64, t0: i64, t1: i64, color: &str, tip: &str| {
        let (x0, x1) = (x(t0), x(t1));
        let _ = write!(
            svg,
            r#"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{BAR_H}" fill="{color}"><title>{tip}</title></rect>"#,
            w = (x1 - x0).max(2.0),
            tip = escape(&truncate(tip, TIP_CHARS)),
        );
    };
    // The overlaps lane.
    for o in f.overlaps.iter().take(MAX_OVERLAP_MARKS) {
        let tip = format!(
            "{} for {}: {} ({}) and {} ({})",
            fmt_utc(o.started),
            fmt_duration(u64::try_from(o.seconds).unwrap_or(0)),
            o.first_machine_id,
            o.first_ip.map(|ip| ips.ip(ip)).unwrap_or_default(),
            o.second_machine_id,
            o.second_ip.map(|ip| ips.ip(ip)).unwrap_or_default(),
        );
        let y = TOP + (LANE_H - BAR_H) / 2.0;
        bar(
            &mut svg,
            y,
            o.started,
            o.started.saturating_add(o.seconds),
            CONCURRENT,
            &tip,
        );
    }
    // Sessions in the drawn lanes, at most MAX_SESSION_BARS: concurrent ones (the
    // evidence) first, the most recent others with the room left.
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
    let sessions_not_drawn = f.spans.iter().filter(in_lanes).count() - concurrent.len() - ordinary.len();
    // Ordinary ones first so the concurrent ones are drawn on top.
    for s in ordinary.iter().chain(&concurrent) {
        let lane = s.device() as usize;
        let y = TOP + (lane as f64 + 1.0) * LANE_H + (LANE_H - BAR_H) / 2.0;
        let addr = s
            .ip()
            .and_then(|i| f.ip_usage.get(i as usize))
            .map(|u| {
                let loc = locations.get(&u.ip).map(|l| format!(" ({})", truncate(l, PLACE_CHARS)));
                format!("{}{}", ips.ip(u.ip), loc.unwrap_or_default())
            })
            .unwrap_or_else(|| "unknown address".into());
        let tip = format!(
            "{} – {}{} · {addr}",
            fmt_utc(s.started()),
            fmt_with(s.ended(), "%H:%MZ"),
            if s.concurrent() { " · concurrent" } else { "" },
        );
        let color = if s.concurrent() {
            CONCURRENT
        } else {
            color_of_ip(s.ip())
        };
        bar(&mut svg, y, s.started(), s.ended(), color, &tip);
    }
    svg.push_str("</svg>");
    let mut legend = vec![LegendEntry {
        color: CONCURRENT,
        label: "concurrent: overlaps another device on another network".into(),
    }];
    for (net, color, ip) in &colors {
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
    let unknown_drawn = ordinary.iter().chain(&concurrent).any(|s| s.ip().is_none());
    if unknown_drawn && !legend.iter().any(|e| e.color == OTHER) {
        legend.push(LegendEntry {
            color: OTHER,
            label: "unknown address".into(),
        });
    }
    Timeline {
        svg,
        legend,
        sessions_not_drawn,
    }
}

/// A place on the map.
struct Point {
    lat: f64,
    lon: f64,
    label: String,
}

/// Where `p` goes on the map: its coordinates clamped onto the globe, or `None` when one
/// is not a number at all. (The locator rejects such places; this keeps the picture's
/// size independent of the coordinates even if one slips through.)
fn on_globe(p: &Place) -> Option<(f64, f64)> {
    (p.latitude.is_finite() && p.longitude.is_finite())
        .then(|| (p.latitude.clamp(-90.0, 90.0), p.longitude.clamp(-180.0, 180.0)))
}

/// A jump's distance as its label shows it: whole km, `?` for what no two places on
/// Earth could give (half a great circle is about 20,015 km).
fn fmt_km(km: f64) -> String {
    if (0.0..=20_100.0).contains(&km) {
        format!("{km:.0} km")
    } else {
        "? km".to_string()
    }
}

/// The places of the first [`MAX_MAP_JUMPS`] `jumps` and the jumps between them;
/// `None` when fewer than two places are known (nothing to draw).
pub fn travel_map(jumps: &[Jump]) -> Option<String> {
    let mut points: Vec<Point> = Vec::new();
    let mut index = |p: &Place| -> Option<usize> {
        let (lat, lon) = on_globe(p)?;
        if let Some(i) = points
            .iter()
            .position(|q| (q.lat - lat).abs() < 1e-4 && (q.lon - lon).abs() < 1e-4)
        {
            return Some(i);
        }
        let label = p.city.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| p.label());
        points.push(Point {
            lat,
            lon,
            label: truncate(&label, PLACE_CHARS),
        });
        Some(points.len() - 1)
    };
    // Unordered place pairs: (jumps, distance).
    let mut edges: Vec<((usize, usize), usize, f64)> = Vec::new();
    for j in jumps.iter().take(MAX_MAP_JUMPS) {
        let (Some(a), Some(b)) = (index(&j.from.place), index(&j.to.place)) else {
            continue;
        };
        if a == b {
            continue;
        }
        let key = (a.min(b), a.max(b));
        match edges.iter_mut().find(|e| e.0 == key) {
            Some(e) => e.1 += 1,
            None => edges.push((key, 1, j.distance_km)),
        }
    }
    if points.len() < 2 {
        return None;
    }
    // Every coordinate is finite and on the globe from here on.
    let (mut lat0, mut lat1, mut lon0, mut lon1) = (90.0f64, -90.0f64, 180.0f64, -180.0f64);
    for p in &points {
        lat0 = lat0.min(p.lat);
        lat1 = lat1.max(p.lat);
        lon0 = lon0.min(p.lon);
        lon1 = lon1.max(p.lon);
    }
    let mid_lat = (lat0 + lat1) / 2.0;
    let mid_lon = (lon0 + lon1) / 2.0;
    let span_lat = ((lat1 - lat0).max(4.0)) * 1.5;
    let span_lon = ((lon1 - lon0).max(8.0)) * 1.3;
    let kx = mid_lat.to_radians().cos().max(0.2);
    let (world_w, world_h) = (span_lon * kx, span_lat);
    let height = (WIDTH * world_h / world_w).clamp(240.0, 460.0);
    let scale = ((WIDTH - 40.0) / world_w).min((height - 40.0) / world_h);
    let px = |lon: f64| WIDTH / 2.0 + (lon - mid_lon) * kx * scale;
    let py = |lat: f64| height / 2.0 - (lat - mid_lat) * scale;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="Places of the impossible-travel jumps"><rect x="0" y="0" width="{WIDTH}" height="{height:.0}" fill="#f3f7fb" stroke="#dde2e7"/>"##
    );
    // Graticule, about eight lines across.
    let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0]
        .into_iter()
        .find(|s| span_lon / s <= 8.0)
        .unwrap_or(60.0);
    let lon_from = ((mid_lon - span_lon / 2.0) / step).ceil() as i64;
    let lon_to = ((mid_lon + span_lon / 2.0) / step).floor() as i64;
    for k in (lon_from..=lon_to).take(MAX_GRID_LINES) {
        let lon = k as f64 * step;
        let gx = px(lon);
        let hemi = if lon < 0.0 { "W" } else { "E" };
        let _ = write!(
            svg,
            r##"<line x1="{gx:.1}" y1="0" x2="{gx:.1}" y2="{height:.0}" stroke="#dfe6ee"/><text x="{tx:.1}" y="{ty:.0}" font-size="10" fill="#8a949e">{a}°{hemi}</text>"##,
            tx = gx + 3.0,
            ty = height - 5.0,
            a = lon.abs(),
        );
    }
    let lat_step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0]
        .into_iter()
        .find(|s| span_lat / s <= 5.0)
        .unwrap_or(60.0);
    let lat_from = ((mid_lat - span_lat / 2.0) / lat_step).ceil() as i64;
    let lat_to = ((mid_lat + span_lat / 2.0) / lat_step).floor() as i64;
    for k in (lat_from..=lat_to).take(MAX_GRID_LINES) {
        let lat = k as f64 * lat_step;
        if lat.abs() > 90.0 {
            continue;
        }
        let gy = py(lat);
        let hemi = if lat < 0.0 { "S" } else { "N" };
        let _ = write!(
            svg,
            r##"<line x1="0" y1="{gy:.1}" x2="{WIDTH}" y2="{gy:.1}" stroke="#dfe6ee"/><text x="4" y="{ty:.1}" font-size="10" fill="#8a949e">{a}°{hemi}</text>"##,
            ty = gy - 3.0,
            a = lat.abs(),
        );
    }
    for ((a, b), count, km) in &edges {
        let (pa, pb) = (&points[*a], &points[*b]);
        let (x1, y1, x2, y2) = (px(pa.lon), py(pa.lat), px(pb.lon), py(pb.lat));
        let label = format!("{} · {count} jump{}", fmt_km(*km), if *count == 1 { "" } else { "s" });
        let _ = write!(
            svg,
            r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{CONCURRENT}" stroke-width="2.5" stroke-dasharray="8 5"><title>{t}</title></line><text x="{mx:.1}" y="{my:.1}" font-size="12" text-anchor="middle" fill="{CONCURRENT}" font-weight="600" stroke="#f3f7fb" stroke-width="4" paint-order="stroke">{t}</text>"##,
            mx = (x1 + x2) / 2.0,
            my = (y1 + y2) / 2.0 - 6.0,
            t = escape(&label),
        );
    }
    for p in &points {
        let (cx, cy) = (px(p.lon), py(p.lat));
        let right = cx < WIDTH - 160.0;
        let _ = write!(
            svg,
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="6" fill="#1f5fa8" stroke="#fff" stroke-width="2"/><text x="{tx:.1}" y="{ty:.1}" font-size="13" font-weight="600" text-anchor="{anchor}" fill="#1d232a" stroke="#f3f7fb" stroke-width="4" paint-order="stroke">{label}</text>"##,
            tx = if right { cx + 10.0 } else { cx - 10.0 },
            ty = cy + 4.0,
            anchor = if right { "start" } else { "end" },
            label = escape(&p.label),
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{place, Builder};
    use crate::detect::{analyze_user, Places, Rules, UserInfo};

    fn finding(name: &str, device: &str) -> UserFinding {
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
        let f = finding("Zoë & \"Friends\" <test>", "<script>alert(1)</script>");
        let t = timeline(&f, (0, 5 * 86_400), IpView::default(), &HashMap::new());
        assert!(!t.svg.contains("<test>") && !t.svg.contains("<script>"));
        assert!(t.svg.contains("Zoë &amp; &quot;Friends&quot; &lt;test&gt;"));
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
    fn the_map_shows_each_place_once_and_escapes_names() {
        let f = finding("Sam", "tv");
        assert!(!f.jumps.is_empty());
        let svg = travel_map(&f.jumps).expect("two places");
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("London &lt;UK&gt;") && !svg.contains("<UK>"));
        assert!(svg.contains(" km · "));
        assert!(travel_map(&[]).is_none());
    }

    /// A jump from New York to `to`.
    fn jump_to(to: Place) -> Jump {
        let end = |place: Place| crate::detect::JumpEnd {
            row_id: 1,
            time: 0,
            event: "start",
            ip: "81.1.1.1".parse().unwrap(),
            place,
            machine_id: "tv".into(),
            platform: "Roku".into(),
        };
        Jump {
            from: end(place("New York", 40.7, -74.0)),
            to: end(to),
            distance_km: 5570.0,
            hours: 1.0,
            speed_kmh: 5570.0,
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

    #[test]
    fn places_off_the_globe_are_clamped_or_left_off_the_map() {
        let london = jump_to(place("London", 51.5, -0.1));
        let nan = jump_to(place("Nowhere", 10.0, f64::NAN));
        let svg = travel_map(&[london.clone(), nan]).expect("two places");
        assert_eq!(svg.matches("<circle").count(), 2, "the NaN place is not drawn");
        for lon in [1e5, 1e300, f64::INFINITY] {
            let far = jump_to(place("Far", 10.0, lon));
            let svg = travel_map(&[london.clone(), far]).expect("three places");
            assert!(svg.matches("<line").count() <= 2 * MAX_GRID_LINES + 2, "{lon}");
            assert!(svg.len() < 20_000, "{lon}: {} bytes", svg.len());
        }
    }
}
