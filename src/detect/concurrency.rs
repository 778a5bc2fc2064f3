//! Concurrent streams: two sessions of one user that overlap in time, from different
//! devices *and* different networks. A household watching on two TVs is not sharing;
//! two homes watching at once is.
//!
//! With GeoIP, an overlap whose two sides are located to cities closer than
//! `min_distance_km` (after subtracting both accuracy radii) is *nearby*: one home seen
//! through two address families, or a neighbour GeoIP cannot tell apart. It is kept as
//! evidence and counted on its own, not as a concurrent session.
//!
//! Found with a sweep over sessions sorted by start: each session is compared only with
//! those still running when it starts, so the cost is O(n log n + n·a), where `a` is the
//! number of sessions running at once, instead of the reference script's O(n²).

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use super::household::Households;
use super::travel::{haversine_km, uncertainty_km};
use std::sync::Arc;

use super::{network, Network, Place, Places, Session, Strings, Sym, TimelineEntry};

/// Why the distance between the two sides of an overlap cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DistanceUnknown {
    /// A side's address is on a local network: GeoIP cannot place it.
    PrivateAddress,
    /// GeoIP has no place for a side's address (or no GeoIP is configured).
    NotLocated,
    /// GeoIP placed a side only in a country: its coordinates are the country's centre.
    CountryLevel,
}

/// Two sessions that ran at the same time from different devices and networks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overlap {
    /// History row id of the session that started first.
    pub first_row_id: i64,
    /// History row id of the other session.
    pub second_row_id: i64,
    /// Device of the first session.
    pub first_machine_id: Arc<str>,
    /// Device of the second session.
    pub second_machine_id: Arc<str>,
    /// Address of the first session.
    pub first_ip: Option<IpAddr>,
    /// Address of the second session.
    pub second_ip: Option<IpAddr>,
    /// Household (network) the first session counted as.
    pub first_network: Network,
    /// Household (network) the second session counted as.
    pub second_network: Network,
    /// Platform of the first session's device.
    pub first_platform: Arc<str>,
    /// Platform of the second session's device.
    pub second_platform: Arc<str>,
    /// Player name of the first session.
    pub first_player: Arc<str>,
    /// Player name of the second session.
    pub second_player: Arc<str>,
    /// Start of the first session, epoch seconds.
    pub first_started: i64,
    /// Effective end of the first session, epoch seconds.
    pub first_ended: i64,
    /// Start of the second session, epoch seconds.
    pub second_started: i64,
    /// Effective end of the second session, epoch seconds.
    pub second_ended: i64,
    /// Where GeoIP puts the first address ("City, Region, Country", then " · AS… operator"
    /// when an ASN database names it), when located.
    pub first_place: Option<String>,
    /// Where GeoIP puts the second address, when located.
    pub second_place: Option<String>,
    /// When both were running (epoch seconds): start of the overlap.
    pub started: i64,
    /// Seconds both were running.
    pub seconds: i64,
    /// Great-circle distance between the two places minus both accuracy radii (at least
    /// 0), km; `None` when it cannot be judged ([`Overlap::distance_unknown`] says why).
    pub distance_km: Option<f64>,
    /// Why `distance_km` is `None`; `None` when it is known.
    pub distance_unknown: Option<DistanceUnknown>,
    /// Both sides are located closer than `min_distance_km`: counted in
    /// `nearby_concurrent_sessions`, not as a concurrent session.
    pub nearby: bool,
}

/// The concurrency findings of one user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Concurrency {
    /// The overlapping pairs, chronological: the first [`super::MAX_OVERLAPS`] counted
    /// ones, then nearby ones while there is room.
    pub overlaps: Vec<Overlap>,
    /// How many pairs overlap and count as concurrent sessions (all of them).
    pub overlap_count: usize,
    /// How many pairs overlap but are nearby (all of them).
    pub nearby_count: usize,
    /// Per session (input order): it takes part in at least one overlap.
    pub involved: Vec<bool>,
    /// Distinct unordered device pairs among the overlaps.
    pub device_pairs: usize,
    /// Sessions that take part in at least one overlap, chronological, the first
    /// [`super::MAX_TIMELINE`] of them.
    pub timeline: Vec<TimelineEntry>,
}

/// What decides whether two overlapping sessions are evidence.
#[derive(Debug, Clone, Copy)]
pub struct OverlapRules<'a> {
    /// Pause seconds that still count as watching.
    pub pause_allowance: u32,
    /// Shortest overlap that counts, seconds (and always more than zero).
    pub min_overlap: u32,
    /// The household of each session and the home of each device.
    pub households: &'a Households,
    /// Skip pairs of devices that share a home.
    pub same_home_is_household: bool,
    /// Skip a cellular session overlapping one not located (to a city) farther than this many km.
    pub nearby_cellular_km: Option<f64>,
    /// Overlaps located closer than this many km are nearby, not concurrent sessions.
    pub nearby_km: Option<f64>,
    /// Where addresses are (for the cellular and nearby rules, and the evidence).
    pub places: &'a Places,
    /// A carrier address is a region: see [`uncertainty_km`].
    pub cellular_regions: bool,
}

/// The distance between two sessions' places, as travel measures it: great-circle
/// distance minus both sides' uncertainty ([`uncertainty_km`]), never below 0.
pub fn distance_km(a: &Session, b: &Session, places: &Places, cellular_regions: bool) -> Result<f64, DistanceUnknown> {
    let (pa, pb) = (city_place(a, places)?, city_place(b, places)?);
    let radii = uncertainty_km(pa, a.cellular, cellular_regions) + uncertainty_km(pb, b.cellular, cellular_regions);
    Ok((haversine_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude) - radii).max(0.0))
}

/// A session's place when it is located to a city on the globe (a country-level result
/// is the country's centre, and says nothing about distance).
fn city_place<'p>(s: &Session, places: &'p Places) -> Result<&'p Place, DistanceUnknown> {
    let ip = s.ip.ok_or(DistanceUnknown::NotLocated)?;
    if network::is_private(ip) {
        return Err(DistanceUnknown::PrivateAddress);
    }
    let place = places.get(&network::canonical(ip)).ok_or(DistanceUnknown::NotLocated)?;
    if !place.is_city_level() {
        return Err(DistanceUnknown::CountryLevel);
    }
    Ok(place)
}

/// The label of a session's place, when its address is located at all.
fn place_label(s: &Session, places: &Places) -> Option<String> {
    s.ip.and_then(|ip| places.get(&network::canonical(ip)))
        .map(Place::label_with_network)
}

/// Unless GeoIP places the two sessions (to a city) farther apart than `km` beyond a
/// carrier address's region ([`uncertainty_km`]), a cellular one is a household member
/// out and about: carrier addresses change all the time, GeoIP puts them at a hub, and
/// country-level locations say nothing.
fn not_proven_far(a: &Session, b: &Session, places: &Places, km: f64) -> bool {
    distance_km(a, b, places, true).map_or(true, |d| d <= km)
}

/// One overlapping pair found by the sweep: indices into the sessions.
struct Pair {
    first: usize,
    second: usize,
    seconds: i64,
    distance: Result<f64, DistanceUnknown>,
    nearby: bool,
}

/// Find overlapping pairs in `sessions` (one user's, sorted by `started`).
///
/// A pair counts when the devices differ, both sessions have a household
/// ([`Households::session`]: known, not relayed, not trusted) and the households differ,
/// the effective intervals (`started` .. [`Session::effective_end`]) share more than zero
/// seconds and at least `min_overlap`, and the rules' household exceptions do not apply.
/// A counted pair whose sides are located closer than `nearby_km` is nearby instead.
pub fn find(sessions: &[&Session], rules: &OverlapRules, strings: &Strings) -> Concurrency {
    let nets = &rules.households.session;
    // Each session's device home, looked up once instead of per candidate pair.
    let homes: Vec<Option<Network>> = if rules.same_home_is_household {
        sessions
            .iter()
            .map(|s| rules.households.device_home.get(&s.machine).copied())
            .collect()
    } else {
        Vec::new()
    };
    let mut active: Vec<(i64, usize)> = Vec::new();
    let mut pairs: Vec<Pair> = Vec::new();
    for (j, s) in sessions.iter().enumerate() {
        let start = s.started;
        let end = s.effective_end(rules.pause_allowance);
        active.retain(|&(e, _)| e > start);
        if let Some(net_s) = nets.get(j).copied().flatten() {
            for &(e, i) in &active {
                let a = sessions[i];
                if a.machine == s.machine {
                    continue;
                }
                match nets.get(i).copied().flatten() {
                    Some(net_a) if net_a != net_s => {}
                    _ => continue,
                }
                if rules.same_home_is_household && homes[i].is_some() && homes[i] == homes[j] {
                    continue;
                }
                if let Some(km) = rules.nearby_cellular_km {
                    if (a.cellular || s.cellular) && not_proven_far(a, s, rules.places, km) {
                        continue;
                    }
                }
                let seconds = e.min(end) - a.started.max(start);
                if seconds > 0 && seconds >= i64::from(rules.min_overlap) {
                    let distance = distance_km(a, s, rules.places, rules.cellular_regions);
                    let nearby = rules.nearby_km.is_some_and(|km| distance.is_ok_and(|d| d < km));
                    pairs.push(Pair {
                        first: i,
                        second: j,
                        seconds,
                        distance,
                        nearby,
                    });
                }
            }
        }
        if end > start {
            active.push((end, j));
        }
    }

    let mut device_pairs: BTreeSet<(Sym, Sym)> = BTreeSet::new();
    let mut involved = vec![false; sessions.len()];
    for p in pairs.iter().filter(|p| !p.nearby) {
        let (a, b) = (sessions[p.first], sessions[p.second]);
        device_pairs.insert((a.machine.min(b.machine), a.machine.max(b.machine)));
        involved[p.first] = true;
        involved[p.second] = true;
    }
    let nearby_count = pairs.iter().filter(|p| p.nearby).count();
    // Evidence is kept for the first pairs and sessions only: counts stay exact, and a
    // heavy sharer's snapshot stays small. Counted pairs come first: a household's
    // hundred nearby evenings must not push a sharer's overlaps out.
    let counted_kept = (pairs.len() - nearby_count).min(super::MAX_OVERLAPS);
    let (mut counted_room, mut nearby_room) = (counted_kept, super::MAX_OVERLAPS - counted_kept);
    let kept = pairs.iter().filter(|p| {
        let room = if p.nearby { &mut nearby_room } else { &mut counted_room };
        let keep = *room > 0;
        *room = room.saturating_sub(1);
        keep
    });
    let overlaps = kept
        .map(|p| {
            let (a, b) = (sessions[p.first], sessions[p.second]);
            Overlap {
                first_row_id: a.row_id,
                second_row_id: b.row_id,
                first_machine_id: strings.shared(a.machine),
                second_machine_id: strings.shared(b.machine),
                first_ip: a.ip,
                second_ip: b.ip,
                first_network: nets.get(p.first).copied().flatten().unwrap_or(Network::Lan),
                second_network: nets.get(p.second).copied().flatten().unwrap_or(Network::Lan),
                first_platform: strings.shared(a.platform),
                second_platform: strings.shared(b.platform),
                first_player: strings.shared(a.player),
                second_player: strings.shared(b.player),
                first_started: a.started,
                first_ended: a.effective_end(rules.pause_allowance),
                second_started: b.started,
                second_ended: b.effective_end(rules.pause_allowance),
                first_place: place_label(a, rules.places),
                second_place: place_label(b, rules.places),
                started: b.started.max(a.started),
                seconds: p.seconds,
                distance_km: p.distance.ok(),
                distance_unknown: p.distance.err(),
                nearby: p.nearby,
            }
        })
        .collect();
    // Sized exactly: a filtered iterator would grow the vector by doubling, and the
    // snapshot keeps it for every user.
    let mut timeline = Vec::with_capacity(involved.iter().filter(|hit| **hit).count().min(super::MAX_TIMELINE));
    timeline.extend(
        involved
            .iter()
            .enumerate()
            .filter(|(_, hit)| **hit)
            .take(super::MAX_TIMELINE)
            .map(|(i, _)| {
                let s = sessions[i];
                TimelineEntry {
                    row_id: s.row_id,
                    started: s.started,
                    ended: s.effective_end(rules.pause_allowance),
                    play_seconds: s.play_seconds,
                    machine_id: strings.shared(s.machine),
                    platform: strings.shared(s.platform),
                    player: strings.shared(s.player),
                    ip: s.ip,
                    title: strings.shared(s.title),
                }
            }),
    );
    Concurrency {
        overlaps,
        overlap_count: pairs.len() - nearby_count,
        nearby_count,
        involved,
        device_pairs: device_pairs.len(),
        timeline,
    }
}

#[cfg(test)]
mod tests;
