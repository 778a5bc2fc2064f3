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

use super::{Session, Strings, Sym, TimelineEntry};

/// Two sessions that ran at the same time from different devices and networks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overlap {
    /// History row id of the session that started first.
    pub first_row_id: i64,
    /// History row id of the other session.
    pub second_row_id: i64,
    /// Device of the first session.
    pub first_machine_id: String,
    /// Device of the second session.
    pub second_machine_id: String,
    /// Address of the first session.
    pub first_ip: Option<IpAddr>,
    /// Address of the second session.
    pub second_ip: Option<IpAddr>,
    /// When both were running (epoch seconds): start of the overlap.
    pub started: i64,
    /// Seconds both were running.
    pub seconds: i64,
}

/// The concurrency findings of one user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Concurrency {
    /// Every overlapping pair.
    pub overlaps: Vec<Overlap>,
    /// Distinct unordered device pairs among the overlaps.
    pub device_pairs: usize,
    /// Sessions that take part in at least one overlap, chronological.
    pub timeline: Vec<TimelineEntry>,
}

/// Find overlapping pairs in `sessions` (one user's, sorted by `started`).
///
/// A pair counts when the devices differ, both addresses are known and on different
/// networks (see [`super::Network`]), and the effective intervals
/// (`started` .. [`Session::effective_end`]) share more than zero seconds and at least
/// `min_overlap` seconds. An unknown address is not evidence of another network.
pub fn find(
    sessions: &[&Session],
    pause_allowance: u32,
    min_overlap: u32,
    strings: &Strings,
) -> Concurrency {
    let mut active: Vec<(i64, usize)> = Vec::new();
    let mut pairs: Vec<(usize, usize, i64)> = Vec::new();
    for (j, s) in sessions.iter().enumerate() {
        let start = s.started;
        let end = s.effective_end(pause_allowance);
        active.retain(|&(e, _)| e > start);
        if let Some(net_s) = s.network() {
            for &(e, i) in &active {
                let a = sessions[i];
                if a.machine == s.machine {
                    continue;
                }
                match a.network() {
                    Some(net_a) if net_a != net_s => {}
                    _ => continue,
                }
                let seconds = e.min(end) - a.started.max(start);
                if seconds > 0 && seconds >= i64::from(min_overlap) {
                    pairs.push((i, j, seconds));
                }
            }
        }
        if end > start {
            active.push((end, j));
        }
    }

    let mut device_pairs: BTreeSet<(Sym, Sym)> = BTreeSet::new();
    let mut involved: BTreeSet<usize> = BTreeSet::new();
    let overlaps = pairs
        .iter()
        .map(|&(i, j, seconds)| {
            let (a, b) = (sessions[i], sessions[j]);
            device_pairs.insert((a.machine.min(b.machine), a.machine.max(b.machine)));
            involved.insert(i);
            involved.insert(j);
            Overlap {
                first_row_id: a.row_id,
                second_row_id: b.row_id,
                first_machine_id: strings.get(a.machine).to_string(),
                second_machine_id: strings.get(b.machine).to_string(),
                first_ip: a.ip,
                second_ip: b.ip,
                started: b.started.max(a.started),
                seconds,
            }
        })
        .collect();
    let timeline = involved
        .into_iter()
        .map(|i| {
            let s = sessions[i];
            TimelineEntry {
                row_id: s.row_id,
                started: s.started,
                ended: s.effective_end(pause_allowance),
                play_seconds: s.play_seconds,
                machine_id: strings.get(s.machine).to_string(),
                platform: strings.get(s.platform).to_string(),
                player: strings.get(s.player).to_string(),
                ip: s.ip,
                title: strings.get(s.title).to_string(),
            }
        })
        .collect();
    Concurrency {
        overlaps,
        device_pairs: device_pairs.len(),
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Builder;
    use super::*;

    fn run(b: &Builder, min_overlap: u32) -> Concurrency {
        find(&b.sorted(), 0, min_overlap, &b.strings)
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
        let ips = [
            "81.1.1.1",
            "82.1.1.1",
            "192.168.1.2",
            "10.1.1.1",
            "2a02::1",
            "2a02::2",
        ];
        let mut x: u64 = 7;
        for k in 0..300 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
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
                if a.machine != c.machine
                    && a.network() != c.network()
                    && a.started < ec
                    && c.started < ea
                {
                    brute += 1;
                }
            }
        }
        assert!(brute > 10, "the fixture should have overlaps, got {brute}");
        assert_eq!(run(&b, 0).overlaps.len(), brute);
    }
}
