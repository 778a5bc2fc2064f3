//! The refresh of one Tautulli server: fetch (incrementally) → locate → analyse →
//! a [`Snapshot`]. `serve` runs it on a loop and publishes each result to the server's
//! [`ServerState`]; `report` runs it once. Detection never runs inside a scrape.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::detect::locate::{addresses_to_locate, location_labels};
use crate::detect::ranking::sort_findings;
use crate::detect::{self, Rules, UserInfo};
use crate::geo::Locator;
use crate::snapshot::{live_by_user, Live, ReadStats, ServerState, Sessions, Snapshot};
use crate::tautulli::{self, Client, LiveStream};
use crate::window::{Fetch, Window};

/// How often and how much to refresh.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Time between refreshes.
    pub interval: Duration,
    /// Window length, days.
    pub days: u32,
    /// How far back each incremental refresh re-reads.
    pub overlap: Duration,
    /// Time between full reloads of the window.
    pub full_reload: Duration,
    /// Time between reads of the users table.
    pub users_refresh: Duration,
    /// The longest one refresh (users, history, activity, locating, analysis) may take.
    pub timeout: Duration,
    /// Detection rules.
    pub rules: Rules,
    /// Keep each snapshot's sessions for the account view across servers (several
    /// servers read). The snapshot shares the window with the refresher, so the next
    /// refresh copies it before changing it: up to two windows in memory for a moment.
    pub keep_sessions: bool,
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Tautulli could not be read.
    #[error(transparent)]
    Tautulli(#[from] tautulli::Error),
    /// The [`Scope`]'s user matched nobody in the users table.
    #[error("user {0:?} not found in Tautulli's users table")]
    UnknownUser(String),
}

impl RefreshError {
    /// The `reason` label of a failed refresh.
    pub fn reason(&self) -> &'static str {
        match self {
            RefreshError::Tautulli(e) => e.reason(),
            RefreshError::UnknownUser(_) => "unknown_user",
        }
    }
}

/// What a refresh reads beside the history, concurrently: each costs Tautulli a request of
/// its own (the users table a pass over all its history, the activity a call to Plex), and
/// neither needs the other's answer.
struct Beside {
    users: Option<BTreeMap<i64, UserInfo>>,
    live: Option<Vec<LiveStream>>,
}

impl Beside {
    /// Read the users table if `users`, the live streams if `live`; the first error ends
    /// both reads.
    async fn read(client: &Client, users: bool, live: bool) -> Result<Beside, tautulli::Error> {
        let (users, live) = tokio::try_join!(
            async {
                match users {
                    true => read_users(client).await.map(Some),
                    false => Ok(None),
                }
            },
            async {
                match live {
                    true => client.activity().await.map(Some),
                    false => Ok(None),
                }
            },
        )?;
        Ok(Beside { users, live })
    }
}

/// The users table, by user id.
async fn read_users(client: &Client) -> Result<BTreeMap<i64, UserInfo>, tautulli::Error> {
    Ok(client.users().await?.into_iter().map(|u| (u.user_id, u)).collect())
}

/// What `report` narrows in a refresh; `serve` uses the default (everyone, live streams
/// included, no progress).
#[derive(Default)]
pub struct Scope {
    /// Only the users this name matches (`--user`: user name, friendly name or id).
    pub user: Option<String>,
    /// Skip `get_activity` (a one-off report shows no live streams).
    pub skip_live: bool,
    /// Called as history pages arrive.
    pub progress: Option<OnProgress>,
}

/// A callback that sees the history read's progress.
pub type OnProgress = Box<dyn FnMut(&tautulli::HistoryFetch) + Send>;

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("user", &self.user)
            .field("skip_live", &self.skip_live)
            .finish_non_exhaustive()
    }
}

/// The per-server loop state that survives between refreshes.
#[derive(Debug, Default)]
pub struct Refresher {
    /// Shared with the last snapshot when it keeps its sessions.
    window: Arc<Window>,
    /// The last analysis, so unchanged users are not analysed again.
    analysis: detect::incremental::Analysis,
    users: BTreeMap<i64, UserInfo>,
    users_read_at: Option<i64>,
    scope: Scope,
}

impl Refresher {
    /// A refresher that starts with a full load.
    pub fn new() -> Refresher {
        Refresher::default()
    }

    /// A refresher that reads only what `scope` asks for.
    pub fn scoped(scope: Scope) -> Refresher {
        Refresher {
            scope,
            ..Refresher::default()
        }
    }

    /// Keep what every read of the refresh brought, once all of them succeeded: a users
    /// table read first or beside the history, and the live streams (by user).
    fn take(&mut self, beside: Beside, first: Option<BTreeMap<i64, UserInfo>>, now: i64) -> BTreeMap<i64, Live> {
        if let Some(users) = beside.users.or(first) {
            self.users = users;
            self.users_read_at = Some(now);
        }
        beside.live.as_deref().map(live_by_user).unwrap_or_default()
    }

    /// The ids (comma-separated) of the users the scope names among `users`, if it names
    /// any.
    fn only_users(&self, users: &BTreeMap<i64, UserInfo>) -> Result<Option<String>, RefreshError> {
        let Some(name) = &self.scope.user else {
            return Ok(None);
        };
        let ids: Vec<String> = users
            .values()
            .filter(|u| u.matches(name))
            .map(|u| u.user_id.to_string())
            .collect();
        if ids.is_empty() {
            return Err(RefreshError::UnknownUser(name.clone()));
        }
        Ok(Some(ids.join(",")))
    }

    /// The window (for tests comparing incremental and full loads).
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// One refresh at `now`. On error nothing already held is lost, and the same holds
    /// when the future is dropped at any await (the refresh deadline): what it replaces
    /// is replaced only once complete.
    pub async fn refresh(
        &mut self,
        server: &str,
        client: &Client,
        locator: &Locator,
        opts: &RefreshOptions,
        now: i64,
    ) -> Result<Snapshot, RefreshError> {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let users_due = self.users_read_at.is_none_or(|t| now - t >= secs(opts.users_refresh));
        // The read needs the users table first when a `--user` scope names the ids to ask
        // for, or when per-user trusted networks decide which addresses to locate.
        let users_first = self.scope.user.is_some() || !opts.rules.trusted.per_user.is_empty();
        // It is kept, like everything read, only once the whole refresh has read.
        let first = match users_due && users_first {
            true => Some(read_users(client).await?),
            false => None,
        };
        let only = self.only_users(first.as_ref().unwrap_or(&self.users))?;
        let beside = Beside::read(client, users_due && !users_first, !self.scope.skip_live);
        let mut prefetched = HashMap::new();
        let live;
        let fetch = match self
            .window
            .plan(now, opts.days, secs(opts.overlap), secs(opts.full_reload))
        {
            Fetch::Full { since, until } => {
                let mut fresh = Window::full(until);
                let progress = &mut self.scope.progress;
                // Addresses go to GeoIP as their pages arrive, so locating overlaps paging.
                let (early, addresses) = tokio::sync::mpsc::unbounded_channel();
                let mut early = (!locator.is_empty()).then_some(early);
                let mut sent = HashSet::new();
                let (users, trusted) = (first.as_ref().unwrap_or(&self.users), &opts.rules.trusted);
                let window = &mut fresh;
                // `move`: the sender goes with the reader, so the prefetch ends with the read.
                let read = client.history_filtered(since, until, only.as_deref(), move |rows, f| {
                    if let Some(tx) = &early {
                        for ip in worth_locating(&rows, users, trusted) {
                            if sent.insert(ip) && tx.send(ip).is_err() {
                                early = None;
                                break;
                            }
                        }
                    }
                    window.add(rows, since, until);
                    if let Some(p) = progress.as_mut() {
                        p(f);
                    }
                });
                // The first failure ends every read; the prefetch ends with the history read.
                let (read, found) = tokio::join!(async { tokio::try_join!(read, beside) }, locator.prefetch(addresses));
                prefetched = found;
                let (fetch, beside) = read?;
                live = self.take(beside, first, now);
                fresh.finish(until, opts.days);
                // The old window goes before the new analysis allocates: one window at a time.
                drop(std::mem::take(&mut self.window));
                crate::memory::release_free_memory();
                self.window = Arc::new(fresh);
                fetch
            }
            tail @ Fetch::Tail { since, .. } => {
                let ((rows, fetch), beside) = tokio::try_join!(client.history_since(since), beside)?;
                live = self.take(beside, first, now);
                Arc::make_mut(&mut self.window).apply(tail, rows, opts.days);
                fetch
            }
        };
        let mut decode = self.window.decode_stats().clone();
        fetch.add_dropped_to(&mut decode);
        let read = ReadStats::new(&decode, &fetch);
        let users = self.window.users_with(&self.users);
        let wanted = addresses_to_locate(self.window.sessions(), &users, &opts.rules.trusted);
        // Addresses located while the history arrived are not asked (or counted) again.
        let mut places = locator
            .locate_all(wanted.iter().copied().filter(|ip| !prefetched.contains_key(ip)))
            .await;
        places.extend(
            prefetched
                .into_iter()
                .filter(|(ip, _)| wanted.contains(ip))
                .filter_map(|(ip, place)| Some((ip, (*place?).clone()))),
        );

        let (window, previous) = (&self.window, &self.analysis);
        let analysis = tokio::task::block_in_place(|| {
            let (sessions, strings) = (window.sessions(), window.strings());
            detect::incremental::analyze_changed(sessions, &users, strings, &places, &opts.rules, previous)
        });
        tracing::debug!(
            server,
            users = analysis.len(),
            analysed = analysis.analysed,
            "analysis done"
        );
        let mut findings = analysis.findings();
        sort_findings(&mut findings);
        self.analysis = analysis;
        let locations = if locator.is_empty() {
            HashMap::new()
        } else {
            location_labels(&findings, &places)
        };
        let sessions = opts.keep_sessions.then(|| {
            Arc::new(Sessions {
                window: self.window.clone(),
                places,
                users,
            })
        });
        Ok(Snapshot {
            server: server.to_string(),
            findings,
            live,
            locations,
            rows: self.window.sessions().len(),
            window: (now - i64::from(opts.days) * 86_400, now),
            generated_at: now,
            read,
            received: fetch.rows,
            count_mismatches: fetch.count_mismatches,
            sessions,
        })
    }
}

/// Refresh `server` now and then every `opts.interval`, forever.
pub async fn run(server: Arc<ServerState>, locator: Locator, opts: Arc<RefreshOptions>) {
    let mut refresher = Refresher::new();
    let mut ticker = tokio::time::interval(opts.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        refresh_and_record(&server, &mut refresher, &locator, &opts).await;
        locator.save().await;
    }
}

/// The reason a refresh that ran past [`RefreshOptions::timeout`] fails with (distinct
/// from `timeout`, one request's).
pub const DEADLINE_REASON: &str = "deadline";

/// One refresh with its bookkeeping: publish on success; on failure keep the last
/// snapshot, mark the server down and log one line. The refresh runs under
/// `opts.timeout`: one that pages, locates or waits too long is dropped where it is
/// (nothing it held is replaced before it finishes) and fails with [`DEADLINE_REASON`].
pub async fn refresh_and_record(
    server: &ServerState,
    refresher: &mut Refresher,
    locator: &Locator,
    opts: &RefreshOptions,
) {
    let started = Instant::now();
    let now = Timestamp::now().as_second();
    let refresh = refresher.refresh(&server.name, &server.client, locator, opts, now);
    let result = match tokio::time::timeout(opts.timeout, refresh).await {
        Ok(done) => done.map_err(|e| (e.reason(), e.to_string())),
        Err(_) => Err((
            DEADLINE_REASON,
            format!(
                "refresh from {} did not finish within {:?} (--refresh-timeout); abandoned",
                server.client.url(),
                opts.timeout
            ),
        )),
    };
    server.record(result, started.elapsed().as_secs_f64());
}

/// The addresses of `rows` worth locating, as [`addresses_to_locate`] chooses them from
/// sessions (a row's user is looked up in `users` for trust).
fn worth_locating<'r>(
    rows: &'r [tautulli::HistoryRow],
    users: &'r BTreeMap<i64, UserInfo>,
    trusted: &'r detect::Trusted,
) -> impl Iterator<Item = std::net::IpAddr> + 'r {
    rows.iter().filter_map(|r| {
        let ip = r.ip_address.as_deref().and_then(tautulli::model::parse_ip)?;
        let user = r.user_id.and_then(|id| users.get(&id));
        detect::locate::worth_locating(ip, r.relayed.unwrap_or(0) != 0, user, trusted)
    })
}
