//! The travel map: the located places of a user's impossible-travel jumps on a plain
//! latitude/longitude grid, with the jumps drawn between them. Places are clamped onto
//! the globe, non-finite ones left off, and at most [`MAX_MAP_JUMPS`] jumps and
//! [`MAX_GRID_LINES`] grid lines each way are drawn.

use maud::{html, Markup};

use super::{finish, truncate, Px, CONCURRENT, MAX_GRID_LINES, MAX_MAP_JUMPS, PLACE_CHARS, WIDTH};
use crate::detect::{Jump, Place};

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

/// Unordered pairs of places: (point indexes, jumps, distance).
type Edge = ((usize, usize), usize, f64);

/// The distinct places of the first [`MAX_MAP_JUMPS`] `jumps` and the edges between them.
fn places_and_edges(jumps: &[Jump]) -> (Vec<Point>, Vec<Edge>) {
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
    let mut edges: Vec<Edge> = Vec::new();
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
    (points, edges)
}

/// The projection: the places' bounding box with a margin, longitudes shrunk by the
/// cosine of the middle latitude.
struct Projection {
    mid_lat: f64,
    mid_lon: f64,
    span_lat: f64,
    span_lon: f64,
    kx: f64,
    scale: f64,
    height: f64,
}

impl Projection {
    /// Every coordinate of `points` is finite and on the globe.
    fn fit(points: &[Point]) -> Self {
        let (mut lat0, mut lat1, mut lon0, mut lon1) = (90.0f64, -90.0f64, 180.0f64, -180.0f64);
        for p in points {
            lat0 = lat0.min(p.lat);
            lat1 = lat1.max(p.lat);
            lon0 = lon0.min(p.lon);
            lon1 = lon1.max(p.lon);
        }
        let mid_lat = (lat0 + lat1) / 2.0;
        let span_lat = ((lat1 - lat0).max(4.0)) * 1.5;
        let span_lon = ((lon1 - lon0).max(8.0)) * 1.3;
        let kx = mid_lat.to_radians().cos().max(0.2);
        let (world_w, world_h) = (span_lon * kx, span_lat);
        let height = (WIDTH * world_h / world_w).clamp(240.0, 460.0);
        Projection {
            mid_lat,
            mid_lon: (lon0 + lon1) / 2.0,
            span_lat,
            span_lon,
            kx,
            scale: ((WIDTH - 40.0) / world_w).min((height - 40.0) / world_h),
            height,
        }
    }

    fn x(&self, lon: f64) -> f64 {
        WIDTH / 2.0 + (lon - self.mid_lon) * self.kx * self.scale
    }

    fn y(&self, lat: f64) -> f64 {
        self.height / 2.0 - (lat - self.mid_lat) * self.scale
    }

    /// The multiples of the first step that puts at most `lines` lines across `span`
    /// around `mid`, at most [`MAX_GRID_LINES`] of them.
    fn grid(mid: f64, span: f64, lines: f64) -> impl Iterator<Item = f64> {
        let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0]
            .into_iter()
            .find(|s| span / s <= lines)
            .unwrap_or(60.0);
        let from = ((mid - span / 2.0) / step).ceil() as i64;
        let to = ((mid + span / 2.0) / step).floor() as i64;
        (from..=to).take(MAX_GRID_LINES).map(move |k| k as f64 * step)
    }

    /// The graticule, about eight lines across and five down.
    fn graticule(&self) -> Markup {
        let h = self.height;
        html! {
            @for lon in Self::grid(self.mid_lon, self.span_lon, 8.0) {
                @let gx = self.x(lon);
                line x1=(Px(gx)) y1="0" x2=(Px(gx)) y2=(format!("{h:.0}")) stroke="#dfe6ee" {}
                text x=(Px(gx + 3.0)) y=(format!("{:.0}", h - 5.0)) font-size="10" fill="#8a949e" {
                    (lon.abs()) "°" (if lon < 0.0 { "W" } else { "E" })
                }
            }
            @for lat in Self::grid(self.mid_lat, self.span_lat, 5.0).filter(|lat| lat.abs() <= 90.0) {
                @let gy = self.y(lat);
                line x1="0" y1=(Px(gy)) x2=(WIDTH) y2=(Px(gy)) stroke="#dfe6ee" {}
                text x="4" y=(Px(gy - 3.0)) font-size="10" fill="#8a949e" {
                    (lat.abs()) "°" (if lat < 0.0 { "S" } else { "N" })
                }
            }
        }
    }
}

/// The places of the first [`MAX_MAP_JUMPS`] `jumps` and the jumps between them;
/// `None` when fewer than two places are known (nothing to draw).
pub fn travel_map(jumps: &[Jump]) -> Option<String> {
    let (points, edges) = places_and_edges(jumps);
    if points.len() < 2 {
        return None;
    }
    let map = Projection::fit(&points);
    let height = format!("{:.0}", map.height);
    let svg = html! {
        svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
            aria-label="Places of the impossible-travel jumps" {
            rect x="0" y="0" width=(WIDTH) height=(height) fill="#f3f7fb" stroke="#dde2e7" {}
            (map.graticule())
            @for ((a, b), count, km) in &edges {
                @let (pa, pb) = (&points[*a], &points[*b]);
                @let (x1, y1, x2, y2) = (map.x(pa.lon), map.y(pa.lat), map.x(pb.lon), map.y(pb.lat));
                @let label = format!("{} · {count} jump{}", fmt_km(*km), if *count == 1 { "" } else { "s" });
                line x1=(Px(x1)) y1=(Px(y1)) x2=(Px(x2)) y2=(Px(y2)) stroke=(CONCURRENT) stroke-width="2.5" stroke-dasharray="8 5" {
                    title { (label) }
                }
                text x=(Px((x1 + x2) / 2.0)) y=(Px((y1 + y2) / 2.0 - 6.0)) font-size="12" text-anchor="middle" fill=(CONCURRENT)
                    font-weight="600" stroke="#f3f7fb" stroke-width="4" paint-order="stroke" { (label) }
            }
            @for p in &points {
                @let (cx, cy) = (map.x(p.lon), map.y(p.lat));
                @let right = cx < WIDTH - 160.0;
                circle cx=(Px(cx)) cy=(Px(cy)) r="6" fill="#1f5fa8" stroke="#fff" stroke-width="2" {}
                text x=(Px(if right { cx + 10.0 } else { cx - 10.0 })) y=(Px(cy + 4.0)) font-size="13" font-weight="600"
                    text-anchor=(if right { "start" } else { "end" }) fill="#1d232a" stroke="#f3f7fb" stroke-width="4" paint-order="stroke" {
                    (p.label)
                }
            }
        }
    };
    Some(finish(svg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::place;
    use crate::web::svg::fixtures::finding;

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
            same_device: false,
            likely_vpn_exit: false,
        }
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
