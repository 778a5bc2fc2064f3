//! Paged reads: the users table and history, which Tautulli answers a page at a time.
//! `Paging` decides when a query is done, `RowBudget` caps one read's rows.
//!
//! Tautulli scans its whole table for every request and rebuilds the whole filtered result
//! for every page, so a read makes as few requests as it can, each about a page:
//!
//! 1. The first request asks for the whole window (`after=D1&before=D2`), one page,
//!    oldest first. A window that fits in a page is read in that one request.
//! 2. Otherwise its `recordsFiltered` gives the window's rows per day, and [`super::plan`]
//!    sizes ranges of server-local days from the day the first page reached to fill about
//!    one page each: quiet days are merged, a busy day is a range of its own. They are
//!    read a few at a time (`--tautulli-concurrency`), and rows the first page already
//!    brought are dropped where the ranges overlap it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures_util::stream::{FuturesUnordered, StreamExt};
use jiff::civil::Date;

use super::call::Client;
use super::lenient::MaybeRow;
use super::model::{HistoryRow, Page, UserRow};
use super::plan::{days_covering, Planner};
use super::Error;
use crate::detect::UserInfo;

/// Default row cap of one read: twice the largest window measured (1,000,000 sessions,
/// far more than a real server plays in 30 days), so only a server paging without end,
/// or a window the default memory limit could not hold, reaches it.
pub const DEFAULT_MAX_ROWS: u64 = 2_000_000;

/// Default history rows per request. Tautulli pays about 0.17 s a request and rebuilds the
/// whole filtered result for each, so a full read's first request asks for four pages
/// (`--tautulli-concurrency`), 100,000 rows: a busy server's 30-day window in one answer.
/// Tautulli 2.17 took 93 µs a row (52,727 rows in 4.9 s), so that is about 10 s, well
/// within the default 30 s timeout. Rows are read as they arrive: a page's size costs the
/// exporter no memory.
pub const DEFAULT_PAGE_SIZE: usize = 25_000;

/// Rows a query may bring beyond the count Tautulli announced (`recordsFiltered`):
/// rows written while it is paged, a tenth of the count and at least 100. Paging stops
/// there even if pages keep bringing new row ids, so a server that pages without end
/// costs at most this much more plus one page; the difference is counted as a count
/// mismatch.
pub fn read_bound(announced: u64) -> u64 {
    announced.saturating_add((announced / 10).max(100))
}

/// Where one paged query is, and whether to ask for another page.
struct Paging {
    page_size: usize,
    /// Rows received so far (the next page's `start`).
    received: u64,
    /// The largest `recordsFiltered` seen: the table grows while it is paged, and each
    /// page counts again. `None` while Tautulli gave no usable count.
    announced: Option<u64>,
}

impl Paging {
    fn new(page_size: usize) -> Paging {
        Paging {
            page_size: page_size.max(1),
            received: 0,
            announced: None,
        }
    }

    /// Note a page of `n` rows that announced `records_filtered`.
    fn add(&mut self, n: usize, records_filtered: Option<i64>) {
        self.received += n as u64;
        if let Some(count) = records_filtered.and_then(|c| u64::try_from(c).ok()) {
            self.announced = Some(self.announced.map_or(count, |a| a.max(count)));
        }
    }

    /// What to do after a page of `n` rows that brought `new_ids` row ids not seen
    /// before. A short page is the last. A full one is followed even past
    /// `recordsFiltered` (rows written while paging, or a count that is a little low,
    /// must not lose rows) up to [`read_bound`], unless it brought no new id (a server
    /// that ignores `start`, or a page of rows without ids). Without a count,
    /// [`RowBudget`] ends a read that never ends.
    fn next(&self, n: usize, new_ids: usize) -> Next {
        if n < self.page_size || new_ids == 0 {
            Next::Done
        } else if self.announced.is_some_and(|a| self.received >= read_bound(a)) {
            Next::CutAtBound
        } else {
            Next::Page
        }
    }
}

/// See [`Paging::next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Ask for the next page.
    Page,
    /// The result is complete.
    Done,
    /// Pages are still full of new rows past `recordsFiltered` and its tolerance: stop.
    CutAtBound,
}

/// Rows received by one read, over all its queries, against `max_rows`.
struct RowBudget {
    used: AtomicU64,
    limit: u64,
}

impl RowBudget {
    fn new(limit: u64) -> RowBudget {
        RowBudget {
            used: AtomicU64::new(0),
            limit,
        }
    }
}

/// What a history fetch saw besides the rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryFetch {
    /// Server-local days requested.
    pub days: usize,
    /// Rows received (before any conversion).
    pub rows: u64,
    /// Rows that were not objects.
    pub unusable_rows: u64,
    /// Objects that could not be read as rows (a key given twice).
    pub undecodable_rows: u64,
    /// Rows received twice (the table changed between pages) and dropped.
    pub duplicate_rows: u64,
    /// Ranges of days whose row count disagreed with Tautulli's `recordsFiltered`.
    pub count_mismatches: Vec<String>,
    /// Days read completely so far.
    pub days_done: usize,
}

impl HistoryFetch {
    /// Count the rows this fetch dropped before decoding (`not_an_object`,
    /// `undecodable`) into `decode`, next to the rows dropped while converting.
    pub fn add_dropped_to(&self, decode: &mut super::DecodeStats) {
        for (reason, n) in [
            (super::SkipReason::NotAnObject, self.unusable_rows),
            (super::SkipReason::Undecodable, self.undecodable_rows),
        ] {
            *decode.skipped.entry(reason).or_default() += n;
        }
    }
}

/// What one range's reader hands to [`Client::history_filtered`]'s consumer.
enum Delivery {
    /// A page of rows.
    Rows(Vec<HistoryRow>),
    /// The range is complete (its `rows` are empty: they went as pages).
    DayDone(Day),
}

struct Day {
    /// The read stopped after one full page (the first request of a window that does
    /// not fit in a page): its count is not the rows received.
    cut: bool,
    /// Rows handed over (not dropped as an earlier request's).
    kept: u64,
    /// What a read cut after one page brought, for the ranges that read the rest.
    brought: Option<Overlap>,
    date: Date,
    /// The last date of the range (`date` for one day).
    last: Date,
    /// Days in the range.
    days: usize,
    rows: Vec<HistoryRow>,
    unusable: u64,
    undecodable: u64,
    expected: Option<i64>,
    received: u64,
}

impl Client {
    /// Every user in the users table, read page by page to the end (see `Paging`).
    /// Rows that are not objects, or cannot be read, are skipped.
    pub async fn users(&self) -> Result<Vec<UserInfo>, Error> {
        const CMD: &str = "get_users_table";
        const PAGE: usize = 1000;
        let budget = RowBudget::new(self.opts.max_rows);
        let mut paging = Paging::new(PAGE);
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        let mut skipped = 0u64;
        loop {
            let page: Page<UserRow> = self
                .call(
                    CMD,
                    &[
                        ("order_column", "user_id".into()),
                        ("order_dir", "asc".into()),
                        ("start", paging.received.to_string()),
                        ("length", PAGE.to_string()),
                    ],
                )
                .await?;
            let n = page.data.len();
            self.take_rows(&budget, CMD, n)?;
            paging.add(n, page.records_filtered);
            let known = users.len();
            for row in page.data {
                match row {
                    MaybeRow::Row(u) => users.extend(u.into_user().filter(|u| seen.insert(u.user_id))),
                    MaybeRow::Unusable | MaybeRow::Undecodable => skipped += 1,
                }
            }
            match paging.next(n, users.len() - known) {
                Next::Page => continue,
                Next::Done => break,
                Next::CutAtBound => {
                    tracing::warn!(
                        received = paging.received,
                        announced = paging.announced,
                        "the users table kept sending new users past its recordsFiltered; stopped reading"
                    );
                    break;
                }
            }
        }
        if skipped > 0 {
            tracing::debug!(
                skipped,
                "users table rows that are not usable user objects were skipped"
            );
        }
        if paging.announced.is_some_and(|a| a != paging.received) {
            tracing::debug!(
                received = paging.received,
                announced = paging.announced,
                "users table row count differs from recordsFiltered"
            );
        }
        Ok(users)
    }

    /// Count `n` more rows of the read `budget` belongs to; fail past `--tautulli-max-rows`.
    fn take_rows(&self, budget: &RowBudget, cmd: &str, n: usize) -> Result<(), Error> {
        let total = budget.used.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > budget.limit {
            return Err(Error::TooManyRows {
                cmd: cmd.into(),
                base: self.opts.url.to_string(),
                limit: budget.limit,
            });
        }
        Ok(())
    }

    /// Stream every history row started in `[since, until]` (epoch seconds) to
    /// `on_rows`, a page at a time: the whole window first, then whatever it did not
    /// bring (see the module documentation), `concurrency` requests in flight. Asks from
    /// the day before `since` to the day after `until` (the server's time zone is
    /// unknown); cut exactly on your side.
    /// `user_ids` is an optional comma-separated list of users to read.
    ///
    /// Pages are handed over as they arrive rather than per day: decoded rows are about
    /// ten times the size of the sessions made from them, so holding whole days would
    /// make a full load's peak memory grow with the size of a day.
    pub async fn history_filtered<F>(
        &self,
        since: i64,
        until: i64,
        user_ids: Option<&str>,
        mut on_rows: F,
    ) -> Result<HistoryFetch, Error>
    where
        F: FnMut(Vec<HistoryRow>, &HistoryFetch),
    {
        let dates = days_covering(since, until);
        let mut fetch = HistoryFetch {
            days: dates.len(),
            ..HistoryFetch::default()
        };
        let concurrency = self.opts.concurrency.max(1);
        let budget = RowBudget::new(self.opts.max_rows);
        let budget = &budget;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Delivery>(concurrency);
        let produce = async move {
            let (Some(&first_date), Some(&last_date)) = (dates.first(), dates.last()) else {
                return Ok(());
            };
            let read = Read {
                user_ids,
                budget,
                tx: &tx,
            };
            let first = self
                .read_first_page((first_date, last_date, dates.len()), &read)
                .await?;
            self.read_the_rest(first, &dates, &read).await
        };
        let mut seen: HashSet<i64> = HashSet::new();
        // The whole window's count, when its first request was cut after one page.
        let mut window: Option<(i64, Date, Date)> = None;
        let consume = async {
            while let Some(delivery) = rx.recv().await {
                match delivery {
                    Delivery::Rows(mut rows) => {
                        fetch.rows += rows.len() as u64;
                        let before = rows.len();
                        rows.retain(|r| r.row_id.or(r.id).is_none_or(|id| seen.insert(id)));
                        fetch.duplicate_rows += (before - rows.len()) as u64;
                        on_rows(rows, &fetch);
                    }
                    Delivery::DayDone(day) => {
                        fetch.days_done += day.days;
                        fetch.rows += day.unusable + day.undecodable;
                        fetch.unusable_rows += day.unusable;
                        fetch.undecodable_rows += day.undecodable;
                        if day.cut {
                            window = day.expected.map(|n| (n, day.date, day.last));
                        } else if window.is_some_and(|(_, first, last)| (day.date, day.last) == (first, last)) {
                            // Paged on through the window's own query: checked right below.
                            window = None;
                        }
                        if let Some(expected) = day.expected.filter(|e| !day.cut && *e != day.received as i64) {
                            let dates = if day.days > 1 {
                                format!("{}..{}", day.date, day.last)
                            } else {
                                day.date.to_string()
                            };
                            fetch
                                .count_mismatches
                                .push(count_mismatch(&dates, expected, day.received));
                        }
                        on_rows(Vec::new(), &fetch);
                    }
                }
            }
        };
        let (produced, ()) = tokio::join!(produce, consume);
        produced?;
        // Ranges are checked against their own counts; this catches rows between them
        // and the first page (a server that sorted the first page but not the query).
        let received = fetch.rows - fetch.duplicate_rows;
        if let Some((expected, first, last)) = window.filter(|(n, ..)| received < u64::try_from(*n).unwrap_or(0)) {
            fetch
                .count_mismatches
                .push(count_mismatch(&format!("{first}..{last}"), expected, received));
        }
        Ok(fetch)
    }

    /// Step 1 of a full read: the whole window (its first and last date, and its days),
    /// one page of what `concurrency` pages hold (it is alone in flight).
    async fn read_first_page(&self, window: (Date, Date, usize), read: &Read<'_>) -> Result<Day, Error> {
        let (first_date, last_date, days) = window;
        // Rows are handed over while they arrive, so a longer page costs no memory.
        let length = self.opts.page_size.saturating_mul(self.opts.concurrency.max(1));
        tracing::debug!(after = %first_date, before = %last_date, days, rows = length, "history request: the whole window, one page");
        let whole = Reading {
            one_page: Some(length),
            ..Reading::default()
        };
        let mut first = self
            .history_range(
                first_date,
                Some(last_date),
                read.user_ids,
                whole,
                read.budget,
                Some(read.tx),
            )
            .await?;
        (first.last, first.days) = (last_date, days);
        Ok(first)
    }

    /// Step 2: whatever the first page did not bring.
    /// - Nothing, when it was short or exactly Tautulli's count.
    /// - From a server that ignores the order, the same query paged on: nothing says
    ///   which days the first page holds.
    /// - Otherwise, oldest first, the first page holds every row that started before its
    ///   latest start: the rest is read in page-sized ranges from the earliest
    ///   server-local date that start can have, dropping what the first page brought.
    ///   If that falls short of the window's count, the first page only looked sorted,
    ///   and the days before are read too.
    async fn read_the_rest(&self, mut first: Day, dates: &[Date], read: &Read<'_>) -> Result<(), Error> {
        let tx = read.tx;
        if !first.cut || first.expected == Some(first.received as i64) {
            first.cut = false;
            let _ = tx.send(Delivery::DayDone(first)).await;
            return Ok(());
        }
        let overlap = first.brought.take();
        let Some(sorted_until) = overlap.as_ref().and_then(|o| o.sorted_until) else {
            tracing::debug!(
                window_rows = first.expected,
                first_page = first.received,
                "the first page is not oldest first; paging through the whole window"
            );
            let paging_on = Reading {
                from_row: first.received,
                ..Reading::default()
            };
            let (after, before, days) = (first.date, first.last, first.days);
            first.days = 0;
            let _ = tx.send(Delivery::DayDone(first)).await;
            let mut rest = self
                .history_range(after, Some(before), read.user_ids, paging_on, read.budget, Some(tx))
                .await?;
            (rest.last, rest.days) = (before, days);
            let _ = tx.send(Delivery::DayDone(rest)).await;
            return Ok(());
        };
        let reached = days_covering(sorted_until, sorted_until)[0];
        let from = dates.iter().position(|d| *d >= reached).unwrap_or(0);
        let (known_days, known_rows) = match first.expected.and_then(|n| u64::try_from(n).ok()) {
            Some(n) => (dates.len(), n),
            None => (from.max(1), first.received),
        };
        tracing::debug!(
            window_rows = first.expected,
            first_page = first.received,
            from = %dates[from],
            "the window does not fit in a page; reading the rest in ranges"
        );
        first.days = from;
        // Rows as Tautulli counts them, unusable ones included.
        let (first_rows, window_rows) = (first.kept + first.unusable + first.undecodable, first.expected);
        let _ = tx.send(Delivery::DayDone(first)).await;
        let rest_reading = Reading {
            overlap: overlap.as_ref(),
            ..Reading::default()
        };
        let page_size = self.opts.page_size;
        let planner = Planner::new(dates[from..].to_vec(), page_size, known_days, known_rows);
        let kept = self.read_ranges(planner, rest_reading, read, false).await?;
        if window_rows.is_some() && first_rows + kept < known_rows && from > 0 {
            tracing::debug!(
                window_rows,
                received = first_rows + kept,
                "the first page was not the window's oldest rows; reading the days before it"
            );
            let head = Planner::new(dates[..from].to_vec(), page_size, known_days, known_rows);
            self.read_ranges(head, rest_reading, read, true).await?;
        }
        Ok(())
    }

    /// Read the ranges `planner` plans, `concurrency` at a time, sending each range's
    /// pages and then the range itself to `tx`; returns the rows kept (not dropped as
    /// `reading`'s overlap), unusable ones included as Tautulli counts them. With `again`,
    /// the days were already read (counted as done, and their unusable rows counted).
    async fn read_ranges(
        &self,
        mut planner: Planner,
        reading: Reading<'_>,
        read: &Read<'_>,
        again: bool,
    ) -> Result<u64, Error> {
        let Read { user_ids, budget, tx } = *read;
        let concurrency = self.opts.concurrency.max(1);
        let mut kept = 0;
        // Ranges go out in waves of `concurrency`, each wave planned from every range
        // read before it: the same history gives the same requests whatever order the
        // answers arrive in.
        loop {
            let mut wave: FuturesUnordered<_> = std::iter::from_fn(|| planner.next_range())
                .take(concurrency)
                .map(|(first, last, days)| {
                    tracing::debug!(after = %first, before = %last, days, "history request");
                    async move {
                        let mut day = self
                            .history_range(first, Some(last), user_ids, reading, budget, Some(tx))
                            .await?;
                        (day.last, day.days) = (last, days);
                        Ok::<_, Error>(day)
                    }
                })
                .collect();
            if wave.is_empty() {
                return Ok(kept);
            }
            while let Some(done) = wave.next().await {
                let mut day = done?;
                planner.done(day.days, day.received);
                kept += day.kept + day.unusable + day.undecodable;
                if again {
                    // Counted when first read; rows that are not rows cannot be told apart.
                    (day.days, day.unusable, day.undecodable) = (0, 0, 0);
                }
                // The receiver outlives the senders; a failed send means it is gone.
                let _ = tx.send(Delivery::DayDone(day)).await;
            }
        }
    }

    /// Every history row started on or after `since` (epoch seconds), for incremental
    /// refreshes: one query with `after` only, newest first, paged only until a page
    /// reaches back before `since` (usually one request). Cut exactly on your side.
    pub async fn history_since(&self, since: i64) -> Result<(Vec<HistoryRow>, HistoryFetch), Error> {
        let after = days_covering(since, since)[0];
        let budget = RowBudget::new(self.opts.max_rows);
        let newest = Reading {
            newest_since: Some(since),
            ..Reading::default()
        };
        let day = self.history_range(after, None, None, newest, &budget, None).await?;
        let mut fetch = HistoryFetch {
            days: 1,
            rows: day.received,
            unusable_rows: day.unusable,
            undecodable_rows: day.undecodable,
            ..HistoryFetch::default()
        };
        // Stopping early is the point here, so fewer rows than `recordsFiltered` is normal;
        // only more rows than announced says the count was wrong.
        if let Some(expected) = day.expected.filter(|e| (day.received as i64) > *e) {
            fetch
                .count_mismatches
                .push(count_mismatch(&format!("since {after}"), expected, day.received));
        }
        let mut seen = HashSet::new();
        let mut rows = day.rows;
        let before = rows.len();
        rows.retain(|r| r.row_id.or(r.id).is_none_or(|id| seen.insert(id)));
        fetch.duplicate_rows = (before - rows.len()) as u64;
        Ok((rows, fetch))
    }

    /// Rows whose server-local start date is in `[after, before]` (`before` open when `None`),
    /// read as `reading` says. With `sink`, each page's rows are sent there instead of
    /// being collected in the returned day. Every page's rows count against `budget`.
    async fn history_range(
        &self,
        after: Date,
        before: Option<Date>,
        user_ids: Option<&str>,
        reading: Reading<'_>,
        budget: &RowBudget,
        sink: Option<&tokio::sync::mpsc::Sender<Delivery>>,
    ) -> Result<Day, Error> {
        const CMD: &str = "get_history";
        let mut paging = Paging::new(self.opts.page_size);
        let Reading {
            newest_since,
            one_page,
            from_row,
            overlap,
        } = reading;
        if let Some(length) = one_page {
            paging.page_size = length.max(1);
        }
        paging.received = from_row;
        let mut day = Day {
            kept: 0,
            cut: false,
            brought: None,
            date: after,
            last: before.unwrap_or(after),
            days: 1,
            rows: Vec::new(),
            unusable: 0,
            undecodable: 0,
            expected: None,
            received: 0,
        };
        let mut seen = Seen::new();
        loop {
            let mut params = vec![
                ("grouping", "0".to_string()),
                ("include_activity", "0".to_string()),
                ("order_column", "started".to_string()),
                (
                    "order_dir",
                    if newest_since.is_some() { "desc" } else { "asc" }.to_string(),
                ),
                ("after", after.to_string()),
                ("start", paging.received.to_string()),
                ("length", paging.page_size.to_string()),
            ];
            if let Some(b) = before {
                params.push(("before", b.to_string()));
            }
            if let Some(ids) = user_ids {
                params.push(("user_id", ids.to_string()));
            }
            // Rows are taken in batches while the answer arrives, and handed on.
            let (batches, mut arriving) = tokio::sync::mpsc::channel(2);
            let call = self.call_rows::<HistoryRow>(CMD, &params, batches);
            let mut page = PageRows {
                n: 0,
                new_ids: 0,
                oldest: i64::MAX,
            };
            let mut over_budget = None;
            let take = async {
                while let Some(batch) = arriving.recv().await {
                    if let Err(e) = self.take_rows(budget, CMD, batch.len()) {
                        over_budget = Some(e);
                        break;
                    }
                    let rows = seen.take(batch, &mut page, &mut day, overlap);
                    hand_over(rows, sink, &mut day).await;
                }
                drop(arriving);
            };
            let (rest, ()) = tokio::join!(call, take);
            if let Some(e) = over_budget {
                return Err(e);
            }
            // Rows the split did not find (a list that is not where Tautulli puts it).
            let rest = rest?;
            self.take_rows(budget, CMD, rest.data.len())?;
            let rows = seen.take(rest.data, &mut page, &mut day, overlap);
            hand_over(rows, sink, &mut day).await;
            let (n, new_ids, oldest) = (page.n, page.new_ids, page.oldest);
            paging.add(n, rest.records_filtered);
            if day.expected.is_none() {
                day.expected = rest.records_filtered;
            }
            day.received = paging.received;
            // Duplicates are dropped and counted by the caller; a read cut at the bound
            // shows as a count mismatch there.
            let next = paging.next(n, new_ids);
            if one_page.is_some() && next == Next::Page {
                day.cut = true;
                day.brought = Some(Overlap {
                    sorted_until: seen.latest.filter(|_| seen.ascending),
                    idless_at_until: AtomicUsize::new(seen.idless_at_latest),
                    ids: seen.ids,
                });
                return Ok(day);
            }
            if newest_since.is_some_and(|since| oldest < since) || next != Next::Page {
                return Ok(day);
            }
        }
    }
}

/// A query whose rows disagreed with its `recordsFiltered`, as listed in
/// `source.count_mismatches`, logged once at DEBUG.
fn count_mismatch(dates: &str, expected: i64, received: u64) -> String {
    tracing::debug!(%dates, expected, received, "history row count differs from recordsFiltered");
    format!("{dates}: tautulli reported {expected} rows, {received} received")
}

/// What one page brought, as its rows arrive.
struct PageRows {
    /// Rows (and things that are not rows) received.
    n: usize,
    /// Row ids not seen before in this query.
    new_ids: usize,
    /// The earliest start.
    oldest: i64,
}

/// What one query's rows have shown so far, over all its pages.
struct Seen {
    ids: HashSet<i64>,
    /// No row started before the one ahead of it (rows came oldest first, as asked).
    ascending: bool,
    /// The latest start, and how many rows without an id started then.
    latest: Option<i64>,
    idless_at_latest: usize,
}

impl Seen {
    fn new() -> Seen {
        Seen {
            ids: HashSet::new(),
            ascending: true,
            latest: None,
            idless_at_latest: 0,
        }
    }

    /// Note `batch` in `page` and `day`; returns its rows but those `overlap` holds.
    fn take(
        &mut self,
        batch: Vec<MaybeRow<HistoryRow>>,
        page: &mut PageRows,
        day: &mut Day,
        overlap: Option<&Overlap>,
    ) -> Vec<HistoryRow> {
        page.n += batch.len();
        let mut rows = Vec::with_capacity(batch.len());
        for row in batch {
            match row {
                MaybeRow::Row(r) => {
                    let id = r.row_id.or(r.id);
                    if id.is_some_and(|id| self.ids.insert(id)) {
                        page.new_ids += 1;
                    }
                    page.oldest = page.oldest.min(r.started.unwrap_or(i64::MAX));
                    if let Some(t) = r.started {
                        self.ascending = self.ascending && t >= self.latest.unwrap_or(t);
                        if self.latest.is_none_or(|l| t > l) {
                            (self.latest, self.idless_at_latest) = (Some(t), 0);
                        }
                        self.idless_at_latest += usize::from(id.is_none() && self.latest == Some(t));
                    }
                    if overlap.is_none_or(|o| !o.holds(r.started, id)) {
                        rows.push(r);
                    }
                }
                MaybeRow::Unusable => day.unusable += 1,
                MaybeRow::Undecodable => day.undecodable += 1,
            }
        }
        rows
    }
}

/// Send `rows` to `sink`, or keep them in `day` without one.
async fn hand_over(mut rows: Vec<HistoryRow>, sink: Option<&tokio::sync::mpsc::Sender<Delivery>>, day: &mut Day) {
    day.kept += rows.len() as u64;
    match sink {
        // The receiver outlives the senders; a failed send means it is gone.
        Some(tx) => {
            if !rows.is_empty() {
                let _ = tx.send(Delivery::Rows(rows)).await;
            }
        }
        None => day.rows.append(&mut rows),
    }
}

/// What every request of one full read shares.
#[derive(Clone, Copy)]
struct Read<'a> {
    /// The users to read (`user_id=`), or all.
    user_ids: Option<&'a str>,
    /// The read's row budget.
    budget: &'a RowBudget,
    /// Where pages and finished ranges go.
    tx: &'a tokio::sync::mpsc::Sender<Delivery>,
}

/// How [`Client::history_range`] reads a range.
#[derive(Debug, Clone, Copy, Default)]
struct Reading<'a> {
    /// Newest first, stopping at the first page that reaches back before this time: an
    /// incremental refresh reads only what it needs, not the whole padded day.
    newest_since: Option<i64>,
    /// Ask one page of this many rows and stop there even if it is full (the
    /// whole-window request).
    one_page: Option<usize>,
    /// The first page's `start`: rows an earlier request of the same query brought.
    from_row: u64,
    /// Rows an earlier request already brought, dropped here.
    overlap: Option<&'a Overlap>,
}

/// What the first page of a window brought: the rows with the ids in `ids` and, when it
/// came oldest first, every row that started before `sorted_until` and, of the rows
/// without an id that started then, `idless_at_until` (told apart by count only).
#[derive(Debug)]
struct Overlap {
    sorted_until: Option<i64>,
    idless_at_until: AtomicUsize,
    ids: HashSet<i64>,
}

impl Overlap {
    /// Whether a row with this start and id was already brought. A row without an id
    /// that started at `sorted_until` is, as many times as the first page had one.
    fn holds(&self, started: Option<i64>, id: Option<i64>) -> bool {
        match (id, started.zip(self.sorted_until)) {
            (Some(id), _) => self.ids.contains(&id),
            (None, Some((t, until))) if t == until => self
                .idless_at_until
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
            (None, Some((t, until))) => t < until,
            (None, None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tautulli::{ApiKey, ClientOptions, TautulliUrl};

    #[test]
    fn paging_stops_at_the_count_and_its_tolerance_even_while_pages_bring_new_ids() {
        assert_eq!((read_bound(0), read_bound(6), read_bound(50_000)), (100, 106, 55_000));
        let mut p = Paging::new(50);
        for _ in 0..2 {
            p.add(50, Some(6));
            assert_eq!(p.next(50, 50), Next::Page, "{} < 106", p.received);
        }
        p.add(50, Some(6));
        assert_eq!(p.next(50, 50), Next::CutAtBound);
        // Each page counts again; the largest count sets the bound (rows written meanwhile).
        p.add(0, Some(200));
        p.add(0, Some(7));
        assert_eq!(p.announced, Some(200));
        assert_eq!(p.next(50, 50), Next::Page);
        assert_eq!(p.next(49, 49), Next::Done, "a short page is the last");
        assert_eq!(p.next(50, 0), Next::Done, "a page without new ids is the last");
        // Without a usable count only the row budget ends the read.
        let mut p = Paging::new(10);
        p.add(10, Some(-3));
        p.add(1_000_000, None);
        assert_eq!((p.announced, p.next(10, 10)), (None, Next::Page));
    }

    #[test]
    fn the_first_page_holds_its_ids_and_when_sorted_every_earlier_row_without_one() {
        let sorted = Overlap {
            sorted_until: Some(100),
            idless_at_until: AtomicUsize::new(1),
            ids: HashSet::from([1, 2]),
        };
        assert!(sorted.holds(Some(100), Some(2)), "an id it brought");
        assert!(!sorted.holds(Some(100), Some(3)), "a tie it did not bring");
        assert!(!sorted.holds(Some(50), Some(3)), "an id decides, not the start");
        assert!(sorted.holds(Some(99), None), "no id: started before the page's end");
        assert!(sorted.holds(Some(100), None), "the one tie without an id it brought");
        assert!(!sorted.holds(Some(100), None), "a second one it did not");
        assert!(!sorted.holds(None, None));
        let unsorted = Overlap {
            sorted_until: None,
            idless_at_until: AtomicUsize::new(0),
            ids: HashSet::from([1]),
        };
        assert!(unsorted.holds(Some(5), Some(1)) && !unsorted.holds(Some(5), None));
    }

    #[test]
    fn a_read_past_max_rows_fails_with_too_many_rows() {
        let url = TautulliUrl::parse("127.0.0.1:9").unwrap();
        let client = Client::new(ClientOptions::new(url, ApiKey::new("k"))).unwrap();
        let budget = RowBudget::new(100);
        assert!(client.take_rows(&budget, "get_history", 60).is_ok());
        assert!(client.take_rows(&budget, "get_history", 40).is_ok());
        let e = client.take_rows(&budget, "get_history", 1).unwrap_err();
        assert_eq!(e.reason(), "too_many_rows");
        assert!(e.to_string().contains("--tautulli-max-rows"), "{e}");
    }
}
