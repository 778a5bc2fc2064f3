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
    /// Where GeoIP puts the first address ("City, Region, Country"), when located.
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
    let on_globe = (-90.0..=90.0).contains(&place.latitude) && (-180.0..=180.0).contains(&place.longitude);
    if place.city.as_deref().is_none_or(str::is_empty) || !on_globe {
        return Err(DistanceUnknown::CountryLevel);
    }
    Ok(place)
}

/// The label of a session's place, when its address is located at all.
fn place_label(s: &Session, places: &Places) -> Option<String> {
    s.ip.and_then(|ip| places.get(&network::canonical(ip)))
        .map(Place::label)
}

/// Unless GeoIP places the two sessions (to a city) farther apart than `km` beyond a
/// carrier address's region ([`uncertainty_km`]), a cellular one is a household member
/// out and about: carrier addresses change all the time, GeoIP puts them at a hub, and
/// country-level locations say nothing.
fn not_proven_far(a: &Session, b: &Session, places: &Places, km: f64) -> bool {
    let city = |s: &Session| {
        s.ip.and_then(|ip| places.get(&ip))
            .filter(|p| p.city.as_deref().is_some_and(|c| !c.is_empty()))
    };
    match (city(a), city(b)) {
        (Some(pa), Some(pb)) => {
            let far = haversine_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude)
                - uncertainty_km(pa, a.cellular, true)
                - uncertainty_km(pb, b.cellular, true);
            far <= km
        }
        _ => true,
    }
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
mod tests {
    use super::super::testing::{user, Builder};
    use super::*;

    use super::super::household::households;
    use super::super::{Rules, ScoringProfile};

    /// The reference rules (no household exceptions) with a minimum overlap.
    fn run(b: &Builder, min_overlap: u32) -> Concurrency {
        let rules = Rules::for_profile(ScoringProfile::Reference);
        let sorted = b.sorted();
        let h = households(&user(), &sorted, &rules);
        let places = Places::new();
        let r = OverlapRules {
            cellular_regions: true,
            pause_allowance: 0,
            min_overlap,
            households: &h,
            same_home_is_household: false,
            nearby_cellular_km: None,
            nearby_km: None,
            places: &places,
        };
        find(&sorted, &r, &b.strings)
    }

    /// The evidence rules.
    fn run_evidence(b: &Builder, places: &Places) -> Concurrency {
        let rules = Rules::default();
        let sorted = b.sorted();
        let h = households(&user(), &sorted, &rules);
        let r = OverlapRules {
            cellular_regions: true,
            pause_allowance: rules.pause_allowance_seconds,
            min_overlap: rules.min_overlap_seconds,
            households: &h,
            same_home_is_household: true,
            nearby_cellular_km: Some(50.0),
            nearby_km: Some(50.0),
            places,
        };
        find(&sorted, &r, &b.strings)
    }

    #[test]
    fn a_household_member_away_from_home_is_not_another_household() {
        let mut b = Builder::default();
        for d in 0..5 {
            b.add(1, "phone", "81.1.1.1", d * 86_400, 600);
            b.add(1, "tv", "81.1.1.1", d * 86_400 + 1000, 600);
        }
        b.add(1, "tv", "81.1.1.1", 10 * 86_400, 3600);
        b.add(1, "phone", "92.2.2.2", 10 * 86_400 + 60, 3600); // the phone at a hotel
        assert!(run_evidence(&b, &Places::new()).overlaps.is_empty());
        assert_eq!(run(&b, 0).overlaps.len(), 1, "the reference rules count it");
        // A friend's device that lives elsewhere is another household.
        b.add(1, "friend-tv", "93.3.3.3", 10 * 86_400 + 120, 3600);
        let c = run_evidence(&b, &Places::new());
        assert_eq!(c.overlaps.len(), 2);
        assert_eq!(c.overlaps[0].second_network.to_string(), "93.3.3.3");
    }

    #[test]
    fn a_cellular_phone_near_home_is_a_household_member() {
        use super::super::testing::place;
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 0, 3600);
        b.add(1, "phone", "99.9.9.9", 60, 3600).cellular = true;
        let mut places = Places::new();
        places.insert("81.1.1.1".parse().unwrap(), place("Home", 40.70, -74.00));
        places.insert("99.9.9.9".parse().unwrap(), place("Near", 40.75, -73.95));
        assert!(run_evidence(&b, &places).overlaps.is_empty());
        places.insert("99.9.9.9".parse().unwrap(), place("Far", 51.5, -0.12));
        assert_eq!(run_evidence(&b, &places).overlaps.len(), 1);
    }

    /// TV on 81.1.1.1 at (0, 0), phone on 2a02::/64 at (0, 0.5): 0.5° of the equator,
    /// 6371 km × 0.5 × π / 180 = 55.597 km apart, overlapping 3000 s.
    fn two_places(radius: Option<f64>) -> (Builder, Places) {
        use super::super::testing::place;
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 0, 3600);
        b.add(1, "phone", "2a02::9", 600, 3600);
        let mut places = Places::new();
        for (ip, city, lon) in [("81.1.1.1", "West", 0.0), ("2a02::9", "East", 0.5)] {
            let mut p = place(city, 0.0, lon);
            p.accuracy_radius_km = radius;
            places.insert(ip.parse().unwrap(), p);
        }
        (b, places)
    }

    #[test]
    fn an_overlap_located_closer_than_the_minimum_distance_is_nearby_not_concurrent() {
        // 55.597 km with no accuracy radius: farther than 50 km, a concurrent session.
        let (b, places) = two_places(None);
        let c = run_evidence(&b, &places);
        assert_eq!((c.overlap_count, c.nearby_count, c.device_pairs), (1, 0, 1));
        let o = &c.overlaps[0];
        assert!((o.distance_km.unwrap() - 55.597).abs() < 0.001, "{o:?}");
        assert!(!o.nearby && o.distance_unknown.is_none());
        // Radii of 5 km each: 55.597 - 10 = 45.597 km, within 50 km: nearby.
        let (b, places) = two_places(Some(5.0));
        let c = run_evidence(&b, &places);
        assert_eq!((c.overlap_count, c.nearby_count, c.device_pairs), (0, 1, 0));
        assert_eq!(c.overlaps.len(), 1, "a nearby overlap stays in the evidence");
        let o = &c.overlaps[0];
        assert!(o.nearby && (o.distance_km.unwrap() - 45.597).abs() < 0.001, "{o:?}");
        assert!(c.timeline.is_empty() && !c.involved.contains(&true));
        // The reference rules measure it but count it as before.
        let (b, places) = two_places(Some(5.0));
        let sorted = b.sorted();
        let rules = Rules::for_profile(ScoringProfile::Reference);
        let h = households(&user(), &sorted, &rules);
        let r = OverlapRules {
            cellular_regions: true,
            pause_allowance: 0,
            min_overlap: 0,
            households: &h,
            same_home_is_household: false,
            nearby_cellular_km: None,
            nearby_km: None,
            places: &places,
        };
        let c = find(&sorted, &r, &b.strings);
        assert_eq!((c.overlap_count, c.nearby_count), (1, 0));
        assert!(!c.overlaps[0].nearby && c.overlaps[0].distance_km.is_some());
    }

    #[test]
    fn an_overlap_whose_distance_cannot_be_judged_says_why_and_still_counts() {
        let (b, mut places) = two_places(None);
        places.remove(&"2a02::9".parse().unwrap());
        let c = run_evidence(&b, &places);
        assert_eq!((c.overlap_count, c.nearby_count), (1, 0));
        assert_eq!(
            (c.overlaps[0].distance_km, c.overlaps[0].distance_unknown),
            (None, Some(DistanceUnknown::NotLocated))
        );
        // Country-level: no city, the coordinates are the country's centre (here even
        // the same point as the TV), so it is never nearby.
        let (b, mut places) = two_places(None);
        if let Some(p) = places.get_mut(&"2a02::9".parse().unwrap()) {
            p.city = None;
            p.longitude = 0.0;
        }
        let c = run_evidence(&b, &places);
        assert_eq!((c.overlap_count, c.nearby_count), (1, 0));
        assert_eq!(c.overlaps[0].distance_unknown, Some(DistanceUnknown::CountryLevel));
        let json = serde_json::to_value(&c.overlaps[0]).unwrap();
        assert_eq!(
            (&json["distance_km"], &json["distance_unknown"], &json["nearby"]),
            (
                &serde_json::Value::Null,
                &serde_json::json!("country_level"),
                &serde_json::json!(false)
            )
        );
        // A private address is at the server's site, which GeoIP cannot place.
        let mut b = Builder::default();
        b.add(1, "tv", "192.168.1.5", 0, 3600);
        b.add(1, "phone", "81.1.1.1", 600, 3600);
        let c = run_evidence(&b, &places);
        assert_eq!(c.overlaps[0].distance_unknown, Some(DistanceUnknown::PrivateAddress));
    }

    #[test]
    fn each_overlap_names_both_sessions() {
        let (b, places) = two_places(None);
        let o = run_evidence(&b, &places).overlaps.remove(0);
        assert_eq!(
            (
                &*o.first_machine_id,
                &*o.first_platform,
                &*o.first_player,
                o.first_started,
                o.first_ended
            ),
            ("tv", "tv-platform", "tv-player", 0, 3600)
        );
        assert_eq!(
            (
                &*o.second_machine_id,
                &*o.second_platform,
                &*o.second_player,
                o.second_started,
                o.second_ended
            ),
            ("phone", "phone-platform", "phone-player", 600, 4200)
        );
        assert_eq!(
            (o.first_place.as_deref(), o.second_place.as_deref()),
            (Some("West"), Some("East"))
        );
        assert_eq!((o.started, o.seconds), (600, 3000));
    }

    #[test]
    fn counted_overlaps_are_kept_as_evidence_before_nearby_ones() {
        use super::super::testing::place;
        let mut b = Builder::default();
        let mut places = Places::new();
        places.insert("81.1.1.1".parse().unwrap(), place("Home", 40.70, -74.00));
        places.insert("2a02::9".parse().unwrap(), place("Home", 40.70, -74.00));
        places.insert("93.3.3.3".parse().unwrap(), place("Far", 51.5, -0.12));
        let evenings = super::super::MAX_OVERLAPS as i64 + 50;
        for d in 0..evenings {
            b.add(1, "tv", "81.1.1.1", d * 86_400, 3600);
            b.add(1, "phone", "2a02::9", d * 86_400 + 60, 3600);
        }
        b.add(1, "friend-tv", "93.3.3.3", (evenings - 1) * 86_400 + 120, 3600);
        let c = run_evidence(&b, &places);
        assert_eq!((c.nearby_count, c.overlap_count), (evenings as usize, 2));
        assert_eq!(c.overlaps.len(), super::super::MAX_OVERLAPS);
        assert_eq!(
            c.overlaps.iter().filter(|o| !o.nearby).count(),
            2,
            "the friend's overlaps are kept"
        );
        assert!(
            c.overlaps.windows(2).all(|w| w[0].started <= w[1].started),
            "chronological"
        );
    }

    #[test]
    fn overlap_on_different_devices_and_networks_is_concurrent() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 3600); // 1000..4600
        b.add(1, "phone", "92.2.2.2", 2000, 3600); // 2000..5600
        let c = run(&b, 0);
        assert_eq!(c.overlaps.len(), 1);
        assert_eq!(c.overlaps[0].seconds, 2600);
        assert_eq!(c.overlaps[0].started, 2000);
        assert_eq!(c.device_pairs, 1);
        assert_eq!(c.timeline.len(), 2);
    }

    #[test]
    fn same_device_or_same_network_never_counts() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 3600);
        b.add(1, "tv", "92.2.2.2", 2000, 3600); // same device, other network (VPN hop)
        assert!(run(&b, 0).overlaps.is_empty());
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 3600);
        b.add(1, "phone", "81.1.1.1", 2500, 3600); // other device, same address
        assert!(run(&b, 0).overlaps.is_empty());
    }

    #[test]
    fn two_lan_ranges_are_one_household() {
        let mut b = Builder::default();
        b.add(1, "tv", "192.168.1.10", 1000, 3600);
        b.add(1, "phone", "10.0.0.5", 2000, 3600);
        b.add(1, "tablet", "172.20.3.4", 2500, 3600);
        assert!(run(&b, 0).overlaps.is_empty());
    }

    #[test]
    fn sessions_that_touch_end_to_start_do_not_overlap() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 1000); // ends at 2000
        b.add(1, "phone", "92.2.2.2", 2000, 1000);
        assert!(run(&b, 0).overlaps.is_empty());
    }

    #[test]
    fn minimum_overlap_drops_back_to_back_sessions() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 1030); // ends 2030
        b.add(1, "phone", "92.2.2.2", 2000, 1000); // overlap of 30 s
        assert_eq!(run(&b, 0).overlaps.len(), 1);
        assert!(run(&b, 120).overlaps.is_empty());
    }

    #[test]
    fn unknown_addresses_are_not_evidence() {
        let mut b = Builder::default();
        b.add(1, "tv", "", 1000, 3600);
        b.add(1, "phone", "92.2.2.2", 2000, 3600);
        assert!(run(&b, 0).overlaps.is_empty());
    }

    #[test]
    fn three_homes_at_once_give_three_pairs_and_three_device_pairs() {
        let mut b = Builder::default();
        b.add(1, "a", "81.1.1.1", 0, 7200);
        b.add(1, "b", "82.1.1.1", 100, 7200);
        b.add(1, "c", "83.1.1.1", 200, 7200);
        b.add(1, "a", "81.1.1.1", 50_000, 100); // alone later
        let c = run(&b, 0);
        assert_eq!(c.overlaps.len(), 3);
        assert_eq!(c.device_pairs, 3);
        assert_eq!(c.timeline.len(), 3);
    }

    #[test]
    fn repeated_overlaps_of_one_device_pair_count_once_as_a_pair() {
        let mut b = Builder::default();
        for day in 0..4 {
            b.add(1, "tv", "81.1.1.1", day * 86_400, 3600);
            b.add(1, "phone", "92.2.2.2", day * 86_400 + 60, 3600);
        }
        let c = run(&b, 0);
        assert_eq!(c.overlaps.len(), 4);
        assert_eq!(c.device_pairs, 1);
    }

    #[test]
    fn sweep_matches_all_pairs_on_a_dense_history() {
        // Brute force (the reference script's O(n²) loop) as the oracle.
        let mut b = Builder::default();
        let ips = ["81.1.1.1", "82.1.1.1", "192.168.1.2", "10.1.1.1", "2a02::1", "2a02::2"];
        let mut x: u64 = 7;
        for k in 0..300 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let dev = ["a", "b", "c", "d"][(x >> 33) as usize % 4];
            let ip = ips[(x >> 40) as usize % ips.len()];
            let start = (x >> 20) as i64 % 200_000;
            let play = 60 + (x >> 50) as u32 % 7200;
            b.add(1, dev, ip, start, play);
            let _ = k;
        }
        let sorted = b.sorted();
        let mut brute = 0;
        for (i, a) in sorted.iter().enumerate() {
            for c in &sorted[i + 1..] {
                let (ea, ec) = (a.effective_end(0), c.effective_end(0));
                if a.machine != c.machine && a.network() != c.network() && a.started < ec && c.started < ea {
                    brute += 1;
                }
            }
        }
        assert!(brute > 10, "the fixture should have overlaps, got {brute}");
        let c = run(&b, 0);
        assert_eq!(c.overlap_count, brute);
        assert_eq!(
            c.overlaps.len(),
            brute.min(super::super::MAX_OVERLAPS),
            "evidence is capped"
        );
    }
}
