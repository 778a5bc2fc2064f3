//! The driver: groups sessions by user and runs every rule over each user's sessions
//! to make their [`UserFinding`].

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::finding::{Span, UserFinding};
use super::rules::Rules;
use super::session::{Places, Session, Strings, UserInfo};
use super::{concurrency, devices, household, score, travel};

/// Analyse every user that has sessions. `sessions` may be in any order.
/// Users missing from `users` are named by their id.
pub fn analyze_all(
    sessions: &[Session],
    users: &BTreeMap<i64, UserInfo>,
    strings: &Strings,
    places: &Places,
    rules: &Rules,
) -> Vec<UserFinding> {
    let mut findings = Vec::new();
    for_each_user(sessions, users, rules, |info, mine| {
        findings.push(analyze_user(&info, mine, strings, places, rules));
    });
    findings
}

/// Call `f` with each user to analyse and their sessions sorted by start: `sessions`
/// (in any order) grouped by user, named from `users` (or by their id when the table
/// lacks them), leaving out the users `rules` ignores.
pub fn for_each_user<'s>(
    sessions: &'s [Session],
    users: &BTreeMap<i64, UserInfo>,
    rules: &Rules,
    mut f: impl FnMut(UserInfo, &[&'s Session]),
) {
    let mut order: Vec<&Session> = sessions.iter().collect();
    order.sort_unstable_by_key(|s| (s.user_id, s.started, s.row_id));
    for mine in order.chunk_by(|a, b| a.user_id == b.user_id) {
        let user_id = mine[0].user_id;
        let info = users.get(&user_id).cloned().unwrap_or_else(|| UserInfo {
            user_id,
            name: user_id.to_string(),
            username: String::new(),
        });
        if !rules.ignores(&info) {
            f(info, mine);
        }
    }
}

/// Analyse one user's sessions, which must be sorted by `started`.
pub fn analyze_user(
    user: &UserInfo,
    sessions: &[&Session],
    strings: &Strings,
    places: &Places,
    rules: &Rules,
) -> UserFinding {
    let mut usage = devices::usage(sessions, strings, rules.heavy_device_plays);
    devices::name_operators(&mut usage.ips, places);
    let homes = household::households(user, sessions, places, strings, rules);
    let concurrency::Concurrency {
        overlaps,
        overlap_count,
        nearby_count,
        involved,
        device_pairs: concurrent_device_pairs,
        timeline,
    } = concurrency::find(
        sessions,
        &concurrency::OverlapRules {
            pause_allowance: rules.pause_allowance_seconds,
            min_overlap: rules.min_overlap_seconds,
            households: &homes,
            same_home_is_household: rules.devices_at_home_are_one_household,
            nearby_cellular_km: rules
                .nearby_cellular_is_household
                .then_some(rules.travel.min_distance_km),
            nearby_km: rules.nearby_overlaps_are_apart.then_some(rules.travel.min_distance_km),
            cellular_regions: rules.travel.cellular_is_a_region,
            places,
        },
        strings,
    );
    let jumps = travel::find_jumps(
        sessions,
        &homes.network,
        rules.devices_at_home_are_one_household.then_some(&homes),
        places,
        strings,
        rules.pause_allowance_seconds,
        &rules.travel,
    );
    let travel::Jumps {
        count: jump_count,
        same_device: same_device_jumps,
        first: jumps,
    } = jumps;
    let counts = score::Counts {
        devices: usage.devices.len(),
        heavy_devices: usage.heavy_devices,
        concurrent_sessions: overlap_count,
        nearby_concurrent_sessions: nearby_count,
        concurrent_device_pairs,
        teleportations: jump_count,
        same_device_jumps,
        networks: usage.networks,
        regular_networks: homes.regular(sessions, rules.regular_network_plays),
    };
    let spans = spans(sessions, strings, &usage, &involved, rules.pause_allowance_seconds);
    let score_terms = rules.scoring.terms(&counts);
    let score = score_terms.iter().map(|t| t.points).sum::<f64>();
    let flagged = score >= rules.min_score && (!rules.concurrent_only || overlap_count > 0);
    UserFinding {
        user_id: user.user_id,
        user: user.name.clone(),
        username: user.username.clone(),
        score,
        flagged,
        score_terms,
        devices: usage.devices.len(),
        heavy_devices: usage.heavy_devices,
        plays: usage.plays,
        watch_time_seconds: usage.watch_time_seconds,
        networks: usage.networks,
        regular_networks: counts.regular_networks,
        concurrent_sessions: overlap_count,
        nearby_concurrent_sessions: nearby_count,
        concurrent_device_pairs,
        teleportations: jump_count,
        same_device_jumps,
        device_usage: usage.devices,
        ip_usage: usage.ips,
        overlaps,
        timeline,
        jumps,
        isp_pools: homes.pools.into_iter().take(super::pool::MAX_POOLS).collect(),
        spans,
    }
}

/// Every session as a [`Span`], indexing the devices and addresses of `usage`.
fn spans(
    sessions: &[&Session],
    strings: &Strings,
    usage: &devices::Usage,
    involved: &[bool],
    pause_allowance: u32,
) -> Vec<Span> {
    let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    let devices: HashMap<&str, u32> = usage
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| (d.machine_id.as_str(), index(i)))
        .collect();
    let ips: HashMap<IpAddr, u32> = usage.ips.iter().enumerate().map(|(i, u)| (u.ip, index(i))).collect();
    sessions
        .iter()
        .zip(involved)
        .map(|(s, hit)| {
            Span::new(
                s.started,
                s.effective_end(pause_allowance).max(s.started),
                devices.get(strings.get(s.machine)).copied().unwrap_or(u32::MAX),
                s.ip.and_then(|ip| ips.get(&ip).copied()),
                *hit,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn analyze_all_groups_by_user_in_any_input_order() {
        let mut b = Builder::default();
        b.add(2, "phone", "8.8.8.8", 5000, 100);
        b.add(1, "tv", "1.1.1.1", 1000, 100);
        b.add(2, "tv2", "9.9.9.9", 4000, 100);
        let users = BTreeMap::from([(
            2,
            UserInfo {
                user_id: 2,
                name: "Two".into(),
                username: "two".into(),
            },
        )]);
        let f = analyze_all(&b.sessions, &users, &b.strings, &Places::new(), &Rules::default());
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].user_id, f[0].user.as_str(), f[0].plays), (1, "1", 1));
        assert_eq!(
            (f[1].user_id, f[1].user.as_str(), f[1].plays, f[1].devices),
            (2, "Two", 2, 2)
        );
    }

    #[test]
    fn spans_index_devices_and_addresses_and_mark_overlapping_sessions() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 3600); // overlaps the phone
        b.add(1, "phone", "92.2.2.2", 2000, 600);
        b.add(1, "tv", "81.1.1.1", 90_000, 7200); // alone
        b.add(1, "tablet", "", 200_000, 60); // no address
        let info = UserInfo {
            user_id: 1,
            name: "One".into(),
            username: String::new(),
        };
        let f = analyze_user(&info, &b.sorted(), &b.strings, &Places::new(), &Rules::default());
        assert_eq!(f.spans.len(), 4);
        let device = |s: &Span| f.device_usage[s.device() as usize].machine_id.as_str();
        let ip = |s: &Span| s.ip().map(|i| f.ip_usage[i as usize].ip.to_string());
        assert_eq!(
            f.spans
                .iter()
                .map(|s| (s.started(), s.ended(), device(s), ip(s), s.concurrent()))
                .collect::<Vec<_>>(),
            vec![
                (1000, 4600, "tv", Some("81.1.1.1".into()), true),
                (2000, 2600, "phone", Some("92.2.2.2".into()), true),
                (90_000, 97_200, "tv", Some("81.1.1.1".into()), false),
                (200_000, 200_060, "tablet", None, false),
            ]
        );
    }
}
