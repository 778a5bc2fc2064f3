//! Which household each session counts as, before any overlap or jump is evidence.
//!
//! What makes networks one household:
//! - the same device using an IPv4 address and an IPv6 /64 within a day (a dual-stack
//!   home: one device alternates between the two, so they are one place);
//! - two or more devices each using both networks (the ISP changed the home address, the
//!   family took its devices on a trip; a friend's devices never visit);
//! - and for concurrency each device has a home: the household where it plays most. Two
//!   devices with the same home are one household even when one of them is away (a phone
//!   on cellular, a laptop on a VPN or in a hotel), so their overlaps are not sharing. A
//!   friend's devices live elsewhere.
//!
//! - two networks of one ISP's address pool ([`super::pool`]): one home that GeoIP
//!   places in two cities, so they are one place for travel too.
//!
//! Travel keeps the other networks apart (a household's trip is still a journey); only
//! the household of concurrent sessions merges them.
//!
//! Sessions without an address, relayed through Plex, or from a trusted network count as
//! no network at all: they are never evidence.

use std::collections::HashMap;

use super::pool::{self, IspPool};
use super::{Network, Places, Rules, Session, Strings, Sym, UserInfo};

/// Households of one user's sessions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Households {
    /// Per session (same order as the input): its household network, if it can be evidence.
    pub session: Vec<Option<Network>>,
    /// Per session: its own network (for travel), if it can be evidence; the networks of
    /// an ISP pool are one.
    pub network: Vec<Option<Network>>,
    /// Per device: the household where it plays most.
    pub device_home: HashMap<Sym, Network>,
    /// The ISP pools found, the evidence for merging their networks.
    pub pools: Vec<IspPool>,
}

impl Households {
    /// Households with at least `min_plays` non-cellular sessions: the places a user
    /// regularly watches from (carrier addresses are nobody's home).
    pub fn regular(&self, sessions: &[&Session], min_plays: u32) -> usize {
        let mut plays: HashMap<Network, u32> = HashMap::new();
        for (s, n) in sessions.iter().zip(&self.session) {
            if let (Some(n), false) = (n, s.cellular) {
                *plays.entry(*n).or_default() += 1;
            }
        }
        plays.values().filter(|p| **p >= min_plays.max(1)).count()
    }

    /// True when the two devices have the same home (one household).
    pub fn same_home(&self, a: Sym, b: Sym) -> bool {
        matches!((self.device_home.get(&a), self.device_home.get(&b)), (Some(x), Some(y)) if x == y)
    }
}

const DAY: i64 = 86_400;

/// Compute the households of `sessions` (one user's, sorted by `started`); `places`
/// (with their operators) find ISP pools.
pub fn households(
    user: &UserInfo,
    sessions: &[&Session],
    places: &Places,
    strings: &Strings,
    rules: &Rules,
) -> Households {
    let raw: Vec<Option<Network>> = sessions.iter().map(|s| rules.evidence_network(user, s)).collect();
    let pools = if rules.isp_pools_are_one_home {
        pool::find(
            sessions,
            &raw,
            places,
            strings,
            rules.pause_allowance_seconds,
            &rules.travel,
        )
    } else {
        Vec::new()
    };

    // Union-find over networks linked by dual-stack devices.
    let mut parent: HashMap<Network, Network> = HashMap::new();
    fn find(parent: &mut HashMap<Network, Network>, n: Network) -> Network {
        let mut root = n;
        while let Some(&p) = parent.get(&root) {
            if p == root {
                break;
            }
            root = p;
        }
        if root != n {
            parent.insert(n, root); // path compression
        }
        root
    }
    let link = |parent: &mut HashMap<Network, Network>, x: Network, y: Network| {
        let (a, b) = (find(parent, x), find(parent, y));
        if a != b {
            parent.insert(a.max(b), a.min(b));
        }
    };
    for p in &pools {
        link(&mut parent, p.networks[0], p.networks[1]);
    }
    // Travel sees a pool as one place; nothing else merges places.
    let network: Vec<Option<Network>> = if parent.is_empty() {
        raw.clone()
    } else {
        raw.iter().map(|n| n.map(|n| find(&mut parent, n))).collect()
    };
    if rules.dual_stack_is_one_household {
        let mut last_by_device: HashMap<Sym, (i64, Network)> = HashMap::new();
        for (s, net) in sessions.iter().zip(&raw) {
            let Some(net) = *net else { continue };
            if let Some(&(t, prev)) = last_by_device.get(&s.machine) {
                let families_differ = matches!(
                    (prev, net),
                    (Network::V4(_), Network::V6(_)) | (Network::V6(_), Network::V4(_))
                );
                if families_differ && s.started - t <= DAY {
                    link(&mut parent, prev, net);
                }
            }
            last_by_device.insert(s.machine, (s.started, net));
        }
    }
    if rules.devices_at_home_are_one_household {
        // Networks that at least two devices each used are one household: devices move
        // together when the ISP changes the home address, or on a family trip; a friend's
        // devices never visit. Cellular carrier addresses do not count.
        let mut devices_by_net: HashMap<Network, Vec<Sym>> = HashMap::new();
        for (s, net) in sessions.iter().zip(&raw) {
            if let (Some(net), false) = (net, s.cellular) {
                let d = devices_by_net.entry(*net).or_default();
                if !d.contains(&s.machine) && d.len() < 8 {
                    d.push(s.machine);
                }
            }
        }
        let nets: Vec<(Network, Vec<Sym>)> = devices_by_net.into_iter().filter(|(_, d)| d.len() >= 2).collect();
        for (i, (na, da)) in nets.iter().enumerate() {
            for (nb, db) in &nets[i + 1..] {
                if da.iter().filter(|d| db.contains(d)).count() >= 2 {
                    link(&mut parent, *na, *nb);
                }
            }
        }
    }
    let session: Vec<Option<Network>> = if parent.is_empty() {
        raw.clone()
    } else {
        raw.iter().map(|n| n.map(|n| find(&mut parent, n))).collect()
    };

    let mut device_home = HashMap::new();
    if rules.devices_at_home_are_one_household {
        let mut plays: HashMap<Sym, HashMap<Network, u32>> = HashMap::new();
        for (s, net) in sessions.iter().zip(&session) {
            if let Some(net) = net {
                *plays.entry(s.machine).or_default().entry(*net).or_default() += 1;
            }
        }
        for (device, counts) in plays {
            // Most plays; ties go to the smaller network so the result is deterministic.
            if let Some((net, _)) = counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))) {
                device_home.insert(device, net);
            }
        }
    }
    Households {
        session,
        network,
        device_home,
        pools,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{user, Builder};
    use super::super::ScoringProfile;
    use super::*;

    #[test]
    fn a_device_alternating_ipv4_and_ipv6_links_them_into_one_household() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 0, 600);
        b.add(1, "tv", "2a02:1::5", 3600, 600);
        b.add(1, "phone", "2a02:1::9", 7200, 600);
        let h = households(&user(), &b.sorted(), &Places::new(), &b.strings, &Rules::default());
        assert_eq!(
            h.session[0], h.session[2],
            "the phone's IPv6 home is the TV's IPv4 home"
        );
        let reference = households(
            &user(),
            &b.sorted(),
            &Places::new(),
            &b.strings,
            &Rules::for_profile(ScoringProfile::Reference),
        );
        assert_ne!(reference.session[0], reference.session[2]);
    }

    #[test]
    fn networks_two_devices_share_are_one_household_but_stay_apart_for_travel() {
        let mut b = Builder::default();
        for d in 0..5 {
            b.add(1, "tv", "81.1.1.1", d * DAY, 600);
            b.add(1, "phone", "81.1.1.1", d * DAY + 900, 600);
        }
        // The ISP changes the home address: both devices move.
        for d in 5..10 {
            b.add(1, "tv", "81.9.9.9", d * DAY, 600);
            b.add(1, "phone", "81.9.9.9", d * DAY + 900, 600);
        }
        // A friend's TV elsewhere never sees another device.
        b.add(1, "friend-tv", "82.2.2.2", 3 * DAY, 600);
        let sorted = b.sorted();
        let h = households(&user(), &sorted, &Places::new(), &b.strings, &Rules::default());
        let net = |ip: &str| sorted.iter().position(|s| s.ip == ip.parse().ok()).unwrap();
        assert_eq!(h.session[net("81.1.1.1")], h.session[net("81.9.9.9")]);
        assert_ne!(h.session[net("81.1.1.1")], h.session[net("82.2.2.2")]);
        assert_ne!(
            h.network[net("81.1.1.1")],
            h.network[net("81.9.9.9")],
            "travel sees two places"
        );
    }

    #[test]
    fn ipv4_and_ipv6_days_apart_are_not_linked() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 0, 600);
        b.add(1, "tv", "2a02:1::5", 3 * DAY, 600);
        let h = households(&user(), &b.sorted(), &Places::new(), &b.strings, &Rules::default());
        assert_ne!(h.session[0], h.session[1]);
    }

    #[test]
    fn each_device_lives_where_it_plays_most() {
        let mut b = Builder::default();
        for i in 0..5 {
            b.add(1, "phone", "81.1.1.1", i * DAY, 600);
        }
        b.add(1, "phone", "99.9.9.9", 10 * DAY, 600); // on cellular once
        b.add(1, "tv", "81.1.1.1", 11 * DAY, 600);
        b.add(1, "friend-tv", "82.2.2.2", 12 * DAY, 600);
        let h = households(&user(), &b.sorted(), &Places::new(), &b.strings, &Rules::default());
        let sym = |n: &str| {
            b.sessions
                .iter()
                .find(|s| b.strings.get(s.machine) == n)
                .unwrap()
                .machine
        };
        assert!(h.same_home(sym("phone"), sym("tv")));
        assert!(!h.same_home(sym("phone"), sym("friend-tv")));
    }

    #[test]
    fn relayed_unknown_and_trusted_sessions_are_no_network() {
        let mut rules = Rules::default();
        rules
            .trusted
            .per_user
            .push(("u".into(), "85.10.0.0/24".parse().unwrap()));
        rules.trusted.global.push("90.64.0.0/10".parse().unwrap());
        let mut b = Builder::default();
        b.add(1, "a", "81.1.1.1", 0, 600).relayed = true;
        b.add(1, "b", "", 10, 600);
        b.add(1, "c", "85.10.0.7", 20, 600);
        b.add(1, "d", "90.100.1.1", 30, 600);
        b.add(1, "e", "82.2.2.2", 40, 600);
        let h = households(&user(), &b.sorted(), &Places::new(), &b.strings, &rules);
        assert_eq!(h.session[..4], [None, None, None, None]);
        assert!(h.session[4].is_some());
    }
}
