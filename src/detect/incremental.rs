//! Re-analysing only the users whose inputs changed.
//!
//! Between two refreshes most users neither played nor lost a session at the window's
//! edge. Their finding is a pure function of inputs that did not change, so the new
//! snapshot shares the old [`UserFinding`] instead of computing and holding a second
//! copy: a refresh then costs (in time and in memory) what changed, not the whole window.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::{analyze_user, network, Places, Rules, Session, Strings, UserFinding, UserInfo};

/// Findings of the last analysis, by user, with a digest of what each was computed from.
#[derive(Debug, Default, Clone)]
pub struct Analysis {
    by_user: HashMap<i64, (u64, Arc<UserFinding>)>,
    /// Users analysed afresh by the run that produced this (the others were reused).
    pub analysed: usize,
}

impl Analysis {
    /// The findings, in no particular order.
    pub fn findings(&self) -> Vec<Arc<UserFinding>> {
        self.by_user.values().map(|(_, f)| f.clone()).collect()
    }

    /// Number of users with a finding.
    pub fn len(&self) -> usize {
        self.by_user.len()
    }

    /// True when no user has a finding.
    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }
}

/// Analyse every user like [`super::analyze_all`], reusing `previous` findings whose
/// inputs (the user's names, sessions, and the places of their addresses) are unchanged.
/// `rules` must be the rules `previous` was computed with.
pub fn analyze_changed(
    sessions: &[Session],
    users: &BTreeMap<i64, UserInfo>,
    strings: &Strings,
    places: &Places,
    rules: &Rules,
    previous: &Analysis,
) -> Analysis {
    let mut next = Analysis::default();
    super::for_each_user(sessions, users, rules, |info, mine| {
        let digest = digest(&info, mine, strings, places);
        let finding = match previous.by_user.get(&info.user_id) {
            Some((d, f)) if *d == digest => f.clone(),
            _ => {
                next.analysed += 1;
                Arc::new(analyze_user(&info, mine, strings, places, rules))
            }
        };
        next.by_user.insert(info.user_id, (digest, finding));
    });
    next
}

/// A digest of everything [`analyze_user`] reads for one user, by value (strings by
/// content, not by handle, so it survives a full reload that rebuilds the string table).
fn digest(user: &UserInfo, sessions: &[&Session], strings: &Strings, places: &Places) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    user.hash(&mut h);
    sessions.len().hash(&mut h);
    for s in sessions {
        (s.row_id, s.user_id, s.started, s.stopped_after).hash(&mut h);
        (s.play_seconds, s.paused_seconds, s.ip, s.relayed, s.cellular).hash(&mut h);
        for sym in [s.machine, s.platform, s.player, s.title] {
            strings.get(sym).hash(&mut h);
        }
    }
    let mut ips: Vec<_> = sessions.iter().filter_map(|s| s.ip).map(network::canonical).collect();
    ips.sort_unstable();
    ips.dedup();
    for ip in ips {
        ip.hash(&mut h);
        match places.get(&ip) {
            None => 0u8.hash(&mut h),
            Some(p) => {
                1u8.hash(&mut h);
                (&p.city, &p.region, &p.country, &p.country_code).hash(&mut h);
                (p.latitude.to_bits(), p.longitude.to_bits()).hash(&mut h);
                p.accuracy_radius_km.map(f64::to_bits).hash(&mut h);
                p.asn.hash(&mut h);
            }
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{place, Builder};
    use super::*;

    fn run(b: &Builder, places: &Places, previous: &Analysis) -> Analysis {
        analyze_changed(
            &b.sessions,
            &BTreeMap::new(),
            &b.strings,
            places,
            &Rules::default(),
            previous,
        )
    }

    fn history() -> Builder {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 3600);
        b.add(1, "phone", "82.2.2.2", 2000, 600);
        b.add(2, "tv", "83.3.3.3", 1000, 600);
        b
    }

    #[test]
    fn unchanged_users_share_their_finding_and_changed_ones_are_analysed_again() {
        let places = Places::new();
        let mut b = history();
        let first = run(&b, &places, &Analysis::default());
        assert_eq!((first.len(), first.analysed), (2, 2));

        let same = run(&b, &places, &first);
        assert_eq!(same.analysed, 0);
        for (id, (_, f)) in &first.by_user {
            assert!(Arc::ptr_eq(f, &same.by_user[id].1), "user {id} was not reused");
        }

        b.add(2, "laptop", "84.4.4.4", 1200, 600);
        let changed = run(&b, &places, &same);
        assert_eq!(changed.analysed, 1);
        assert!(Arc::ptr_eq(&same.by_user[&1].1, &changed.by_user[&1].1));
        assert_eq!(changed.by_user[&2].1.plays, 2);
    }

    #[test]
    fn reused_findings_equal_a_fresh_analysis_after_any_change() {
        let mut places = Places::new();
        let mut b = history();
        let mut prev = run(&b, &places, &Analysis::default());
        let fresh = |b: &Builder, places: &Places| {
            let mut f = super::super::analyze_all(&b.sessions, &BTreeMap::new(), &b.strings, places, &Rules::default());
            f.sort_by_key(|f| f.user_id);
            f
        };
        let check = |a: &Analysis, b: &Builder, places: &Places| {
            let mut got: Vec<UserFinding> = a.findings().iter().map(|f| (**f).clone()).collect();
            got.sort_by_key(|f| f.user_id);
            assert_eq!(got, fresh(b, places));
        };
        // A session's play time changes (Tautulli rewrote the row).
        b.sessions[1].play_seconds = 1200;
        prev = run(&b, &places, &prev);
        check(&prev, &b, &places);
        assert_eq!(prev.analysed, 1);
        // GeoIP now knows where an address is.
        places.insert("82.2.2.2".parse().unwrap(), place("London", 51.5, -0.12));
        prev = run(&b, &places, &prev);
        check(&prev, &b, &places);
        assert_eq!(prev.analysed, 1);
        // An ASN database now names the address's operator.
        if let Some(p) = places.get_mut(&"82.2.2.2".parse().unwrap()) {
            p.asn = Some(crate::detect::Asn {
                number: 5089,
                organization: Some("Virgin Media".into()),
            });
        }
        prev = run(&b, &places, &prev);
        check(&prev, &b, &places);
        assert_eq!(prev.analysed, 1);
        // A user leaves the window.
        b.sessions.retain(|s| s.user_id != 2);
        prev = run(&b, &places, &prev);
        check(&prev, &b, &places);
        assert_eq!((prev.len(), prev.analysed), (1, 0));
    }

    #[test]
    fn ignored_users_get_no_finding() {
        let b = history();
        let rules = Rules {
            ignore_users: vec!["2".into()],
            ..Rules::default()
        };
        let a = analyze_changed(
            &b.sessions,
            &BTreeMap::new(),
            &b.strings,
            &Places::new(),
            &rules,
            &Analysis::default(),
        );
        assert_eq!(a.findings().iter().map(|f| f.user_id).collect::<Vec<_>>(), vec![1]);
    }
}
