//! Where Tautulli is and how to talk to it: `--tautulli-*` flags into client options.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::units::{parse_duration, parse_size};
use super::{bad, ConfigError};
use crate::tautulli::{ApiKey, ClientOptions, TautulliUrl};

/// Where Tautulli is and how to talk to it.
#[derive(Debug, Args, Clone)]
pub struct TautulliArgs {
    /// Tautulli host, host:port, or URL with an HTTP root (env TAUTULLI_URL or TAUTULLI_HOST).
    #[arg(long = "tautulli-url", visible_alias = "host", env = "TAUTULLI_URL")]
    pub tautulli_url: Option<String>,
    /// Tautulli API key (prefer --tautulli-api-key-file; env TAUTULLI_API_KEY).
    #[arg(
        long = "tautulli-api-key",
        visible_alias = "api-key",
        env = "TAUTULLI_API_KEY",
        hide_env_values = true
    )]
    pub tautulli_api_key: Option<String>,
    /// File holding the Tautulli API key.
    #[arg(long = "tautulli-api-key-file")]
    pub tautulli_api_key_file: Option<PathBuf>,
    /// Timeout of one Tautulli request.
    #[arg(long = "tautulli-timeout", default_value = "30s", value_parser = parse_duration)]
    pub tautulli_timeout: Duration,
    /// Extra attempts after a transient failure (connection, timeout, HTTP 5xx).
    #[arg(long = "tautulli-retries", default_value_t = 2)]
    pub tautulli_retries: u32,
    /// History requests in flight (the first request of a full read, alone, asks this
    /// many pages).
    #[arg(long = "tautulli-concurrency", default_value_t = 4)]
    pub tautulli_concurrency: usize,
    /// History rows per request (the first request of a full read asks
    /// --tautulli-concurrency times as many). Tautulli rebuilds the whole filtered result
    /// for every request, so fewer, larger requests cost it less; lower it only if Tautulli
    /// cannot answer that many rows within --tautulli-timeout.
    #[arg(long = "tautulli-page-size", default_value_t = crate::tautulli::DEFAULT_PAGE_SIZE)]
    pub tautulli_page_size: usize,
    /// Largest Tautulli answer accepted (B, KiB, MiB, GiB); a larger one fails the refresh
    /// with reason too_large instead of exhausting memory. History is read row by row as it
    /// arrives: there it bounds one row and the answer around the rows, not the page.
    #[arg(long = "tautulli-max-body", default_value = "64MiB", value_parser = parse_size)]
    pub tautulli_max_body: usize,
    /// Most rows one read may bring (the users table, or one refresh's history); more fails
    /// the refresh with reason too_many_rows (a server paging without end).
    #[arg(long = "tautulli-max-rows", default_value_t = crate::tautulli::DEFAULT_MAX_ROWS)]
    pub tautulli_max_rows: u64,
}

impl TautulliArgs {
    /// Validate into client options. `env_host` is `$TAUTULLI_HOST` (the reference's name).
    pub fn resolve(&self, env_host: Option<String>) -> Result<ClientOptions, ConfigError> {
        let raw = self
            .tautulli_url
            .clone()
            .or(env_host)
            .ok_or_else(|| bad("--tautulli-url", "missing (or set TAUTULLI_URL)"))?;
        let url = TautulliUrl::parse(&raw).map_err(|p| bad("--tautulli-url", p.to_string()))?;
        let key = match (&self.tautulli_api_key, &self.tautulli_api_key_file) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "--tautulli-api-key-file",
                    "give either a key or a key file, not both",
                ))
            }
            (Some(k), None) => ApiKey::new(k),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    bad(
                        "--tautulli-api-key-file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let key = ApiKey::new(&text);
                if key.expose().is_empty() {
                    return Err(bad("--tautulli-api-key-file", format!("{} is empty", path.display())));
                }
                key
            }
            (None, None) => {
                return Err(bad(
                    "--tautulli-api-key",
                    "missing (or use --tautulli-api-key-file, or set TAUTULLI_API_KEY)",
                ))
            }
        };
        if key.expose().is_empty() {
            return Err(bad("--tautulli-api-key", "is empty"));
        }
        if self.tautulli_timeout.is_zero() {
            return Err(bad("--tautulli-timeout", "must be greater than zero"));
        }
        if self.tautulli_concurrency == 0 {
            return Err(bad("--tautulli-concurrency", "must be at least 1"));
        }
        if self.tautulli_page_size == 0 {
            return Err(bad("--tautulli-page-size", "must be at least 1"));
        }
        if self.tautulli_max_rows == 0 {
            return Err(bad("--tautulli-max-rows", "must be at least 1"));
        }
        let mut opts = ClientOptions::new(url, key);
        opts.timeout = self.tautulli_timeout;
        opts.retries = self.tautulli_retries;
        opts.concurrency = self.tautulli_concurrency;
        opts.page_size = self.tautulli_page_size;
        opts.max_body_bytes = self.tautulli_max_body;
        opts.max_rows = self.tautulli_max_rows;
        Ok(opts)
    }
}
