//! The rolling window of history one server's detection runs over, and its
//! incremental refresh.
//!
//! A full load reads every row started in `[now - days, now]`. After that, each refresh
//! re-reads only rows started since `now - overlap` (Tautulli writes a row when the
//! session *stops*, so recent starts can still appear), replaces that tail of the
//! window with what it got, and drops rows that left the window. As long as no session
//! is written more than `overlap` after it started, this gives exactly what a full
//! reload would; a periodic full reload bounds the damage if one is.

use std::collections::BTreeMap;

use crate::detect::{Session, Strings, UserInfo};
use crate::tautulli::{DecodeStats, HistoryRow};

/// What to fetch next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Everything started in `[since, until]`.
    Full {
        /// Window start.
        since: i64,
        /// Now.
        until: i64,
    },
    /// Rows started since `since` (the overlap), up to `until`.
    Tail {
        /// Start of the re-read tail.
        since: i64,
        /// Now.
        until: i64,
    },
}

/// The sessions of one server's window.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Sessions sorted by `(started, row_id)`.
    sessions: Vec<Session>,
    /// Their strings.
    strings: Strings,
    /// Users from history rows (names for users missing from the users table).
    history_users: BTreeMap<i64, UserInfo>,
    /// When the last full load happened (epoch seconds); `None` before the first.
    last_full: Option<i64>,
    /// Rows skipped or repaired by the last load or refresh.
    decode: DecodeStats,
}

impl Window {
    /// An empty window (no load yet).
    pub fn new() -> Window {
        Window::default()
    }

    /// True once a full load has been applied.
    pub fn is_loaded(&self) -> bool {
        self.last_full.is_some()
    }

    /// Sessions, sorted by start.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// The string table of the sessions.
    pub fn strings(&self) -> &Strings {
        &self.strings
    }

    /// Users named by history rows.
    pub fn history_users(&self) -> &BTreeMap<i64, UserInfo> {
        &self.history_users
    }

    /// Every user: the users table `table` wins, history names fill the gaps (users
    /// deleted from the table still have rows).
    pub fn users_with(&self, table: &BTreeMap<i64, UserInfo>) -> BTreeMap<i64, UserInfo> {
        let mut users = self.history_users.clone();
        users.extend(table.iter().map(|(k, v)| (*k, v.clone())));
        users
    }

    /// Rows skipped or repaired by the last load or refresh.
    pub fn decode_stats(&self) -> &DecodeStats {
        &self.decode
    }

    /// What to fetch at `now`: a full load first and every `full_every` seconds, else
    /// the last `overlap` seconds.
    pub fn plan(&self, now: i64, days: u32, overlap: i64, full_every: i64) -> Fetch {
        let since = now - i64::from(days) * 86_400;
        match self.last_full {
            Some(t) if now - t < full_every => Fetch::Tail {
                since: (now - overlap).max(since),
                until: now,
            },
            _ => Fetch::Full { since, until: now },
        }
    }

    /// An empty window that a full load fetched at `until` will fill with [`Window::add`]
    /// and [`Window::finish`]. Build it aside and swap it in only when the load succeeded.
    pub fn full(until: i64) -> Window {
        Window {
            last_full: Some(until),
            ..Window::default()
        }
    }

    /// Convert and add `rows` started in `[since, until]` (any order; call
    /// [`Window::finish`] after the last batch).
    pub fn add(&mut self, rows: Vec<HistoryRow>, since: i64, until: i64) {
        for row in rows {
            if let Some(info) = row.user_info() {
                self.history_users.entry(info.user_id).or_insert(info);
            }
            match row.into_session(&mut self.strings, until, &mut self.decode) {
                Ok(s) if s.started >= since && s.started <= until => self.sessions.push(s),
                Ok(_) => {}
                Err(reason) => self.decode.skip(reason),
            }
        }
    }

    /// Sort, drop rows received twice, and drop rows older than `until - days`.
    pub fn finish(&mut self, until: i64, days: u32) {
        self.finish_from(0, until, days);
    }

    /// [`Window::finish`] when `sessions[..sorted]` is already sorted and every later
    /// session starts after it (a tail refresh): only the tail is sorted. The sort is
    /// unstable and in place: a stable sort of a million sessions would allocate half
    /// the window again.
    fn finish_from(&mut self, sorted: usize, until: i64, days: u32) {
        let tail = self.sessions.get_mut(sorted..).unwrap_or_default();
        tail.sort_unstable_by_key(|s| (s.started, s.row_id, s.stopped_after, s.play_seconds, s.paused_seconds));
        self.sessions.dedup_by_key(|s| (s.started, s.row_id));
        let oldest = until - i64::from(days) * 86_400;
        let gone = self.sessions.partition_point(|s| s.started < oldest);
        self.sessions.drain(..gone);
        self.sessions.shrink_to_fit();
    }

    /// Apply rows fetched for `fetch`: a full load replaces the window, a tail replaces
    /// the sessions started in `[since, until]` (rows deleted in Tautulli go too).
    pub fn apply(&mut self, fetch: Fetch, rows: Vec<HistoryRow>, days: u32) {
        match fetch {
            Fetch::Full { since, until } => {
                let mut fresh = Window::full(until);
                fresh.add(rows, since, until);
                fresh.finish(until, days);
                *self = fresh;
            }
            Fetch::Tail { since, until } => {
                let keep = self.sessions.partition_point(|s| s.started < since);
                self.sessions.truncate(keep);
                self.sessions.reserve_exact(rows.len());
                self.decode = DecodeStats::default();
                self.add(rows, since, until);
                self.finish_from(keep, until, days);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: i64, user: i64, started: i64) -> HistoryRow {
        serde_json::from_value(json!({
            "row_id": id, "user_id": user, "started": started, "stopped": started + 600,
            "play_duration": 600, "machine_id": format!("m{user}"), "ip_address": "81.1.1.1",
            "friendly_name": format!("U{user}")
        }))
        .unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn the_first_plan_is_a_full_load_then_tails_until_a_full_reload_is_due() {
        let mut w = Window::new();
        assert_eq!(
            w.plan(NOW, 30, 3600, 86_400),
            Fetch::Full {
                since: NOW - 30 * 86_400,
                until: NOW
            }
        );
        w.apply(
            Fetch::Full {
                since: NOW - 30 * 86_400,
                until: NOW,
            },
            vec![],
            30,
        );
        assert_eq!(
            w.plan(NOW + 60, 30, 3600, 86_400),
            Fetch::Tail {
                since: NOW + 60 - 3600,
                until: NOW + 60
            }
        );
        assert!(matches!(w.plan(NOW + 86_400, 30, 3600, 86_400), Fetch::Full { .. }));
    }

    #[test]
    fn a_tail_replaces_only_recent_rows_and_old_rows_leave_the_window() {
        let mut w = Window::new();
        let full = Fetch::Full {
            since: NOW - 2 * 86_400,
            until: NOW,
        };
        w.apply(
            full,
            vec![
                row(1, 1, NOW - 2 * 86_400 + 10),
                row(2, 1, NOW - 5000),
                row(3, 1, NOW - 100),
            ],
            2,
        );
        assert_eq!(w.sessions().len(), 3);
        // An hour later: row 3 was deleted in Tautulli, row 4 is new; row 1 left the window.
        let later = NOW + 3600;
        let tail = Fetch::Tail {
            since: later - 5400,
            until: later,
        };
        w.apply(tail, vec![row(4, 1, NOW + 100)], 2);
        let ids: Vec<i64> = w.sessions().iter().map(|s| s.row_id).collect();
        assert_eq!(ids, vec![2, 4]);
        assert_eq!(w.history_users()[&1].name, "U1");
    }

    #[test]
    fn rows_outside_the_fetched_range_are_ignored_and_duplicates_kept_once() {
        let mut w = Window::new();
        let full = Fetch::Full {
            since: NOW - 86_400,
            until: NOW,
        };
        w.apply(
            full,
            vec![
                row(1, 1, NOW - 90_000),
                row(2, 1, NOW - 10),
                row(2, 1, NOW - 10),
                row(3, 1, NOW + 10),
            ],
            1,
        );
        let ids: Vec<i64> = w.sessions().iter().map(|s| s.row_id).collect();
        assert_eq!(ids, vec![2]);
    }
}
