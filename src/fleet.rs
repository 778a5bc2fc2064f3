//! The watched Tautulli servers and their refresh loops, as one shared handle. Metrics
//! and the web read the current set; a configuration reload swaps it, keeping every
//! server whose settings did not change (its data and its loop) as it is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::accounts::{self, Accounts};
use crate::detect::incremental::Analysis;
use crate::geo::Locator;
use crate::refresh::{self, RefreshOptions};
use crate::snapshot::ServerState;
use crate::tautulli::{self, Client, ClientOptions};

/// What a [`Fleet::replace`] did, by server name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Servers new to the set.
    pub added: Vec<String>,
    /// Servers whose settings changed: they start again with no data.
    pub restarted: Vec<String>,
    /// Servers no longer watched.
    pub removed: Vec<String>,
}

impl Changes {
    /// True when the set is as it was.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.restarted.is_empty() && self.removed.is_empty()
    }
}

/// The servers and one refresh loop each.
#[derive(Debug)]
pub struct Fleet {
    current: RwLock<Arc<[Arc<ServerState>]>>,
    loops: Mutex<Vec<(String, tokio::task::JoinHandle<()>)>>,
    /// Bumped whenever the set changes, so renderings keyed on [`Fleet::stamp`] redo.
    generation: AtomicU64,
    locator: Locator,
    opts: Arc<RefreshOptions>,
    /// The account view and the [`Fleet::stamp`] it was assembled at.
    accounts: Mutex<Option<(u64, Arc<Accounts>)>>,
    /// Assembles the account view soon after each refresh ([`Fleet::keep_accounts_fresh`]).
    warmer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Fleet {
    /// Watch `servers`: starts one refresh loop per server (inside a Tokio runtime).
    pub fn start(servers: Vec<Arc<ServerState>>, locator: Locator, opts: Arc<RefreshOptions>) -> Fleet {
        let fleet = Fleet {
            current: RwLock::new(Arc::from(Vec::new())),
            loops: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            locator,
            opts,
            accounts: Mutex::new(None),
            warmer: Mutex::new(None),
        };
        fleet.set(servers.clone());
        fleet.install(servers, &[]);
        fleet
    }

    /// The servers now watched, in configuration order.
    pub fn servers(&self) -> Arc<[Arc<ServerState>]> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The server named `name`.
    pub fn find(&self, name: &str) -> Option<Arc<ServerState>> {
        self.servers().iter().find(|s| s.name == name).cloned()
    }

    /// The shared GeoIP locator.
    pub fn locator(&self) -> &Locator {
        &self.locator
    }

    /// Changes whenever anything a page or the metrics show may have changed: a refresh
    /// of any server (attempted, not only successful) or a new set of servers.
    pub fn stamp(&self) -> u64 {
        let versions: u64 = self.servers().iter().map(|s| s.version()).fold(0, u64::wrapping_add);
        (self.generation.load(Ordering::Acquire) << 40).wrapping_add(versions)
    }

    /// The accounts seen on two or more servers, assembled again only when the fleet
    /// changed since the last call ([`Fleet::stamp`]), so scrapes and pages share one
    /// assembly per refresh. A server whose last refresh failed lends its last good
    /// sessions, marked stale.
    pub fn accounts(&self) -> Arc<Accounts> {
        let stamp = self.stamp();
        let Ok(mut cached) = self.accounts.lock() else {
            return Arc::new(self.assemble_accounts(None));
        };
        match &*cached {
            Some((at, a)) if *at == stamp => a.clone(),
            last => {
                let previous = last.as_ref().map(|(_, a)| &a.analysis);
                let a = Arc::new(self.assemble_accounts(previous));
                *cached = Some((stamp, a.clone()));
                a
            }
        }
    }

    /// With several servers (sessions kept), assemble the account view off the runtime's
    /// threads within a second of each refresh, so a scrape or a page rarely pays for it.
    pub fn keep_accounts_fresh(self: &Arc<Self>) {
        if !self.opts.keep_sessions {
            return;
        }
        let fleet = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(fleet) = fleet.upgrade() else { return };
                let stamp = fleet.stamp();
                let fresh = matches!(fleet.accounts.lock().as_deref(), Ok(Some((at, _))) if *at == stamp);
                if !fresh {
                    let _ = tokio::task::spawn_blocking(move || fleet.accounts()).await;
                }
            }
        });
        if let Ok(mut w) = self.warmer.lock() {
            if let Some(old) = w.replace(task) {
                old.abort();
            }
        }
    }

    fn assemble_accounts(&self, previous: Option<&Analysis>) -> Accounts {
        let servers = self.servers();
        let taken: Vec<_> = servers
            .iter()
            .filter_map(|s| Some((s.name.as_str(), s.snapshot()?, !s.health().up)))
            .collect();
        let parts: Vec<accounts::Part> = taken.iter().map(|(n, snap, stale)| (*n, &**snap, *stale)).collect();
        accounts::assemble(&parts, &self.opts.rules, previous.unwrap_or(&Analysis::default()))
    }

    /// Watch `wanted` (name and client settings) from now on. A server whose settings
    /// are unchanged keeps its data and loop; a changed one starts again empty (its old
    /// data came from another source); the rest start or stop.
    pub fn replace(&self, wanted: Vec<(String, ClientOptions)>) -> Result<Changes, tautulli::Error> {
        let old = self.servers();
        let mut changes = Changes::default();
        let mut next = Vec::with_capacity(wanted.len());
        let mut fresh = Vec::new();
        for (name, opts) in wanted {
            match old.iter().find(|s| s.name == name) {
                Some(s) if s.client.options() == &opts => next.push(s.clone()),
                found => {
                    let state = Arc::new(ServerState::new(&name, Client::new(opts)?));
                    if found.is_some() {
                        changes.restarted.push(name.clone());
                    } else {
                        changes.added.push(name.clone());
                    }
                    fresh.push(name);
                    next.push(state);
                }
            }
        }
        changes.removed = old
            .iter()
            .filter(|s| !next.iter().any(|n| n.name == s.name))
            .map(|s| s.name.clone())
            .collect();
        if !changes.is_empty() {
            let stopped: Vec<String> = changes.removed.iter().chain(&changes.restarted).cloned().collect();
            let started: Vec<Arc<ServerState>> = next.iter().filter(|s| fresh.contains(&s.name)).cloned().collect();
            self.set(next);
            self.install(started, &stopped);
        }
        Ok(changes)
    }

    fn set(&self, servers: Vec<Arc<ServerState>>) {
        match self.current.write() {
            Ok(mut c) => *c = Arc::from(servers),
            Err(poisoned) => *poisoned.into_inner() = Arc::from(servers),
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Stop the loops of `stopped` and start one for each of `started`.
    fn install(&self, started: Vec<Arc<ServerState>>, stopped: &[String]) {
        let Ok(mut loops) = self.loops.lock() else { return };
        loops.retain(|(name, handle)| {
            let stop = stopped.contains(name);
            if stop {
                handle.abort();
            }
            !stop
        });
        for s in started {
            let task = tokio::spawn(refresh::run(s.clone(), self.locator.clone(), self.opts.clone()));
            loops.push((s.name.clone(), task));
        }
    }

    /// Stop every refresh loop and wait until each has, so none is mid-poll when the
    /// runtime shuts down.
    pub async fn stop(&self) {
        if let Some(w) = self.warmer.lock().ok().and_then(|mut w| w.take()) {
            w.abort();
            let _ = w.await;
        }
        let loops = match self.loops.lock() {
            Ok(mut l) => std::mem::take(&mut *l),
            Err(_) => return,
        };
        for (_, l) in &loops {
            l.abort();
        }
        for (_, l) in loops {
            let _ = l.await;
        }
    }
}
