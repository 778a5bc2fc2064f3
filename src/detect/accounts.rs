//! Accounts across servers: Tautulli's `user_id` is the plex.tv account id, the same on
//! every server, so one login shared by two households, one on each server, only shows
//! when the servers' sessions are read together. [`accounts`] joins the windows of
//! several servers by user id and runs the ordinary analysis over each account seen on
//! two or more servers; accounts on one server only are left out (their server's own
//! finding already says everything).
//!
//! Row ids are per server, so each account's sessions are numbered again (0, 1, ... in
//! the order analysed) and [`AccountFinding::origins`] maps each number back to the
//! server and Tautulli row it came from: the evidence names the server of each session.
//! [`accounts_changed`] re-analyses only the accounts whose sessions changed, as a
//! server's refresh does ([`super::incremental`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::finding::UserFinding;
use super::incremental::{analyze_changed, Analysis};
use super::network::canonical;
use super::ranking::by_suspicion;
use super::rules::Rules;
use super::session::{Places, Session, Strings, Sym, UserInfo};

/// One server's window as the account view reads it.
#[derive(Debug, Clone, Copy)]
pub struct ServerWindow<'a> {
    /// Server name.
    pub server: &'a str,
    /// Its sessions, in any order.
    pub sessions: &'a [Session],
    /// Their strings.
    pub strings: &'a Strings,
    /// Where its addresses are.
    pub places: &'a Places,
    /// Its users (the names it knows them by).
    pub users: &'a BTreeMap<i64, UserInfo>,
    /// When this window was read, epoch seconds: the newest read names the account.
    pub refreshed_at: i64,
    /// The server's last refresh failed: this is its last good window.
    pub stale: bool,
}

/// Where one session of an account came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index into [`AccountFinding::servers`].
    pub server: u16,
    /// The session's row id on that server.
    pub row_id: i64,
}

/// What detection concluded about one account seen on two or more servers.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountFinding {
    /// The analysis of every session of the account on every server. Its row ids
    /// (overlaps, timeline, jumps) index [`AccountFinding::origins`].
    pub finding: Arc<UserFinding>,
    /// The servers with sessions of this account, in the order given.
    pub servers: Vec<String>,
    /// Those of `servers` whose last refresh failed (their last good sessions are used).
    pub stale_servers: Vec<String>,
    /// Per session, in the order analysed (the finding's row id is the index).
    pub origins: Vec<Origin>,
}

impl AccountFinding {
    /// The server and its row id behind a row id of the finding's evidence.
    pub fn origin(&self, row_id: i64) -> Option<(&str, i64)> {
        let o = self.origins.get(usize::try_from(row_id).ok()?)?;
        Some((self.servers.get(usize::from(o.server))?.as_str(), o.row_id))
    }
}

/// The accounts with sessions on two or more of `windows`, each analysed over all its
/// sessions by `rules`, most suspicious first. Named as the most recently read server
/// that knows them names them.
pub fn accounts(windows: &[ServerWindow], rules: &Rules) -> Vec<AccountFinding> {
    accounts_changed(windows, rules, &Analysis::default()).0
}

/// [`accounts`], reusing the findings of `previous` (the last run's analysis, by the same
/// `rules`) for the accounts whose sessions and places did not change; also returns this
/// run's analysis, for the next.
pub fn accounts_changed(
    windows: &[ServerWindow],
    rules: &Rules,
    previous: &Analysis,
) -> (Vec<AccountFinding>, Analysis) {
    // Which servers each user has sessions on (a bit per server; more than 64 servers
    // share the last bit, which only matters for counting servers past 64).
    let mut seen: HashMap<i64, u64> = HashMap::new();
    for (i, w) in windows.iter().enumerate() {
        let bit = 1u64 << i.min(63);
        for s in w.sessions {
            *seen.entry(s.user_id).or_default() |= bit;
        }
    }
    seen.retain(|_, servers| servers.count_ones() >= 2);
    if seen.is_empty() {
        return (Vec::new(), Analysis::default());
    }

    let mut strings = Strings::default();
    let mut places = Places::new();
    let mut joined: Vec<(Session, u16)> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        let server = u16::try_from(i).unwrap_or(u16::MAX);
        let mut syms: HashMap<Sym, Sym> = HashMap::new();
        let mut again =
            |sym: Sym, strings: &mut Strings| *syms.entry(sym).or_insert_with(|| strings.intern(w.strings.get(sym)));
        for s in w.sessions.iter().filter(|s| seen.contains_key(&s.user_id)) {
            let mut s = *s;
            s.machine = again(s.machine, &mut strings);
            s.platform = again(s.platform, &mut strings);
            s.player = again(s.player, &mut strings);
            s.title = again(s.title, &mut strings);
            if let Some(ip) = s.ip {
                for key in [ip, canonical(ip)] {
                    if let Some(p) = w.places.get(&key) {
                        places.entry(key).or_insert_with(|| p.clone());
                    }
                }
            }
            joined.push((s, server));
        }
    }
    joined.sort_unstable_by_key(|(s, server)| (s.user_id, s.started, *server, s.row_id));

    // Number each account's sessions 0, 1, ... in this order (the order analysis sorts
    // them in too), remembering where each came from.
    let mut origins: HashMap<i64, Vec<Origin>> = HashMap::new();
    let sessions: Vec<Session> = joined
        .into_iter()
        .map(|(mut s, server)| {
            let mine = origins.entry(s.user_id).or_default();
            mine.push(Origin {
                server,
                row_id: s.row_id,
            });
            s.row_id = mine.len() as i64 - 1;
            s
        })
        .collect();

    let mut users: BTreeMap<i64, UserInfo> = BTreeMap::new();
    let mut newest: HashMap<i64, i64> = HashMap::new();
    for w in windows {
        for id in seen.keys() {
            if let Some(info) = w.users.get(id) {
                if newest.get(id).is_none_or(|t| w.refreshed_at > *t) {
                    newest.insert(*id, w.refreshed_at);
                    users.insert(*id, info.clone());
                }
            }
        }
    }

    let analysis = analyze_changed(&sessions, &users, &strings, &places, rules, previous);
    let mut found: Vec<AccountFinding> = analysis
        .findings()
        .into_iter()
        .map(|finding| {
            let origins = origins.remove(&finding.user_id).unwrap_or_default();
            let mut used = vec![false; windows.len()];
            for o in &origins {
                if let Some(u) = used.get_mut(usize::from(o.server)) {
                    *u = true;
                }
            }
            // Renumber the servers to the ones this account uses.
            let index: Vec<u16> = used
                .iter()
                .scan(0u16, |next, u| {
                    let i = *next;
                    *next += u16::from(*u);
                    Some(i)
                })
                .collect();
            let on: Vec<&ServerWindow> = windows.iter().zip(&used).filter(|(_, u)| **u).map(|(w, _)| w).collect();
            AccountFinding {
                servers: on.iter().map(|w| w.server.to_string()).collect(),
                stale_servers: on.iter().filter(|w| w.stale).map(|w| w.server.to_string()).collect(),
                origins: origins
                    .into_iter()
                    .map(|o| Origin {
                        server: index.get(usize::from(o.server)).copied().unwrap_or(u16::MAX),
                        row_id: o.row_id,
                    })
                    .collect(),
                finding,
            }
        })
        .collect();
    found.sort_by(|a, b| by_suspicion(&a.finding, &b.finding));
    (found, analysis)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    const T: i64 = 1_800_000_000;

    fn info(id: i64, name: &str) -> UserInfo {
        UserInfo {
            user_id: id,
            name: name.into(),
            username: String::new(),
        }
    }

    struct Server {
        b: Builder,
        places: Places,
        users: BTreeMap<i64, UserInfo>,
    }

    impl Server {
        fn new(users: &[(i64, &str)]) -> Server {
            Server {
                b: Builder::default(),
                places: Places::from([
                    ("81.1.1.1".parse().unwrap(), place("Berlin", 52.52, 13.40)),
                    ("126.1.1.1".parse().unwrap(), place("Tokyo", 35.68, 139.69)),
                ]),
                users: users.iter().map(|(id, n)| (*id, info(*id, n))).collect(),
            }
        }

        fn window<'a>(&'a self, name: &'a str, refreshed_at: i64, stale: bool) -> ServerWindow<'a> {
            ServerWindow {
                server: name,
                sessions: &self.b.sessions,
                strings: &self.b.strings,
                places: &self.places,
                users: &self.users,
                refreshed_at,
                stale,
            }
        }
    }

    fn alone(s: &Server) -> UserFinding {
        let f = super::super::analyze_all(&s.b.sessions, &s.users, &s.b.strings, &s.places, &Rules::default());
        f.into_iter().find(|f| f.user_id == 7).unwrap()
    }

    /// Account 7 watches every evening from Berlin on one server and, at the same
    /// hours, from Tokyo on the other; user 8 is on the first server only.
    fn berlin_and_tokyo() -> (Server, Server) {
        let mut a = Server::new(&[(7, "Old name"), (8, "Solo")]);
        let mut b = Server::new(&[(7, "Ann")]);
        for day in 0..5 {
            let t = T + day * 86_400;
            a.b.add(7, "berlin-tv", "81.1.1.1", t, 7200);
            b.b.add(7, "tokyo-tablet", "126.1.1.1", t + 600, 7200);
            a.b.add(8, "tv", "81.1.1.1", t, 600);
        }
        (a, b)
    }

    #[test]
    fn an_account_streaming_from_two_cities_one_per_server_is_flagged_only_across_servers() {
        let (a, b) = berlin_and_tokyo();
        assert!(!alone(&a).flagged && alone(&a).concurrent_sessions == 0);
        assert!(!alone(&b).flagged && alone(&b).teleportations == 0);

        let found = accounts(
            &[a.window("4k", T, false), b.window("hd", T + 60, false)],
            &Rules::default(),
        );
        assert_eq!(found.len(), 1, "user 8 is on one server only");
        let acc = &found[0];
        assert_eq!((acc.finding.user_id, acc.finding.user.as_str()), (7, "Ann"));
        assert!(acc.finding.flagged, "{:?}", acc.finding.score_terms);
        assert_eq!(acc.finding.concurrent_sessions, 5);
        assert_eq!(acc.finding.concurrent_device_pairs, 1);
        assert!(acc.finding.teleportations >= 1);
        assert_eq!(acc.servers, vec!["4k", "hd"]);
        assert!(acc.stale_servers.is_empty());
        // Every overlap names a Berlin session on 4k and a Tokyo one on hd.
        for o in &acc.finding.overlaps {
            let (first, second) = (
                acc.origin(o.first_row_id).unwrap(),
                acc.origin(o.second_row_id).unwrap(),
            );
            assert_eq!((first.0, second.0), ("4k", "hd"));
            assert_eq!(a.b.sessions[(first.1 - 1) as usize].user_id, 7);
            assert_eq!(&*o.first_machine_id, "berlin-tv");
        }
        assert_eq!(acc.origins.len(), 10);
    }

    #[test]
    fn an_account_using_both_servers_from_one_home_is_not_flagged() {
        let mut a = Server::new(&[(7, "Ann")]);
        let mut b = Server::new(&[(7, "Ann")]);
        for day in 0..5 {
            let t = T + day * 86_400;
            a.b.add(7, "tv", "81.1.1.1", t, 7200);
            b.b.add(7, "phone", "81.1.1.1", t + 600, 3600);
        }
        let found = accounts(&[a.window("4k", T, false), b.window("hd", T, false)], &Rules::default());
        assert_eq!(found.len(), 1);
        let f = &found[0].finding;
        assert!(!f.flagged, "{:?}", f.score_terms);
        assert_eq!((f.concurrent_sessions, f.teleportations, f.plays), (0, 0, 10));
    }

    #[test]
    fn the_newest_read_names_the_account_and_stale_servers_are_marked() {
        let (a, b) = berlin_and_tokyo();
        let found = accounts(
            &[a.window("4k", T + 600, true), b.window("hd", T, false)],
            &Rules::default(),
        );
        assert_eq!(found[0].finding.user, "Old name");
        assert_eq!(found[0].stale_servers, vec!["4k"]);
        assert!(found[0].finding.flagged, "a stale server's last sessions still count");
    }

    #[test]
    fn only_accounts_whose_sessions_changed_are_analysed_again() {
        let (mut a, b) = berlin_and_tokyo();
        let mut a2 = Server::new(&[(9, "Nine")]);
        let mut b2 = Server::new(&[(9, "Nine")]);
        a2.b.add(9, "tv", "81.1.1.1", T, 600);
        b2.b.add(9, "tv", "81.1.1.1", T + 3600, 600);
        // Account 9 is on the second pair of servers: four servers in all.
        fn four<'a>(a: &'a Server, b: &'a Server, a2: &'a Server, b2: &'a Server) -> Vec<ServerWindow<'a>> {
            vec![
                a.window("4k", T, false),
                b.window("hd", T, false),
                a2.window("x", T, false),
                b2.window("y", T, false),
            ]
        }
        let (first, analysis) = accounts_changed(&four(&a, &b, &a2, &b2), &Rules::default(), &Analysis::default());
        assert_eq!((first.len(), analysis.analysed), (2, 2));
        let (again, analysis) = accounts_changed(&four(&a, &b, &a2, &b2), &Rules::default(), &analysis);
        assert_eq!(analysis.analysed, 0, "nothing changed");
        assert_eq!(again, first);
        a.b.add(7, "berlin-tv", "81.1.1.1", T + 9 * 86_400, 600);
        let (changed, analysis) = accounts_changed(&four(&a, &b, &a2, &b2), &Rules::default(), &analysis);
        assert_eq!(analysis.analysed, 1, "only account 7 played since");
        let seven = changed.iter().find(|c| c.finding.user_id == 7).unwrap();
        assert_eq!((seven.finding.plays, seven.origins.len()), (11, 11));
    }

    #[test]
    fn one_server_alone_makes_no_accounts() {
        let (a, _) = berlin_and_tokyo();
        assert!(accounts(&[a.window("4k", T, false)], &Rules::default()).is_empty());
    }
}
