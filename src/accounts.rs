//! The account view across servers: the snapshots of every server that kept their
//! sessions, joined by user id ([`detect::accounts`]) into the accounts seen on two or
//! more servers. A server whose last refresh failed still lends its last good sessions,
//! marked stale. `serve` assembles it once per change of the fleet (the fleet caches
//! it), `report` once.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::detect::incremental::Analysis;
use crate::detect::{self, AccountFinding, Rules, ServerWindow};
use crate::snapshot::Snapshot;

/// The accounts on two or more servers, and what their pages need.
#[derive(Debug, Default)]
pub struct Accounts {
    /// Most suspicious first.
    pub accounts: Vec<AccountFinding>,
    /// The accounts' findings as a snapshot (server `accounts`), so the user page's
    /// sections and the JSON read them as they read a server's: location labels of
    /// their addresses, the union of the windows, no live streams.
    pub view: Snapshot,
    /// The analysis behind `accounts`, so the next assembly re-analyses only the
    /// accounts whose sessions changed.
    pub analysis: Analysis,
}

impl Accounts {
    /// The account of `user_id`, if it is on two or more servers.
    pub fn find(&self, user_id: i64) -> Option<&AccountFinding> {
        self.accounts.iter().find(|a| a.finding.user_id == user_id)
    }

    /// True when `user_id` is an account on two or more servers.
    pub fn contains(&self, user_id: i64) -> bool {
        self.find(user_id).is_some()
    }
}

/// One server's part: its name, its latest good snapshot, and whether its last refresh
/// failed (the snapshot is then stale).
pub type Part<'a> = (&'a str, &'a Snapshot, bool);

/// The account view over `servers` by `rules`, reusing the findings of `previous` (the
/// last assembly's analysis, by the same rules) for accounts whose sessions did not
/// change. Snapshots without kept sessions add nothing; fewer than two with sessions make
/// no accounts.
pub fn assemble(servers: &[Part], rules: &Rules, previous: &Analysis) -> Accounts {
    let windows: Vec<ServerWindow> = servers
        .iter()
        .filter_map(|(name, snap, stale)| {
            let kept = snap.sessions.as_deref()?;
            Some(ServerWindow {
                server: name,
                sessions: kept.window.sessions(),
                strings: kept.window.strings(),
                places: &kept.places,
                users: &kept.users,
                refreshed_at: snap.generated_at,
                stale: *stale,
            })
        })
        .collect();
    if windows.len() < 2 {
        return Accounts::default();
    }
    let (accounts, analysis) = detect::accounts::accounts_changed(&windows, rules, previous);
    let mut locations: HashMap<IpAddr, String> = HashMap::new();
    for a in &accounts {
        for u in &a.finding.ip_usage {
            if let Some(label) = servers.iter().find_map(|(_, snap, _)| snap.locations.get(&u.ip)) {
                locations.insert(u.ip, label.clone());
            }
        }
    }
    let with_sessions = servers.iter().filter(|(_, snap, _)| snap.sessions.is_some());
    let window = with_sessions.fold((i64::MAX, i64::MIN), |(start, end), (_, snap, _)| {
        (start.min(snap.window.0), end.max(snap.window.1))
    });
    let view = Snapshot {
        server: "accounts".into(),
        findings: accounts.iter().map(|a| a.finding.clone()).collect(),
        locations,
        window,
        generated_at: servers.iter().map(|(_, snap, _)| snap.generated_at).max().unwrap_or(0),
        ..Snapshot::default()
    };
    Accounts {
        accounts,
        view,
        analysis,
    }
}
