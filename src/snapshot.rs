//! What a refresh produces and everyone else reads: a server's latest [`Snapshot`]
//! (findings, live streams, locations), its [`Health`], and the [`ServerState`] that
//! holds both. The refresh loop writes them; metrics, the web and `report` read them.
//! A failed refresh keeps the last good snapshot, marks the server down and logs one
//! line, so the exporter keeps serving and recovers by itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;

use crate::detect::{Network, Places, UserFinding, UserInfo};
use crate::tautulli::{self, Client, LiveStream};
use crate::window::Window;

/// What one user is streaming right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    /// Display name.
    pub user: String,
    /// Streams playing, paused or buffering.
    pub streams: usize,
    /// Distinct networks among them (2 or more: different places right now).
    pub networks: usize,
}

/// The result of one successful refresh of one server.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Server name (the `server` label).
    pub server: String,
    /// Every user with history in the window, most suspicious first (shared with the
    /// next snapshot when the user's inputs do not change).
    pub findings: Vec<Arc<UserFinding>>,
    /// Live streams by user id.
    pub live: BTreeMap<i64, Live>,
    /// Location label per address (empty without GeoIP).
    pub locations: HashMap<IpAddr, String>,
    /// Sessions in the window.
    pub rows: usize,
    /// The window, epoch seconds.
    pub window: (i64, i64),
    /// When the snapshot was made, epoch seconds.
    pub generated_at: i64,
    /// What this refresh's read of the history dropped or repaired.
    pub read: ReadStats,
    /// Rows this refresh received from Tautulli (before any was dropped).
    pub received: u64,
    /// This refresh's queries whose row count disagreed with `recordsFiltered`, each
    /// with the date and both counts.
    pub count_mismatches: Vec<String>,
    /// The sessions analysed, kept for the account view when several servers are read
    /// (the refresh options' `keep_sessions`); `None` otherwise.
    pub sessions: Option<Arc<Sessions>>,
}

/// What a refresh analysed, as the account view reads it again: the window is shared
/// with the refresher (not copied), until the next refresh changes it.
#[derive(Debug, Default)]
pub struct Sessions {
    /// The window's sessions and strings.
    pub window: Arc<Window>,
    /// Where their addresses are.
    pub places: Places,
    /// Every user of the window, named as this server names them.
    pub users: BTreeMap<i64, UserInfo>,
}

/// What one refresh's read of the history saw besides sessions: rows dropped or
/// repaired, and queries whose row count disagreed with `recordsFiltered`. Bad rows
/// are not failures: the refresh succeeds without them, and they are counted so a
/// Tautulli sending garbage is visible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Rows dropped, by reason: `duplicate` (received twice while the table changed
    /// between pages) and the [`tautulli::SkipReason`] names (`undecodable`: an object
    /// with a key given twice).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Rows kept after a repair: `bad_ip` (address treated as unknown),
    /// `negative_duration` (treated as 0), `absurd_duration` (cut to two days).
    pub repaired: BTreeMap<&'static str, u64>,
    /// History queries whose row count disagreed with `recordsFiltered`.
    pub count_mismatches: u64,
}

impl ReadStats {
    /// The stats of a read that fetched `fetch` and decoded with `decode` (which counts
    /// the rows dropped before decoding, as [`tautulli::HistoryFetch::add_dropped_to`]
    /// adds them).
    pub fn new(decode: &tautulli::DecodeStats, fetch: &tautulli::HistoryFetch) -> ReadStats {
        let mut r = ReadStats::default();
        let add = |map: &mut BTreeMap<&'static str, u64>, k: &'static str, n: u64| {
            if n > 0 {
                *map.entry(k).or_default() += n;
            }
        };
        for (reason, n) in &decode.skipped {
            add(&mut r.skipped, reason.as_str(), *n);
        }
        add(&mut r.skipped, "duplicate", fetch.duplicate_rows);
        add(&mut r.repaired, "bad_ip", decode.bad_ip);
        add(&mut r.repaired, "negative_duration", decode.negative_duration);
        add(&mut r.repaired, "absurd_duration", decode.absurd_duration);
        r.count_mismatches = fetch.count_mismatches.len() as u64;
        r
    }

    /// Nothing dropped, repaired or miscounted.
    pub fn is_clean(&self) -> bool {
        self.skipped.is_empty() && self.repaired.is_empty() && self.count_mismatches == 0
    }

    fn add_to(&self, total: &mut ReadStats) {
        for (k, v) in &self.skipped {
            *total.skipped.entry(k).or_default() += v;
        }
        for (k, v) in &self.repaired {
            *total.repaired.entry(k).or_default() += v;
        }
        total.count_mismatches += self.count_mismatches;
    }
}

impl Snapshot {
    /// The finding of `user_id`, if they have history in the window.
    pub fn finding(&self, user_id: i64) -> Option<&UserFinding> {
        self.findings.iter().find(|f| f.user_id == user_id).map(|f| &**f)
    }
}

/// The health of a server's refreshes.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// The last refresh succeeded.
    pub up: bool,
    /// End of the last successful refresh, epoch seconds.
    pub last_success: Option<f64>,
    /// Duration of the last refresh, seconds.
    pub last_duration: f64,
    /// The last error (redacted), if the last refresh failed.
    pub last_error: Option<String>,
    /// Failed refreshes by reason.
    pub failures: BTreeMap<&'static str, u64>,
    /// Refreshes attempted.
    pub attempts: u64,
    /// Rows dropped, repaired and miscounted, summed over successful refreshes (a row
    /// re-read by several refreshes counts each time).
    pub read_totals: ReadStats,
    /// The last successful refresh's read, to log only when it changes.
    pub last_read: ReadStats,
}

/// One Tautulli server and its latest results, shared by the loop, metrics and web.
#[derive(Debug)]
pub struct ServerState {
    /// Name (the `server` label).
    pub name: String,
    /// Its client (request counts live there).
    pub client: Client,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    health: Mutex<Health>,
    /// Bumped after every refresh, so `/metrics` knows when to render again.
    version: std::sync::atomic::AtomicU64,
}

impl ServerState {
    /// A server with no data yet.
    pub fn new(name: &str, client: Client) -> ServerState {
        ServerState {
            name: name.to_string(),
            client,
            snapshot: RwLock::new(None),
            health: Mutex::new(Health::default()),
            version: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The latest good snapshot, if any refresh succeeded yet.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.read().ok().and_then(|s| s.clone())
    }

    /// Changes after every refresh attempt.
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A copy of the health.
    pub fn health(&self) -> Health {
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }

    fn publish(&self, snapshot: Snapshot) {
        if let Ok(mut s) = self.snapshot.write() {
            *s = Some(Arc::new(snapshot));
        }
    }

    /// Record the outcome of one refresh that took `elapsed` seconds: publish a good
    /// snapshot; on failure (a reason and the redacted error) keep the last one, mark
    /// the server down and log one line.
    pub fn record(&self, result: Result<Snapshot, (&'static str, String)>, elapsed: f64) {
        let Ok(mut health) = self.health.lock() else {
            return;
        };
        health.attempts += 1;
        health.last_duration = elapsed;
        match result {
            Ok(snapshot) => {
                let rows = snapshot.rows;
                let users = snapshot.findings.len();
                let flagged = snapshot.findings.iter().filter(|f| f.flagged).count();
                let read = snapshot.read.clone();
                read.add_to(&mut health.read_totals);
                // One line when what is wrong with the rows changes, not on every refresh.
                if !read.is_clean() && read != health.last_read {
                    tracing::warn!(
                        server = %self.name,
                        skipped = ?read.skipped,
                        repaired = ?read.repaired,
                        count_mismatches = read.count_mismatches,
                        "some history rows were skipped or repaired"
                    );
                }
                health.last_read = read;
                self.publish(snapshot);
                // The previous snapshot and the analysis's scratch space are gone: give what
                // only they used back to the OS (one trim per refresh, after both).
                crate::memory::release_free_memory();
                if !health.up {
                    tracing::info!(server = %self.name, rows, users, flagged, seconds = elapsed, "refresh succeeded");
                } else {
                    tracing::debug!(server = %self.name, rows, users, flagged, seconds = elapsed, "refresh succeeded");
                }
                health.up = true;
                health.last_error = None;
                health.last_success = Some(Timestamp::now().as_millisecond() as f64 / 1000.0);
            }
            Err((reason, error)) => {
                *health.failures.entry(reason).or_default() += 1;
                tracing::warn!(server = %self.name, reason, error = %error, "refresh failed; serving the last good data");
                health.up = false;
                health.last_error = Some(error);
            }
        }
        drop(health);
        self.version.fetch_add(1, std::sync::atomic::Ordering::Release);
    }
}

/// Live streams grouped by user.
pub fn live_by_user(streams: &[LiveStream]) -> BTreeMap<i64, Live> {
    let mut nets: BTreeMap<i64, (Live, HashSet<Network>)> = BTreeMap::new();
    for s in streams {
        let e = nets.entry(s.user_id).or_default();
        e.0.user.clone_from(&s.user);
        e.0.streams += 1;
        if let Some(ip) = s.ip {
            e.1.insert(Network::of(ip));
        }
    }
    nets.into_iter()
        .map(|(id, (mut live, n))| {
            live.networks = n.len();
            (id, live)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_streams_count_networks_per_user() {
        let s = |user_id: i64, ip: &str| LiveStream {
            user_id,
            user: format!("U{user_id}"),
            ip: ip.parse().ok(),
            machine_id: "m".into(),
            state: "playing".into(),
        };
        let live = live_by_user(&[
            s(1, "81.1.1.1"),
            s(1, "82.2.2.2"),
            s(2, "192.168.1.2"),
            s(2, "10.0.0.3"),
            s(3, ""),
        ]);
        assert_eq!(
            live[&1],
            Live {
                user: "U1".into(),
                streams: 2,
                networks: 2
            }
        );
        assert_eq!(live[&2].networks, 1, "two LAN devices are one household");
        assert_eq!((live[&3].streams, live[&3].networks), (1, 0));
    }
}
