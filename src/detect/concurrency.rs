//! Concurrent streams: two sessions of one user that overlap in time, from different
//! devices *and* different networks. A household watching on two TVs is not sharing;
//! two homes watching at once is.
//!
//! Found with a sweep over sessions sorted by start: each session is compared only with
//! those still running when it starts, so the cost is O(n log n + n·a), where `a` is the
//! number of sessions running at once, instead of the reference script's O(n²).

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use super::household::Households;
use super::travel::haversine_km;
use std::sync::Arc;

use super::{Network, Places, Session, Strings, Sym, TimelineEntry};

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
    /// When both were running (epoch seconds): start of the overlap.
    pub started: i64,
    /// Seconds both were running.
    pub seconds: i64,
}

/// The concurrency findings of one user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Concurrency {
    /// The overlapping pairs, the first [`super::MAX_OVERLAPS`] of them.
    pub overlaps: Vec<Overlap>,
    /// How many pairs overlap (all of them).
    pub overlap_count: usize,
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
    /// Where addresses are (for the cellular rule).
    pub places: &'a Places,
}

/// Unless GeoIP places the two sessions (to a city) farther apart than `km`, a cellular
/// one is a household member out and about: carrier addresses change all the time and
/// country-level locations say nothing.
fn not_proven_far(a: &Session, b: &Session, places: &Places, km: f64) -> bool {
    let city = |s: &Session| {
        s.ip.and_then(|ip| places.get(&ip))
            .filter(|p| p.city.as_deref().is_some_and(|c| !c.is_empty()))
    };
    match (city(a), city(b)) {
        (Some(pa), Some(pb)) => haversine_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude) <= km,
        _ => true,
    }
}

/// Find overlapping pairs in `sessions` (one user's, sorted by `started`).
///
/// A pair counts when the devices differ, both sessions have a household
/// ([`Households::session`]: known, not relayed, not trusted) and the households differ,
/// the effective intervals (`started` .. [`Session::effective_end`]) share more than zero
/// seconds and at least `min_overlap`, and the rules' household exceptions do not apply.
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
    let mut pairs: Vec<(usize, usize, i64)> = Vec::new();
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
                    pairs.push((i, j, seconds));
                }
            }
        }
        if end > start {
            active.push((end, j));
        }
    }

    let mut device_pairs: BTreeSet<(Sym, Sym)> = BTreeSet::new();
    let mut involved = vec![false; sessions.len()];
    for &(i, j, _) in &pairs {
        let (a, b) = (sessions[i], sessions[j]);
        device_pairs.insert((a.machine.min(b.machine), a.machine.max(b.machine)));
        involved[i] = true;
        involved[j] = true;
    }
    // Evidence is kept for the first pairs and sessions only: counts stay exact, and a
    // heavy sharer's snapshot stays small.
    let overlaps = pairs
        .iter()
        .take(super::MAX_OVERLAPS)
        .map(|&(i, j, seconds)| {
            let (a, b) = (sessions[i], sessions[j]);
            Overlap {
                first_row_id: a.row_id,
                second_row_id: b.row_id,
                first_machine_id: strings.shared(a.machine),
                second_machine_id: strings.shared(b.machine),
                first_ip: a.ip,
                second_ip: b.ip,
                first_network: nets.get(i).copied().flatten().unwrap_or(Network::Lan),
                second_network: nets.get(j).copied().flatten().unwrap_or(Network::Lan),
                started: b.started.max(a.started),
                seconds,
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
        overlap_count: pairs.len(),
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
            pause_allowance: 0,
            min_overlap,
            households: &h,
            same_home_is_household: false,
            nearby_cellular_km: None,
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
            pause_allowance: rules.pause_allowance_seconds,
            min_overlap: rules.min_overlap_seconds,
            households: &h,
            same_home_is_household: true,
            nearby_cellular_km: Some(50.0),
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
