//! Requests to Tautulli's `/api/v2`: one place that adds the key, applies the timeout,
//! retries transient failures with backoff, caps the body, counts requests, and scrubs
//! the key from every error.
//!
//! History is read one server-local day at a time (`after=D&before=D`), in pages, a few
//! days concurrently. Tautulli rebuilds the whole filtered result for every page, so
//! small per-day results keep the total work linear in the history size, where paging
//! through one big query costs pages × whole result and one query per user costs one
//! round trip per user.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::lenient::MaybeRow;
use super::model::{Activity, GeoRow, HistoryRow, LiveStream, Page, UserRow};
use super::Error;
use crate::detect::{Place, UserInfo};

/// The Tautulli API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key (surrounding whitespace, as in key files, is dropped).
    pub fn new(key: &str) -> ApiKey {
        ApiKey(key.trim().to_string())
    }

    /// The key itself, for the request and for redaction checks.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `<redacted>`, also in the
    /// percent-encoded form it takes in a query string (a proxy's error page may quote
    /// the request URL).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let mut out = text.replace(&self.0, "<redacted>");
        let encoded = form_encode(&self.0);
        if encoded != self.0 {
            out = out.replace(&encoded, "<redacted>");
        }
        out
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Tautulli's base URL: host, host:port, or a full URL with an HTTP root path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TautulliUrl {
    url: Url,
    /// The URL as shown in logs and errors: a password in it is replaced.
    shown: String,
}

impl TautulliUrl {
    /// Parse what a user typed: `tautulli`, `tautulli:8181`, `https://x.example/tautulli/`.
    pub fn parse(raw: &str) -> Result<TautulliUrl, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is empty".into());
        }
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        let mut url = Url::parse(&with_scheme).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{raw:?} must be http:// or https://"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{raw:?} has no host"));
        }
        url.set_query(None);
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/api/v2").unwrap_or(path).to_string();
        url.set_path(&path);
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("redacted"));
        }
        let shown = shown.as_str().trim_end_matches('/').to_string();
        Ok(TautulliUrl { url, shown })
    }

    /// The base URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    fn endpoint(&self) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}/api/v2", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

impl fmt::Display for TautulliUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default body cap: a page of 10,000 history rows is about 11 MB of JSON (Tautulli's
/// rows are about 1.1 KB), so a real page stays far below it, and four days read at once
/// stay within a few hundred MiB even at the cap.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

/// Default row cap of one read: twice the largest window measured (1,000,000 sessions,
/// far more than a real server plays in 30 days), so only a server paging without end,
/// or a window the default memory limit could not hold, reaches it.
pub const DEFAULT_MAX_ROWS: u64 = 2_000_000;

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

/// How the client talks to one Tautulli.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// Base URL.
    pub url: TautulliUrl,
    /// API key.
    pub api_key: ApiKey,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// First backoff delay; doubled after each failure.
    pub backoff: Duration,
    /// History days fetched at once.
    pub concurrency: usize,
    /// Rows per history page.
    pub page_size: usize,
    /// Largest accepted response body.
    pub max_body_bytes: usize,
    /// Most rows one read (the users table, or one refresh's history) may bring.
    pub max_rows: u64,
}

impl ClientOptions {
    /// Defaults for everything but the URL and key.
    pub fn new(url: TautulliUrl, api_key: ApiKey) -> ClientOptions {
        ClientOptions {
            url,
            api_key,
            timeout: Duration::from_secs(30),
            retries: 2,
            backoff: Duration::from_millis(500),
            concurrency: 4,
            page_size: 10000,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }
}

/// Requests sent, by command and outcome (`success`, or an [`Error::reason`]).
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl RequestStats {
    fn add(&self, cmd: &str, outcome: &'static str) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((cmd.to_string(), outcome)).or_default() += 1;
        }
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> BTreeMap<(String, &'static str), u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Requests sent, all commands and outcomes.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

/// A Tautulli API v2 client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    opts: Arc<ClientOptions>,
    stats: Arc<RequestStats>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("url", &self.opts.url.as_str()).finish()
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    response: Response<'a>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
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
    /// Days whose row count disagreed with Tautulli's `recordsFiltered`.
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

/// What one day's reader hands to [`Client::history_filtered`]'s consumer.
enum Delivery {
    /// A page of rows.
    Rows(Vec<HistoryRow>),
    /// The day is complete (its `rows` are empty: they went as pages).
    DayDone(Day),
}

struct Day {
    date: Date,
    rows: Vec<HistoryRow>,
    unusable: u64,
    undecodable: u64,
    expected: Option<i64>,
    received: u64,
}

impl Client {
    /// A client for one Tautulli server.
    pub fn new(opts: ClientOptions) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("plex-sharing-exporter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Request {
                cmd: "init".into(),
                base: opts.url.to_string(),
                detail: opts.api_key.redact(&e.without_url().to_string()),
            })?;
        Ok(Client {
            http,
            opts: Arc::new(opts),
            stats: Arc::new(RequestStats::default()),
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> &TautulliUrl {
        &self.opts.url
    }

    /// What the client was made with (a reload compares them to see what changed).
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// Requests sent so far.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// Call `cmd` and decode its `data`, retrying transient failures.
    pub async fn call<T: DeserializeOwned>(&self, cmd: &str, params: &[(&str, String)]) -> Result<T, Error> {
        let mut delay = self.opts.backoff;
        let mut attempt = 0;
        loop {
            let result = self.call_once(cmd, params).await;
            self.stats
                .add(cmd, result.as_ref().map(|_| "success").unwrap_or_else(Error::reason));
            match result {
                Err(e) if e.is_transient() && attempt < self.opts.retries => {
                    attempt += 1;
                    tracing::debug!(cmd, attempt, error = %e, "retrying tautulli request");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }

    async fn call_once<T: DeserializeOwned>(&self, cmd: &str, params: &[(&str, String)]) -> Result<T, Error> {
        let base = self.opts.url.to_string();
        let key = &self.opts.api_key;
        let mut url = self.opts.url.endpoint();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("apikey", key.expose());
            q.append_pair("cmd", cmd);
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        let transport = |e: reqwest::Error| {
            let (timeout, connect) = (e.is_timeout(), e.is_connect());
            let detail = key.redact(&error_chain(&e.without_url()));
            if timeout {
                Error::Timeout {
                    cmd: cmd.into(),
                    base: base.clone(),
                    timeout: self.opts.timeout,
                }
            } else if connect {
                Error::Connect {
                    cmd: cmd.into(),
                    base: base.clone(),
                    detail,
                }
            } else {
                Error::Request {
                    cmd: cmd.into(),
                    base: base.clone(),
                    detail,
                }
            }
        };
        let mut resp = self.http.get(url).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let too_large = || Error::TooLarge {
            cmd: cmd.into(),
            base: base.clone(),
            limit: self.opts.max_body_bytes,
        };
        // Refuse a declared oversize at once; count chunks for bodies without a length.
        if resp
            .content_length()
            .is_some_and(|n| n > self.opts.max_body_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.opts.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let decode_err = |detail: String| Error::Decode {
            cmd: cmd.into(),
            base: base.clone(),
            status,
            detail: key.redact(&detail),
        };
        let env: Envelope = match serde_json::from_slice(&body) {
            Ok(env) => env,
            Err(e) => {
                return Err(decode_err(format!(
                    "{e} (body starts {:?})",
                    body_start(&body, key, 80)
                )));
            }
        };
        let r = env.response;
        if r.result.as_deref() != Some("success") || status != 200 {
            let message = match r.message {
                Some(serde_json::Value::String(s)) => s,
                Some(serde_json::Value::Null) | None => "no message".to_string(),
                Some(other) => other.to_string(),
            };
            return Err(Error::Api {
                cmd: cmd.into(),
                base,
                status,
                message: key.redact(&message),
            });
        }
        let data = r.data.map(RawValue::get).unwrap_or("null");
        serde_json::from_str(data).map_err(|e| decode_err(format!("unexpected data: {e}")))
    }

    /// Every user in the users table, read page by page to the end (see [`Paging`]).
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
    /// `on_rows`, a page at a time, reading one server-local day per query and
    /// `concurrency` days at once. Asks from the day before `since` to the day after
    /// `until` (the server's time zone is unknown); cut exactly on your side.
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
            let mut days = stream::iter(dates)
                .map(|date| {
                    let tx = tx.clone();
                    async move {
                        let day = self
                            .history_range(date, Some(date), user_ids, None, budget, Some(&tx))
                            .await?;
                        // The receiver outlives the senders; a failed send means it is gone.
                        let _ = tx.send(Delivery::DayDone(day)).await;
                        Ok::<(), Error>(())
                    }
                })
                .buffer_unordered(concurrency);
            while let Some(done) = days.next().await {
                done?;
            }
            Ok::<(), Error>(())
        };
        let mut seen: HashSet<i64> = HashSet::new();
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
                        fetch.days_done += 1;
                        fetch.rows += day.unusable + day.undecodable;
                        fetch.unusable_rows += day.unusable;
                        fetch.undecodable_rows += day.undecodable;
                        if let Some(expected) = day.expected.filter(|e| *e != day.received as i64) {
                            tracing::debug!(date = %day.date, expected, received = day.received, "history row count differs from recordsFiltered");
                            fetch.count_mismatches.push(format!(
                                "{}: tautulli reported {expected} rows, {} received",
                                day.date, day.received
                            ));
                        }
                        on_rows(Vec::new(), &fetch);
                    }
                }
            }
        };
        let (produced, ()) = tokio::join!(produce, consume);
        produced?;
        Ok(fetch)
    }

    /// Every history row started on or after `since` (epoch seconds), for incremental
    /// refreshes: one query with `after` only, newest first, paged only until a page
    /// reaches back before `since` (usually one request). Cut exactly on your side.
    pub async fn history_since(&self, since: i64) -> Result<(Vec<HistoryRow>, HistoryFetch), Error> {
        let after = days_covering(since, since)[0];
        let budget = RowBudget::new(self.opts.max_rows);
        let day = self
            .history_range(after, None, None, Some(since), &budget, None)
            .await?;
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
            tracing::debug!(after = %after, expected, received = day.received, "history row count differs from recordsFiltered");
            fetch.count_mismatches.push(format!(
                "since {after}: tautulli reported {expected} rows, {} received",
                day.received
            ));
        }
        let mut seen = HashSet::new();
        let mut rows = day.rows;
        let before = rows.len();
        rows.retain(|r| r.row_id.or(r.id).is_none_or(|id| seen.insert(id)));
        fetch.duplicate_rows = (before - rows.len()) as u64;
        Ok((rows, fetch))
    }

    /// Rows whose server-local start date is in `[after, before]` (`before` open when `None`).
    /// With `newest_since`, rows come newest first and paging stops at the first page that
    /// reaches back before that time: an incremental refresh reads only what it needs, not
    /// the whole padded day. With `sink`, each page's rows are sent there instead of
    /// being collected in the returned day. Every page's rows count against `budget`.
    async fn history_range(
        &self,
        after: Date,
        before: Option<Date>,
        user_ids: Option<&str>,
        newest_since: Option<i64>,
        budget: &RowBudget,
        sink: Option<&tokio::sync::mpsc::Sender<Delivery>>,
    ) -> Result<Day, Error> {
        const CMD: &str = "get_history";
        let mut paging = Paging::new(self.opts.page_size);
        let mut ids: HashSet<i64> = HashSet::new();
        let mut day = Day {
            date: after,
            rows: Vec::new(),
            unusable: 0,
            undecodable: 0,
            expected: None,
            received: 0,
        };
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
            let page: Page<HistoryRow> = self.call(CMD, &params).await?;
            let n = page.data.len();
            self.take_rows(budget, CMD, n)?;
            paging.add(n, page.records_filtered);
            if day.expected.is_none() {
                day.expected = page.records_filtered;
            }
            day.received = paging.received;
            let mut new_ids = 0usize;
            let mut oldest = i64::MAX;
            let mut rows = Vec::with_capacity(n);
            for row in page.data {
                match row {
                    MaybeRow::Row(r) => {
                        if r.row_id.or(r.id).is_some_and(|id| ids.insert(id)) {
                            new_ids += 1;
                        }
                        oldest = oldest.min(r.started.unwrap_or(i64::MAX));
                        rows.push(r);
                    }
                    MaybeRow::Unusable => day.unusable += 1,
                    MaybeRow::Undecodable => day.undecodable += 1,
                }
            }
            match sink {
                // The receiver outlives the senders; a failed send means it is gone.
                Some(tx) => {
                    let _ = tx.send(Delivery::Rows(rows)).await;
                }
                None => day.rows.append(&mut rows),
            }
            // Duplicates are dropped and counted by the caller; a read cut at the bound
            // shows as a count mismatch there.
            if newest_since.is_some_and(|since| oldest < since) || paging.next(n, new_ids) != Next::Page {
                return Ok(day);
            }
        }
    }

    /// Where Tautulli (plex.tv) puts `ip`; `Ok(None)` when it has no answer for it.
    pub async fn geoip_lookup(&self, ip: IpAddr) -> Result<Option<Place>, Error> {
        match self
            .call::<GeoRow>("get_geoip_lookup", &[("ip_address", ip.to_string())])
            .await
        {
            Ok(row) => Ok(row.into_place()),
            Err(Error::Api {
                status: 400,
                ref message,
                ..
            }) if message.starts_with("Failed to lookup GeoIP") || message.starts_with("Invalid IP address") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Streams playing right now (`{}` when Tautulli cannot reach Plex: no streams).
    pub async fn activity(&self) -> Result<Vec<LiveStream>, Error> {
        let activity: Option<Activity> = self.call("get_activity", &[]).await?;
        Ok(activity
            .map(|a| a.sessions)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| match r {
                MaybeRow::Row(r) => r.into_stream(),
                MaybeRow::Unusable | MaybeRow::Undecodable => None,
            })
            .collect())
    }
}

/// `application/x-www-form-urlencoded` form of `s`, as `query_pairs_mut` writes it.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The first `chars` characters of `body` for an error message, redacted *before* it
/// is cut, so a key that straddles the cut cannot leak half of itself.
fn body_start(body: &[u8], key: &ApiKey, chars: usize) -> String {
    let window = chars + 3 * key.expose().len() + 8;
    let text = String::from_utf8_lossy(&body[..body.len().min(window)]);
    key.redact(&text)
        .chars()
        .filter(|c| !c.is_control())
        .take(chars)
        .collect()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_accept_host_host_port_and_full_urls_with_a_root() {
        let p = |s| TautulliUrl::parse(s).map(|u| u.endpoint().to_string());
        assert_eq!(p("tautulli").unwrap(), "http://tautulli/api/v2");
        assert_eq!(p("tautulli:8181").unwrap(), "http://tautulli:8181/api/v2");
        assert_eq!(
            p("https://x.example/tautulli/").unwrap(),
            "https://x.example/tautulli/api/v2"
        );
        assert_eq!(p("http://x:8181/api/v2").unwrap(), "http://x:8181/api/v2");
        assert_eq!(p("10.0.0.5:8181/").unwrap(), "http://10.0.0.5:8181/api/v2");
        assert!(p("").is_err());
        assert!(p("ftp://x").is_err());
        assert!(p("http://").is_err());
    }

    #[test]
    fn a_password_in_the_url_is_used_but_never_shown() {
        let u = TautulliUrl::parse("https://admin:s3cret@x.example/tautulli").unwrap();
        assert_eq!(u.to_string(), "https://admin:redacted@x.example/tautulli");
        assert!(u.endpoint().as_str().contains("s3cret"), "requests still authenticate");
    }

    #[test]
    fn api_key_never_shows_in_debug_or_display_and_is_redacted_from_text() {
        let k = ApiKey::new(" abc123secret \n");
        assert_eq!(k.expose(), "abc123secret");
        assert!(!format!("{k:?} {k}").contains("abc123"));
        assert_eq!(
            k.redact("GET /api/v2?apikey=abc123secret&cmd=x"),
            "GET /api/v2?apikey=<redacted>&cmd=x"
        );
    }

    #[test]
    fn error_snippets_are_redacted_before_they_are_cut() {
        let k = ApiKey::new("0123456789abcdef0123456789abcdef");
        for pad in 60..90 {
            let body = format!("{}apikey={}&cmd=x", "x".repeat(pad), k.expose());
            let s = body_start(body.as_bytes(), &k, 80);
            assert!(!s.contains("0123"), "a piece of the key leaked: {s}");
            assert!(s.chars().count() <= 80);
        }
    }

    #[test]
    fn percent_encoded_keys_are_redacted_too() {
        let k = ApiKey::new("a b/c+d");
        assert_eq!(
            k.redact("GET /api/v2?apikey=a+b%2Fc%2Bd&cmd=x"),
            "GET /api/v2?apikey=<redacted>&cmd=x"
        );
        assert_eq!(k.redact("key a b/c+d"), "key <redacted>");
    }

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

    #[test]
    fn days_covering_pads_one_day_each_side() {
        // 2026-11-20 00:00:00 UTC .. 2026-11-21 12:00 UTC
        let days = days_covering(1_795_132_800, 1_795_132_800 + 36 * 3600);
        let s: Vec<String> = days.iter().map(|d| d.to_string()).collect();
        assert_eq!(s, ["2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"]);
    }
}
