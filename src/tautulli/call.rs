//! Requests to Tautulli's `/api/v2`: one place that adds the key, applies the timeout,
//! retries transient failures with backoff, caps the body, counts requests, and scrubs
//! the key from every error. The single-request commands (GeoIP, activity) live here;
//! the paged reads are in [`super::paging`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::lenient::MaybeRow;
use super::model::{Activity, GeoRow, LiveStream, Page};
use super::paging::{DEFAULT_MAX_ROWS, DEFAULT_PAGE_SIZE};
use super::split::{SplitError, Splitter};
use super::url::{ApiKey, TautulliUrl};
use super::Error;
use crate::detect::Place;

/// Default body cap. History answers are read row by row as they arrive, so for them it
/// bounds one row (Tautulli's are about 1.1 KB) and the envelope around the rows; other
/// answers (the users table's pages of 1,000, GeoIP, activity) are far below it. Four
/// requests at once stay within a few hundred MiB even at the cap.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

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
    /// History requests in flight.
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
            page_size: DEFAULT_PAGE_SIZE,
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
    pub(super) opts: Arc<ClientOptions>,
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

/// [`Envelope`] with `data` decoded as the command's type in the same pass.
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Typed<T> {
    response: TypedResponse<T>,
}

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct TypedResponse<T> {
    result: Option<String>,
    data: Option<T>,
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
        self.retrying(cmd, || async move { (self.call_once(cmd, params).await, true) })
            .await
    }

    /// Run `attempt` until it succeeds or fails for good, counting every attempt. A
    /// transient failure is tried again with backoff, up to `retries` times, unless the
    /// attempt says it may not be (it already handed rows on).
    async fn retrying<T, A, F>(&self, cmd: &str, mut attempt: A) -> Result<T, Error>
    where
        A: FnMut() -> F,
        F: std::future::Future<Output = (Result<T, Error>, bool)>,
    {
        let mut delay = self.opts.backoff;
        let mut retried = 0;
        loop {
            let (result, may_retry) = attempt().await;
            self.stats
                .add(cmd, result.as_ref().map(|_| "success").unwrap_or_else(Error::reason));
            match result {
                Err(e) if e.is_transient() && may_retry && retried < self.opts.retries => {
                    retried += 1;
                    tracing::debug!(cmd, attempt = retried, error = %e, "retrying tautulli request");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }

    async fn call_once<T: DeserializeOwned>(&self, cmd: &str, params: &[(&str, String)]) -> Result<T, Error> {
        let mut resp = self.send(cmd, params).await?;
        let status = resp.status().as_u16();
        let body = self.read_body(cmd, &mut resp).await?;
        self.decode(cmd, status, &body)
    }

    /// Call a paged command (`get_history`), handing its rows to `rows` in batches while
    /// the answer arrives ([`super::split`]): a page is never held whole. Returns the rest
    /// of the page: its `recordsFiltered`, and rows only if the split found no list of
    /// them. Retried like [`Client::call`] until a row has been handed over; a failure
    /// after that is the call's. Reading stops when `rows` is closed.
    pub(super) async fn call_rows<T: DeserializeOwned>(
        &self,
        cmd: &str,
        params: &[(&str, String)],
        rows: tokio::sync::mpsc::Sender<Vec<MaybeRow<T>>>,
    ) -> Result<Page<T>, Error> {
        let rows = &rows;
        self.retrying(cmd, || async move {
            let mut handed = false;
            let result = self.call_rows_once(cmd, params, rows, &mut handed).await;
            (result, !handed)
        })
        .await
    }

    async fn call_rows_once<T: DeserializeOwned>(
        &self,
        cmd: &str,
        params: &[(&str, String)],
        rows: &tokio::sync::mpsc::Sender<Vec<MaybeRow<T>>>,
        handed: &mut bool,
    ) -> Result<Page<T>, Error> {
        /// Rows handed over at once.
        const BATCH: usize = 1024;
        let mut resp = self.send(cmd, params).await?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = self.read_body(cmd, &mut resp).await?;
            return self.decode(cmd, status, &body);
        }
        let mut split = Splitter::<T>::new(self.opts.max_body_bytes);
        let split_error = |e| match e {
            SplitError::TooLarge => self.too_large(cmd),
            SplitError::TooDeep => self.decode_error(cmd, status, "containers nested too deep".into()),
            SplitError::Syntax(e) => self.decode_error(cmd, status, format!("unexpected row: {e}")),
        };
        let mut batch = Vec::new();
        loop {
            let chunk = resp.chunk().await.map_err(|e| self.transport_error(cmd, e))?;
            match &chunk {
                Some(bytes) => split.feed(bytes).map_err(split_error)?,
                None => split.finish().map_err(split_error)?,
            }
            batch.append(&mut split.take_rows());
            if batch.len() >= BATCH || (chunk.is_none() && !batch.is_empty()) {
                *handed = true;
                if rows.send(std::mem::take(&mut batch)).await.is_err() {
                    return Ok(Page {
                        records_filtered: None,
                        data: Vec::new(),
                    });
                }
            }
            if chunk.is_none() {
                break;
            }
        }
        self.decode(cmd, status, &split.into_skeleton())
    }

    /// Send `cmd` with `params` and the key; the answer's head.
    async fn send(&self, cmd: &str, params: &[(&str, String)]) -> Result<reqwest::Response, Error> {
        let mut url = self.opts.url.endpoint();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("apikey", self.opts.api_key.expose());
            q.append_pair("cmd", cmd);
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        self.http
            .get(url)
            .send()
            .await
            .map_err(|e| self.transport_error(cmd, e))
    }

    /// A transport failure as an error that names the command and server, never the key.
    fn transport_error(&self, cmd: &str, e: reqwest::Error) -> Error {
        let base = self.opts.url.to_string();
        let (timeout, connect) = (e.is_timeout(), e.is_connect());
        let detail = self.opts.api_key.redact(&error_chain(&e.without_url()));
        if timeout {
            Error::Timeout {
                cmd: cmd.into(),
                base,
                timeout: self.opts.timeout,
            }
        } else if connect {
            Error::Connect {
                cmd: cmd.into(),
                base,
                detail,
            }
        } else {
            Error::Request {
                cmd: cmd.into(),
                base,
                detail,
            }
        }
    }

    fn too_large(&self, cmd: &str) -> Error {
        Error::TooLarge {
            cmd: cmd.into(),
            base: self.opts.url.to_string(),
            limit: self.opts.max_body_bytes,
        }
    }

    fn decode_error(&self, cmd: &str, status: u16, detail: String) -> Error {
        Error::Decode {
            cmd: cmd.into(),
            base: self.opts.url.to_string(),
            status,
            detail: self.opts.api_key.redact(&detail),
        }
    }

    /// The whole body, within the cap.
    async fn read_body(&self, cmd: &str, resp: &mut reqwest::Response) -> Result<Vec<u8>, Error> {
        // Refuse a declared oversize at once; count chunks for bodies without a length.
        let declared = resp.content_length().and_then(|n| usize::try_from(n).ok());
        if declared.is_some_and(|n| n > self.opts.max_body_bytes) {
            return Err(self.too_large(cmd));
        }
        // Sized from the declared length (already within the cap): a page of rows grows
        // by doubling otherwise, copying and faulting in tens of MB.
        let mut body: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0));
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(cmd, e))? {
            if body.len() + chunk.len() > self.opts.max_body_bytes {
                return Err(self.too_large(cmd));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// An answer's `data` as `T`, or the error the envelope says.
    fn decode<T: DeserializeOwned>(&self, cmd: &str, status: u16, body: &[u8]) -> Result<T, Error> {
        let key = &self.opts.api_key;
        // The usual answer in one pass; anything else is decoded again below, slowly, for
        // the error it deserves.
        if status == 200 {
            if let Ok(Typed {
                response:
                    TypedResponse {
                        result: Some(result),
                        data: Some(data),
                    },
            }) = serde_json::from_slice(body)
            {
                if result == "success" {
                    return Ok(data);
                }
            }
        }
        let env: Envelope = match serde_json::from_slice(body) {
            Ok(env) => env,
            Err(e) => {
                return Err(self.decode_error(
                    cmd,
                    status,
                    format!("{e} (body starts {:?})", body_start(body, key, 80)),
                ));
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
                base: self.opts.url.to_string(),
                status,
                message: key.redact(&message),
            });
        }
        let data = r.data.map(RawValue::get).unwrap_or("null");
        serde_json::from_str(data).map_err(|e| self.decode_error(cmd, status, format!("unexpected data: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
