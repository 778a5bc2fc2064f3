//! Impossible travel ("teleportation"): consecutive located sessions so far apart that
//! nobody could have covered the distance in the time between them.
//!
//! Every located session contributes two events, its start and its effective end. For
//! each pair of consecutive events on different networks, the great-circle distance
//! minus both GeoIP accuracy radii is the distance that must have been covered; when it
//! is at least `min_distance_km` and the implied speed exceeds `max_speed_kmh`, the two
//! sessions form a jump. A pair of sessions is one jump however many of their events
//! alternate (two cities streaming at once would otherwise count once per event).
//! Two sessions of one device are a jump of their own kind ("same-device"): one device
//! cannot be in two places, so its address moved (a VPN or proxy switching exits, far
//! more often than a shared account). They are counted apart from teleportations unless
//! [`TravelRules::same_device_counts`] makes them ordinary ones (the reference script).
//! Private addresses, relayed sessions (their address is Plex's relay) and country-level
//! GeoIP results (no city: the coordinates are a country's centroid) are skipped.

use std::collections::HashSet;
use std::net::IpAddr;

use serde::Serialize;

use super::household::Households;
use super::{network, Network, Place, Places, Session, Strings};

/// The household network of each session (see [`super::household`]); `None` = not evidence.
pub type SessionNetworks<'a> = &'a [Option<Network>];

/// Thresholds for impossible travel.
#[derive(Debug, Clone, PartialEq)]
pub struct TravelRules {
    /// Jumps shorter than this (after subtracting accuracy radii) are the same metro area.
    pub min_distance_km: f64,
    /// Faster than this is impossible (about the cruising speed of an airliner).
    pub max_speed_kmh: f64,
    /// Count jumps between two sessions of the same device as teleportations. Off by
    /// default: a VPN switching exits looks exactly like this, so they are counted apart
    /// ([`Jumps::same_device`]).
    pub same_device_counts: bool,
    /// A carrier (`cellular`) address is a region, not a place: its accuracy radius counts
    /// [`CELLULAR_RADIUS_MARGIN`] times, and [`CELLULAR_ASSUMED_RADIUS_KM`] when the
    /// database gives none ([`uncertainty_km`]). On by default, off in `reference`.
    pub cellular_is_a_region: bool,
}

/// How many times a carrier address's accuracy radius counts. GeoIP places carrier
/// addresses at a hub, often as far from the phone as the stated radius or a little
/// farther; at twice the radius a distance is evidence, not the hub's guess. Chosen from
/// the labelled suite: at 1 the phone whose hub is 1,150 km from home (radius 1,000 km)
/// teleports and counts as another household; at 2 it does not, and the friend on a phone
/// on another continent still does.
pub const CELLULAR_RADIUS_MARGIN: f64 = 2.0;

/// The radius assumed for a carrier address that comes without one: a carrier's region
/// (a country's worth of towers) rather than a city.
pub const CELLULAR_ASSUMED_RADIUS_KM: f64 = 500.0;

/// What to subtract from a distance for one side's place: its accuracy radius (0 when
/// unknown, negative or NaN), or for a carrier address with `regions`,
/// [`CELLULAR_RADIUS_MARGIN`] times its radius or [`CELLULAR_ASSUMED_RADIUS_KM`].
pub fn uncertainty_km(p: &Place, cellular: bool, regions: bool) -> f64 {
    let radius = p.accuracy_radius_km.filter(|r| *r > 0.0);
    if cellular && regions {
        CELLULAR_RADIUS_MARGIN * radius.unwrap_or(CELLULAR_ASSUMED_RADIUS_KM)
    } else {
        radius.unwrap_or(0.0)
    }
}

/// Jumps shorter than this are one metro area (and `--min-distance-km`).
pub const MIN_DISTANCE_KM: f64 = 50.0;
/// Faster than this is impossible travel: an airliner's cruise (and `--max-speed-kmh`).
pub const MAX_SPEED_KMH: f64 = 900.0;

impl Default for TravelRules {
    fn default() -> Self {
        TravelRules {
            min_distance_km: MIN_DISTANCE_KM,
            max_speed_kmh: MAX_SPEED_KMH,
            same_device_counts: false,
            cellular_is_a_region: true,
        }
    }
}

/// One side of a jump.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JumpEnd {
    /// History row id of the session.
    pub row_id: i64,
    /// Event time, epoch seconds.
    pub time: i64,
    /// `start` or `stop` of the session.
    pub event: &'static str,
    /// Client address.
    pub ip: IpAddr,
    /// Where GeoIP puts it.
    pub place: Place,
    /// Device id.
    pub machine_id: std::sync::Arc<str>,
    /// Device platform.
    pub platform: std::sync::Arc<str>,
}

/// Two sessions too far apart for the time between them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jump {
    /// The earlier event.
    pub from: JumpEnd,
    /// The later event.
    pub to: JumpEnd,
    /// Great-circle distance minus accuracy radii, km.
    pub distance_km: f64,
    /// Time between the events, hours (0.001 when simultaneous, as the reference did).
    pub hours: f64,
    /// Implied speed, km/h.
    pub speed_kmh: f64,
    /// Both ends are one device and the jump is counted apart from teleportations (a
    /// VPN or proxy, most likely); false for teleportations.
    pub same_device: bool,
    /// A same-device jump that an ASN database shows is not one operator's address pool
    /// (the two ends' operators, or their countries, differ): one end is a VPN or proxy
    /// exit, not a trip. (Two networks of one operator in one country that a device
    /// keeps switching between are an ISP pool instead, and no jump at all: see
    /// [`super::pool`].)
    pub likely_vpn_exit: bool,
}

/// Great-circle distance in km (haversine, mean Earth radius 6371 km).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6371.0;
    let dlat = (lat2 - lat1).to_radians();
    let dlon = (lon2 - lon1).to_radians();
    let a = (dlat / 2.0).sin().powi(2) + lat1.to_radians().cos() * lat2.to_radians().cos() * (dlon / 2.0).sin().powi(2);
    R * 2.0 * a.sqrt().atan2((1.0 - a).sqrt())
}

struct Event<'a> {
    time: i64,
    index: usize,
    start: bool,
    network: Network,
    place: &'a Place,
}

/// The impossible-travel jumps of one user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Jumps {
    /// Every distinct teleportation (one per session pair).
    pub count: usize,
    /// Every distinct same-device jump counted apart from teleportations (0 when
    /// [`TravelRules::same_device_counts`] makes them teleportations).
    pub same_device: usize,
    /// The first [`super::MAX_JUMPS`] teleportations and the first
    /// [`super::MAX_JUMPS`] same-device jumps, in time order. Only these are built: a
    /// jump carries two places and two device names, and a heavy traveller has thousands.
    pub first: Vec<Jump>,
}

/// Find the jumps in one user's `sessions` (sorted by `started`).
pub fn find_jumps(
    sessions: &[&Session],
    networks: SessionNetworks,
    same_home_overlap: Option<&Households>,
    places: &Places,
    strings: &Strings,
    pause_allowance: u32,
    rules: &TravelRules,
) -> Jumps {
    let mut events: Vec<Event> = Vec::new();
    for (index, s) in sessions.iter().enumerate() {
        let Some(ip) = s.ip else { continue };
        if s.relayed || network::is_private(ip) {
            continue;
        }
        let Some(network) = networks.get(index).copied().flatten() else {
            continue;
        };
        let Some(place) = places.get(&network::canonical(ip)) else {
            continue;
        };
        if !place.is_city_level() {
            continue;
        }
        events.push(Event {
            time: s.started,
            index,
            start: true,
            network,
            place,
        });
        events.push(Event {
            time: s.effective_end(pause_allowance).max(s.started),
            index,
            start: false,
            network,
            place,
        });
    }
    events.sort_by_key(|e| (e.time, e.index, !e.start));

    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let mut jumps = Jumps::default();
    for w in events.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.index == b.index || a.network == b.network {
            continue;
        }
        let (sa, sb) = (sessions[a.index], sessions[b.index]);
        let same_device = !rules.same_device_counts && sa.machine == sb.machine;
        // Two devices of one household running at the same time in two places: one of
        // them is away (a trip, a VPN). Concurrency already judged that; not travel.
        if let Some(h) = same_home_overlap {
            let overlap =
                sa.started < sb.effective_end(pause_allowance) && sb.started < sa.effective_end(pause_allowance);
            if overlap && h.same_home(sa.machine, sb.machine) {
                continue;
            }
        }
        let radii = uncertainty_km(a.place, sa.cellular, rules.cellular_is_a_region)
            + uncertainty_km(b.place, sb.cellular, rules.cellular_is_a_region);
        let distance_km =
            (haversine_km(a.place.latitude, a.place.longitude, b.place.latitude, b.place.longitude) - radii).max(0.0);
        if distance_km < rules.min_distance_km {
            continue;
        }
        let mut hours = (b.time - a.time) as f64 / 3600.0;
        if hours <= 0.0 {
            hours = 0.001;
        }
        let speed_kmh = distance_km / hours;
        if speed_kmh <= rules.max_speed_kmh {
            continue;
        }
        let key = (a.index.min(b.index), a.index.max(b.index));
        if !seen.insert(key) {
            continue;
        }
        let kept = if same_device {
            jumps.same_device += 1;
            jumps.same_device
        } else {
            jumps.count += 1;
            jumps.count
        };
        if kept > super::MAX_JUMPS {
            continue;
        }
        let end = |e: &Event, s: &Session| JumpEnd {
            row_id: s.row_id,
            time: e.time,
            event: if e.start { "start" } else { "stop" },
            ip: s.ip.unwrap_or(IpAddr::from([0, 0, 0, 0])),
            place: e.place.clone(),
            machine_id: strings.shared(s.machine),
            platform: strings.shared(s.platform),
        };
        jumps.first.push(Jump {
            from: end(a, sa),
            to: end(b, sb),
            distance_km,
            hours,
            speed_kmh,
            same_device,
            likely_vpn_exit: same_device
                && a.place.asn.is_some()
                && b.place.asn.is_some()
                && !a.place.same_operator_and_country(b.place),
        });
    }
    jumps
}

#[cfg(test)]
mod tests;
