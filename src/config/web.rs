//! Web server flags (exporter-toolkit names) into validated web settings: listen
//! address, paths, external URL, `--web.config.file`, limits.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::units::parse_duration;
use super::{bad, flag_defaults, ConfigError};

/// Web server flags (exporter-toolkit names).
#[derive(Debug, Args, Clone)]
pub struct WebArgs {
    /// Address to listen on, e.g. `:9595`, `127.0.0.1:9595` or `[::]:9595`.
    #[arg(long = "web.listen-address", default_value = ":9595")]
    pub listen_address: String,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,
    /// URL under which the exporter is reachable (behind a proxy); links in reports and
    /// alerts use it, and its path becomes the route prefix. Default: `http://<host>:<port>`.
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,
    /// Exporter-toolkit web configuration (YAML): `tls_server_config` for HTTPS,
    /// `basic_auth_users` (bcrypt hashes) and `bearer_tokens` (SHA-256 digests) to require
    /// credentials on every route but /-/healthy and /-/ready.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    /// Show addresses in the reports and their JSON as 81.1.x.x (IPv4 /16) or their IPv6 /64.
    #[arg(long = "web.mask-ips")]
    pub mask_ips: bool,
    /// Time a client has to send a request's headers (after connecting, or between
    /// requests on a kept-alive connection) before the connection is closed.
    #[arg(long = "web.read-header-timeout", default_value = "10s", value_parser = parse_duration)]
    pub read_header_timeout: Duration,
    /// Time a connection may move no data either way (a client that stops reading its
    /// answer) before it is closed.
    #[arg(long = "web.idle-timeout", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Connections served at once; more get 503 (health probes still answered) and
    /// count in plex_sharing_web_connections_rejected_total. Keep it below the open-file limit.
    #[arg(long = "web.max-connections", default_value_t = 512)]
    pub max_connections: usize,
}

impl Default for WebArgs {
    fn default() -> WebArgs {
        flag_defaults()
    }
}

/// Paths the exporter serves itself; the metrics path must be none of them.
const RESERVED_PATHS: [&str; 6] = ["/", "/users", "/api/v1/users", "/-/healthy", "/-/ready", "/-/reload"];

/// Why `path` cannot be the metrics path, if it cannot: it must be a plain path (no
/// route syntax such as `{x}`) that no other endpoint uses.
fn telemetry_path_problem(path: &str) -> Option<String> {
    let plain = path.starts_with('/')
        && path[1..]
            .split('/')
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
    if !plain {
        return Some(format!(
            "{path:?} must be a plain path like /metrics (letters, digits, '-', '.', '_', '~' between single slashes)"
        ));
    }
    let taken = RESERVED_PATHS.contains(&path) || ["/users/", "/api/", "/-/"].iter().any(|p| path.starts_with(p));
    taken.then(|| format!("{path:?} is used by the exporter's own pages; pick another, e.g. /metrics"))
}

/// Validated web settings.
#[derive(Debug, Clone)]
pub struct Web {
    /// Where to bind.
    pub listen: std::net::SocketAddr,
    /// Metrics path.
    pub telemetry_path: String,
    /// Public base URL, no trailing slash.
    pub external_url: String,
    /// Route prefix (the external URL's path), "" for none.
    pub route_prefix: String,
    /// TLS and credentials from `--web.config.file` (default: plain HTTP, open).
    pub config: crate::web::auth::WebConfig,
    /// `--web.mask-ips`.
    pub mask_ips: bool,
    /// `--web.config.file`, read again on reload.
    pub config_file: Option<PathBuf>,
    /// Timeouts and the connection cap.
    pub limits: crate::web::server::Limits,
}

impl WebArgs {
    /// Validate.
    pub fn resolve(&self) -> Result<Web, ConfigError> {
        let raw = self.listen_address.trim();
        let with_host = if raw.starts_with(':') {
            format!("0.0.0.0{raw}")
        } else {
            raw.to_string()
        };
        let listen: std::net::SocketAddr = with_host.parse().map_err(|_| {
            bad(
                "--web.listen-address",
                format!("{raw:?} is not host:port (e.g. :9595 or 127.0.0.1:9595)"),
            )
        })?;
        if let Some(problem) = telemetry_path_problem(&self.telemetry_path) {
            return Err(bad("--web.telemetry-path", problem));
        }
        for (flag, d) in [
            ("--web.read-header-timeout", self.read_header_timeout),
            ("--web.idle-timeout", self.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(bad(flag, "must be greater than zero"));
            }
        }
        if self.max_connections == 0 {
            return Err(bad("--web.max-connections", "must be at least 1"));
        }
        let config = match &self.web_config_file {
            Some(path) => crate::web::auth::WebConfig::load(path)
                .map_err(|problem| bad("--web.config.file", problem.to_string()))?,
            None => crate::web::auth::WebConfig::default(),
        };
        let external = match &self.external_url {
            Some(u) => {
                let url = reqwest::Url::parse(u)
                    .map_err(|e| bad("--web.external-url", format!("{u:?} is not a URL ({e})")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(bad(
                        "--web.external-url",
                        format!("{u:?} must be an http(s) URL with a host"),
                    ));
                }
                u.trim_end_matches('/').to_string()
            }
            None => {
                let host = if listen.ip().is_unspecified() {
                    std::env::var("HOSTNAME")
                        .ok()
                        .filter(|h| !h.is_empty())
                        .unwrap_or_else(|| "localhost".into())
                } else {
                    listen.ip().to_string()
                };
                let host = if host.contains(':') { format!("[{host}]") } else { host };
                let scheme = if config.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{host}:{}", listen.port())
            }
        };
        let route_prefix = reqwest::Url::parse(&external)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        Ok(Web {
            listen,
            telemetry_path: self.telemetry_path.clone(),
            external_url: external,
            route_prefix,
            config,
            mask_ips: self.mask_ips,
            config_file: self.web_config_file.clone(),
            limits: crate::web::server::Limits {
                read_header_timeout: self.read_header_timeout,
                idle_timeout: self.idle_timeout,
                max_connections: self.max_connections,
            },
        })
    }
}
