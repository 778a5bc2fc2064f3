//! The Tautulli API v2 client.
//!
//! - [`url`]: the API key and the base URL, and keeping both out of sight.
//! - [`call`]: one request: timeout, retries, body cap, request counting, redaction.
//! - [`paging`]: the paged reads (users table, history in ranges of days) and their bounds.
//! - [`plan`]: which dates history is asked for, and in which ranges.
//! - [`split`]: a paged answer's rows, one by one as they arrive.
//! - [`model`]: response shapes and their conversion into detector types.
//! - [`lenient`]: decoding helpers for Tautulli's loosely typed JSON.

pub mod call;
pub mod lenient;
pub mod model;
pub mod paging;
pub mod plan;
pub mod split;
pub mod url;

pub use call::{Client, ClientOptions, RequestStats, DEFAULT_MAX_BODY_BYTES};
pub use model::{DecodeStats, HistoryRow, LiveStream, SkipReason};
pub use paging::{HistoryFetch, DEFAULT_MAX_ROWS, DEFAULT_PAGE_SIZE};
pub use url::{ApiKey, TautulliUrl, UrlError};

use std::time::Duration;

/// What went wrong talking to Tautulli. Messages name the command and the server's
/// base URL, never the API key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No TCP/TLS connection (refused, DNS, TLS handshake...).
    #[error("tautulli {cmd}: cannot connect to {base}: {detail}")]
    Connect {
        /// The API command.
        cmd: String,
        /// Base URL (no key).
        base: String,
        /// The cause, redacted.
        detail: String,
    },
    /// No complete answer within the timeout.
    #[error("tautulli {cmd}: no answer from {base} within {timeout:?}")]
    Timeout {
        /// The API command.
        cmd: String,
        /// Base URL (no key).
        base: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// Tautulli answered with `result: error` (every API error is HTTP 400, exceptions 500).
    #[error("tautulli {cmd}: {base} answered HTTP {status}: {message}")]
    Api {
        /// The API command.
        cmd: String,
        /// Base URL (no key).
        base: String,
        /// HTTP status.
        status: u16,
        /// Tautulli's message, redacted.
        message: String,
    },
    /// Not Tautulli's JSON envelope (a proxy page, truncated JSON...).
    #[error("tautulli {cmd}: {base} answered HTTP {status} with something that is not Tautulli JSON: {detail}")]
    Decode {
        /// The API command.
        cmd: String,
        /// Base URL (no key).
        base: String,
        /// HTTP status.
        status: u16,
        /// What did not parse, redacted.
        detail: String,
    },
    /// The body exceeded the size cap.
    #[error("tautulli {cmd}: answer from {base} is larger than {limit} bytes; refusing it")]
    TooLarge {
        /// The API command.
        cmd: String,
        /// Base URL (no key).
        base: String,
        /// The cap.
        limit: usize,
    },
    /// One read (the users table, or the history of one refresh) brought more rows than
    /// `--tautulli-max-rows`: a server paging without end, or a history too large to hold.
    #[error("tautulli {cmd}: {base} sent more than {limit} rows in one read (--tautulli-max-rows); stopped reading")]
    TooManyRows {
        /// The API command.
        cmd: String,
        /// Base URL (no key).
        base: String,
        /// The cap.
        limit: u64,
    },
    /// Any other transport error.
    #[error("tautulli {cmd}: request to {base} failed: {detail}")]
    Request {
        /// The API command.
        cmd: String,
        /// Base URL (no key).
        base: String,
        /// The cause, redacted.
        detail: String,
    },
}

impl Error {
    /// A short stable reason for metrics: `connect`, `timeout`, `auth`, `api_error`,
    /// `server_error`, `decode`, `too_large`, `too_many_rows` or `request`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Connect { .. } => "connect",
            Error::Timeout { .. } => "timeout",
            Error::Api { status, message, .. } => {
                if message.contains("apikey") {
                    "auth"
                } else if *status >= 500 {
                    "server_error"
                } else {
                    "api_error"
                }
            }
            // A reverse proxy's login wall answers 401/403 with its own page.
            Error::Decode { status: 401 | 403, .. } => "auth",
            Error::Decode { .. } => "decode",
            Error::TooLarge { .. } => "too_large",
            Error::TooManyRows { .. } => "too_many_rows",
            Error::Request { .. } => "request",
        }
    }

    /// Worth trying again: the server may answer next time.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Timeout { .. } | Error::Request { .. } => true,
            Error::Api { status, .. } | Error::Decode { status, .. } => *status >= 500 || *status == 429,
            Error::TooLarge { .. } | Error::TooManyRows { .. } => false,
        }
    }
}
