//! Which dates to ask for, and in which requests: the server-local days a window can
//! start on ([`days_covering`]) and the ranges of them each request covers (`Planner`).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The UTC dates from the day before `since` to the day after `until`: every date any
/// time zone can give a start inside the window.
pub fn days_covering(since: i64, until: i64) -> Vec<Date> {
    let date = |t: i64| {
        Timestamp::from_second(t)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(TimeZone::UTC)
            .date()
    };
    let first = date(since).checked_sub(1.day()).unwrap_or(date(since));
    let last = date(until.max(since)).checked_add(1.day()).unwrap_or(date(until));
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        out.push(d);
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    out
}

/// Plans the history requests that follow a read's first request (the whole window, one
/// page: see [`super::paging`]): consecutive ranges of server-local days, oldest first,
/// planned a wave at a time, each sized to bring about [`Planner::FILL`] of a page at the
/// rows per day known so far, and at most twice the days already known (so a quiet start
/// cannot send the rest of a busy window in one request).
pub(super) struct Planner {
    dates: Vec<Date>,
    next: usize,
    page_size: usize,
    days_done: usize,
    rows_done: u64,
}

impl Planner {
    /// The share of a page a range aims for: room for a day busier than the average.
    const FILL: f64 = 0.8;

    /// Plans `dates`, knowing that `known_days` days held `known_rows` rows (the first
    /// request's count over the whole window, or what it brought).
    pub(super) fn new(dates: Vec<Date>, page_size: usize, known_days: usize, known_rows: u64) -> Planner {
        Planner {
            dates,
            next: 0,
            page_size: page_size.max(1),
            days_done: known_days,
            rows_done: known_rows,
        }
    }

    /// The next range (first date, last date, days), or `None` when every date is planned.
    pub(super) fn next_range(&mut self) -> Option<(Date, Date, usize)> {
        let remaining = self.dates.len().saturating_sub(self.next);
        if remaining == 0 {
            return None;
        }
        let growth = (2 * self.days_done).max(1);
        let by_rate = if self.rows_done == 0 {
            usize::MAX
        } else {
            let per_day = self.rows_done as f64 / self.days_done.max(1) as f64;
            ((self.page_size as f64 * Self::FILL / per_day) as usize).max(1)
        };
        let days = remaining.min(growth).min(by_rate);
        let first = self.dates[self.next];
        let last = self.dates[self.next + days - 1];
        self.next += days;
        Some((first, last, days))
    }

    /// A range of `days` came back with `rows` rows.
    pub(super) fn done(&mut self, days: usize, rows: u64) {
        self.days_done += days;
        self.rows_done += rows;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(planner: &mut Planner, rows_per_day: u64) -> Vec<usize> {
        let mut sizes = Vec::new();
        while let Some((_, _, days)) = planner.next_range() {
            planner.done(days, days as u64 * rows_per_day);
            sizes.push(days);
        }
        sizes
    }

    fn dates(n: usize) -> Vec<Date> {
        days_covering(1_800_000_000 - (n as i64 - 3) * 86_400, 1_800_000_000)
    }

    #[test]
    fn quiet_days_are_merged_and_ranges_grow_with_what_was_read() {
        let d = dates(33);
        assert_eq!(d.len(), 33);
        // 5 rows a day, pages of 10,000, one day known: each range twice the days known.
        assert_eq!(plan(&mut Planner::new(d.clone(), 10_000, 1, 5), 5), [2, 6, 18, 7]);
        // Nothing at all: the same growth, never one blind request for everything.
        assert_eq!(plan(&mut Planner::new(d.clone(), 10_000, 1, 0), 0), [2, 6, 18, 7]);
        // The whole window's count known: the rest goes in one request.
        assert_eq!(plan(&mut Planner::new(d.clone(), 10_000, 33, 165), 5), [33]);
    }

    #[test]
    fn ranges_hold_about_a_page_and_a_busy_day_stands_alone() {
        let d = dates(33);
        // 1,700 rows a day, pages of 10,000: ranges of 4 days (6,800 rows).
        let sizes = plan(&mut Planner::new(d.clone(), 10_000, 33, 33 * 1_700), 1_700);
        assert!(sizes[..sizes.len() - 1].iter().all(|n| *n == 4), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 33, "every date once");
        // Busier than a page: one day per request, paged.
        assert_eq!(plan(&mut Planner::new(d, 1_000, 1, 5_000), 5_000), vec![1; 33]);
    }

    #[test]
    fn days_covering_pads_one_day_each_side() {
        // 2026-11-20 00:00:00 UTC .. 2026-11-21 12:00 UTC
        let days = days_covering(1_795_132_800, 1_795_132_800 + 36 * 3600);
        let s: Vec<String> = days.iter().map(|d| d.to_string()).collect();
        assert_eq!(s, ["2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"]);
    }
}
