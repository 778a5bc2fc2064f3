//! Command-line flags, their defaults (shown by `--help`) and their validation into
//! the values the rest of the program uses. A bad value is one [`ConfigError`] naming
//! the flag; the binary prints it and exits with status 2.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::tz::TimeZone;

use crate::detect::{Rules, ScoringProfile, Trusted};
use crate::tautulli::{ApiKey, ClientOptions, TautulliUrl};

/// A configuration problem, naming the flag at fault.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {problem}")]
pub struct ConfigError {
    /// The flag (or setting) at fault.
    pub flag: String,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(flag: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        flag: flag.to_string(),
        problem: problem.into(),
    }
}

/// Parse `90s`, `5m`, `1h`, `2d`, `250ms` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err(format!("{s:?} is negative; give a positive duration like 30s"));
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 5m or 1h"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        other => return Err(format!("unknown unit {other:?} in {s:?} (use ms, s, m, h or d)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a valid duration"));
    }
    if secs > MAX_DURATION_DAYS * 86400.0 {
        return Err(format!("{s:?} is too long (at most {MAX_DURATION_DAYS}d)"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a valid duration"))
}

/// Longest duration any flag takes: ten years is past every sensible setting, and keeps
/// clock arithmetic far from overflowing.
const MAX_DURATION_DAYS: f64 = 3650.0;

/// Parse a byte size: `1048576`, `512KiB`, `256MiB`, `1GiB` (also `KB`, `MB`, `GB` as
/// powers of 1000, and `K`, `M`, `G` as powers of 1024).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 64MiB or 1048576"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "KB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => return Err(format!("unknown unit {other:?} in {s:?} (use B, KiB, MiB or GiB)")),
    };
    n.checked_mul(mult)
        .and_then(|b| usize::try_from(b).ok())
        .filter(|b| *b > 0)
        .ok_or_else(|| format!("{s:?} must be more than 0 bytes and fit in memory"))
}

/// Find Plex account sharing in Tautulli's history.
#[derive(Debug, Parser)]
#[command(name = "plex-sharing-exporter", version, about, long_about = None)]
pub struct Cli {
    /// Log level: error, warn, info, debug or trace.
    #[arg(long = "log.level", default_value = "info", global = true)]
    pub log_level: String,
    /// Log format.
    #[arg(long = "log.format", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// One value, made once at start-up: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Print the reference script's reports (device breakdown, timeline, IP usage) once.
    Report(ReportArgs),
    /// Run the exporter: refresh from Tautulli on an interval, serve /metrics and reports.
    Serve(ServeArgs),
    /// Run the exporter against a built-in simulated Tautulli (no configuration needed).
    Demo(DemoArgs),
}

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
    /// History days fetched concurrently.
    #[arg(long = "tautulli-concurrency", default_value_t = 4)]
    pub tautulli_concurrency: usize,
    /// History rows per request.
    #[arg(long = "tautulli-page-size", default_value_t = 10000)]
    pub tautulli_page_size: usize,
    /// Largest Tautulli answer accepted (B, KiB, MiB, GiB); a larger one fails the refresh
    /// with reason too_large instead of exhausting memory. A page of 10000 history rows is
    /// about 11 MB.
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

/// Detection thresholds and score weights. Flags left unset take the value of the
/// `--scoring` profile.
#[derive(Debug, Args, Clone)]
pub struct DetectArgs {
    /// Days of history to analyse.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Flag users whose score is at least this [default: evidence 30, reference 20].
    #[arg(long = "min-score")]
    pub min_score: Option<f64>,
    /// Only flag users with at least one concurrent session from another network.
    #[arg(long = "concurrent-only")]
    pub concurrent_only: bool,
    /// Scoring profile: `evidence` (flags evidence of sharing) or `reference` (the reference
    /// script's weights and rules, reproducing its numbers).
    #[arg(long, default_value = "evidence")]
    pub scoring: ScoringProfile,
    /// Points per device beyond the first [evidence 0, reference 10].
    #[arg(long = "weight.extra-device")]
    pub weight_extra_device: Option<f64>,
    /// Points per device pair streaming concurrently from different households [evidence 20, reference 25].
    #[arg(long = "weight.concurrent-device-pair")]
    pub weight_concurrent_device_pair: Option<f64>,
    /// Points per concurrent session pair, up to the cap [evidence 5, reference 2].
    #[arg(long = "weight.concurrent-session")]
    pub weight_concurrent_session: Option<f64>,
    /// Most concurrent session pairs that score [evidence 16, reference 50].
    #[arg(long = "weight.concurrent-session-cap")]
    pub weight_concurrent_session_cap: Option<usize>,
    /// Points per heavy device beyond the first [evidence 0, reference 15].
    #[arg(long = "weight.extra-heavy-device")]
    pub weight_extra_heavy_device: Option<f64>,
    /// Points per impossible-travel jump, up to the cap [evidence 20, reference 30].
    #[arg(long = "weight.teleportation")]
    pub weight_teleportation: Option<f64>,
    /// Most jumps that score [evidence 10, reference unlimited].
    #[arg(long = "weight.teleportation-cap")]
    pub weight_teleportation_cap: Option<usize>,
    /// Points per regularly used network beyond the first two [evidence 10, reference 0].
    #[arg(long = "weight.extra-network")]
    pub weight_extra_network: Option<f64>,
    /// A device with more plays than this is heavy.
    #[arg(long = "heavy-device-plays", default_value_t = 5)]
    pub heavy_device_plays: u32,
    /// A network with at least this many plays is regularly used.
    #[arg(long = "regular-network-plays", default_value_t = 3)]
    pub regular_network_plays: u32,
    /// Pause time that still counts as watching when deciding when a session ended [evidence 10m, reference 0s].
    #[arg(long = "pause-allowance", value_parser = parse_duration)]
    pub pause_allowance: Option<Duration>,
    /// Shortest overlap that makes two sessions concurrent [evidence 2m, reference 0s: any].
    #[arg(long = "min-overlap", value_parser = parse_duration)]
    pub min_overlap: Option<Duration>,
    /// Jumps shorter than this many km are the same metro area.
    #[arg(long = "min-distance-km", default_value_t = 50.0)]
    pub min_distance_km: f64,
    /// Faster than this many km/h is impossible travel.
    #[arg(long = "max-speed-kmh", default_value_t = 900.0)]
    pub max_speed_kmh: f64,
    /// Count jumps between two sessions of one device (a VPN hop looks like one) [evidence false, reference true].
    #[arg(long = "same-device-jumps")]
    pub same_device_jumps: Option<bool>,
    /// Use the household rules: dual-stack linking, devices' homes, cellular near home [evidence true, reference false].
    #[arg(long = "household-rules")]
    pub household_rules: Option<bool>,
    /// A network that is never evidence: `CIDR` for everybody, or `USER=CIDR` for one user
    /// (id, username or name). Repeatable.
    #[arg(long = "trusted-network", value_name = "[USER=]CIDR")]
    pub trusted_network: Vec<String>,
    /// A user not to analyse (id, username or name). Repeatable.
    #[arg(long = "ignore-user", value_name = "USER")]
    pub ignore_user: Vec<String>,
}

/// Parse `--trusted-network` values into trusted networks.
pub fn parse_trusted(values: &[String]) -> Result<Trusted, ConfigError> {
    let mut t = Trusted::default();
    for v in values {
        let (who, cidr) = match v.rsplit_once('=') {
            Some((who, cidr)) => (Some(who.trim()), cidr.trim()),
            None => (None, v.trim()),
        };
        let net: ipnet::IpNet = cidr
            .parse()
            .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                bad(
                    "--trusted-network",
                    format!("{v:?}: {cidr:?} is not a CIDR network or address"),
                )
            })?;
        match who {
            Some("") => return Err(bad("--trusted-network", format!("{v:?}: the user before '=' is empty"))),
            Some(who) => t.per_user.push((who.to_string(), net)),
            None => t.global.push(net),
        }
    }
    Ok(t)
}

impl DetectArgs {
    /// Validate into detection rules.
    pub fn resolve(&self) -> Result<Rules, ConfigError> {
        if self.days == 0 {
            return Err(bad("--days", "must be at least 1"));
        }
        if self.min_score.is_some_and(|m| !m.is_finite()) {
            return Err(bad("--min-score", "must be a number"));
        }
        if !(self.max_speed_kmh.is_finite() && self.max_speed_kmh > 0.0) {
            return Err(bad("--max-speed-kmh", "must be greater than zero"));
        }
        if !(self.min_distance_km.is_finite() && self.min_distance_km >= 0.0) {
            return Err(bad("--min-distance-km", "must be zero or more"));
        }
        let mut rules = Rules::for_profile(self.scoring);
        let w = &mut rules.scoring.weights;
        for (flag, value, slot) in [
            ("--weight.extra-device", self.weight_extra_device, &mut w.extra_device),
            (
                "--weight.concurrent-device-pair",
                self.weight_concurrent_device_pair,
                &mut w.concurrent_device_pair,
            ),
            (
                "--weight.concurrent-session",
                self.weight_concurrent_session,
                &mut w.concurrent_session,
            ),
            (
                "--weight.extra-heavy-device",
                self.weight_extra_heavy_device,
                &mut w.extra_heavy_device,
            ),
            (
                "--weight.teleportation",
                self.weight_teleportation,
                &mut w.teleportation,
            ),
            (
                "--weight.extra-network",
                self.weight_extra_network,
                &mut w.extra_network,
            ),
        ] {
            if let Some(v) = value {
                if !v.is_finite() || v < 0.0 {
                    return Err(bad(flag, "must be a number ≥ 0"));
                }
                *slot = v;
            }
        }
        if let Some(cap) = self.weight_concurrent_session_cap {
            w.concurrent_session_cap = cap;
        }
        if let Some(cap) = self.weight_teleportation_cap {
            w.teleportation_cap = cap;
        }
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        rules.heavy_device_plays = self.heavy_device_plays;
        rules.regular_network_plays = self.regular_network_plays;
        if let Some(d) = self.pause_allowance {
            rules.pause_allowance_seconds = secs(d);
        }
        if let Some(d) = self.min_overlap {
            rules.min_overlap_seconds = secs(d);
        }
        rules.travel.min_distance_km = self.min_distance_km;
        rules.travel.max_speed_kmh = self.max_speed_kmh;
        if let Some(b) = self.same_device_jumps {
            rules.travel.same_device_counts = b;
        }
        if let Some(b) = self.household_rules {
            rules.dual_stack_is_one_household = b;
            rules.devices_at_home_are_one_household = b;
            rules.nearby_cellular_is_household = b;
        }
        if let Some(m) = self.min_score {
            rules.min_score = m;
        }
        rules.concurrent_only = self.concurrent_only;
        rules.trusted = parse_trusted(&self.trusted_network)?;
        rules.ignore_users = self
            .ignore_user
            .iter()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        Ok(rules)
    }
}

/// Output format of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The reference script's text reports.
    Text,
    /// One JSON document (schema in README).
    Json,
}

/// `report` flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tautulli: TautulliArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub detect: DetectArgs,
    /// Local MaxMind-format GeoIP database (GeoLite2-City, DB-IP city) for locations and teleportation.
    #[arg(long = "geoip-db")]
    pub geoip_db: Option<PathBuf>,
    /// Locate addresses with Tautulli's get_geoip_lookup (needs Tautulli to reach plex.tv).
    #[arg(long)]
    pub geo: bool,
    /// Also print the chronological timeline of concurrent sessions.
    #[arg(long)]
    pub timeline: bool,
    /// Also print every user's usage by IP address, ranked by watch time.
    #[arg(long = "top-ips")]
    pub top_ips: bool,
    /// Analyse only this user (friendly name or username, case-insensitive).
    #[arg(long)]
    pub user: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Time zone for printed times: `local` or an IANA name such as Europe/Paris.
    #[arg(long, default_value = "local")]
    pub timezone: String,
    /// Pretend it is this moment (epoch seconds); for reproducible reports.
    #[arg(long, hide = true)]
    pub now: Option<i64>,
}

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
    /// alerts use it, and its path becomes the route prefix. Default: http://<host>:<port>.
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
    /// The flags' defaults, as `--help` shows them (for code that builds settings
    /// without a command line).
    fn default() -> WebArgs {
        use clap::FromArgMatches;
        let matches = WebArgs::augment_args(clap::Command::new("web")).get_matches_from(["web"]);
        match WebArgs::from_arg_matches(&matches) {
            Ok(args) => args,
            Err(e) => unreachable!("the web flags' defaults parse: {e}"),
        }
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
            Some(path) => {
                crate::web::auth::WebConfig::load(path).map_err(|problem| bad("--web.config.file", problem))?
            }
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

/// GeoIP flags for the exporter.
#[derive(Debug, Args, Clone)]
pub struct GeoArgs {
    /// Local MaxMind-format GeoIP database (GeoLite2-City, DB-IP city), asked first.
    #[arg(long = "geoip-db")]
    pub geoip_db: Option<PathBuf>,
    /// Fall back to Tautulli's get_geoip_lookup (plex.tv) for addresses the database lacks.
    #[arg(long = "geo")]
    pub geo: bool,
    /// How long a located address is cached.
    #[arg(long = "geoip.cache-ttl", default_value = "24h", value_parser = parse_duration)]
    pub cache_ttl: Duration,
    /// How long a failed lookup is cached before trying again.
    #[arg(long = "geoip.failure-ttl", default_value = "5m", value_parser = parse_duration)]
    pub failure_ttl: Duration,
    /// Most addresses cached.
    #[arg(long = "geoip.cache-capacity", default_value_t = 100_000)]
    pub cache_capacity: u64,
}

/// Refresh cadence flags.
#[derive(Debug, Args, Clone)]
pub struct RefreshArgs {
    /// Time between refreshes from Tautulli (detection runs then, never during a scrape).
    #[arg(long = "refresh-interval", default_value = "60s", value_parser = parse_duration)]
    pub interval: Duration,
    /// How far back each incremental refresh re-reads (sessions are written when they stop).
    #[arg(long = "refresh-overlap", default_value = "12h", value_parser = parse_duration)]
    pub overlap: Duration,
    /// Time between full reloads of the window.
    #[arg(long = "full-reload-interval", default_value = "24h", value_parser = parse_duration)]
    pub full_reload: Duration,
    /// Time between reads of Tautulli's users table.
    #[arg(long = "users-refresh-interval", default_value = "1h", value_parser = parse_duration)]
    pub users_refresh: Duration,
    /// The longest one refresh may take, full loads included; past it the refresh fails
    /// with reason deadline and the last good data stays.
    #[arg(long = "refresh-timeout", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
}

impl RefreshArgs {
    /// Validate into refresh options.
    pub fn resolve(&self, days: u32, rules: Rules) -> Result<crate::refresh::RefreshOptions, ConfigError> {
        for (flag, d) in [
            ("--refresh-interval", self.interval),
            ("--full-reload-interval", self.full_reload),
            ("--users-refresh-interval", self.users_refresh),
            ("--refresh-timeout", self.timeout),
        ] {
            if d.is_zero() {
                return Err(bad(flag, "must be greater than zero"));
            }
        }
        Ok(crate::refresh::RefreshOptions {
            interval: self.interval,
            days,
            overlap: self.overlap,
            full_reload: self.full_reload,
            users_refresh: self.users_refresh,
            timeout: self.timeout,
            rules,
        })
    }
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tautulli: TautulliArgs,
    /// The `server` label of the single Tautulli given by flags.
    #[arg(long = "server-name", default_value = "default")]
    pub server_name: String,
    /// YAML file listing several Tautulli servers (instead of --tautulli-url).
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long = "config.check")]
    pub config_check: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub detect: DetectArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub geo: GeoArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub refresh: RefreshArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub web: WebArgs,
}

/// `demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub detect: DetectArgs,
    /// Time between refreshes from the simulated Tautulli.
    #[arg(long = "refresh-interval", default_value = "15s", value_parser = parse_duration)]
    pub refresh_interval: Duration,
    /// Seed of the simulated month.
    #[arg(long = "demo.seed", default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub web: WebArgs,
}

/// One Tautulli server of the configuration file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// The `server` label: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Tautulli URL.
    pub url: String,
    /// API key (prefer `api_key_file`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// File holding the API key.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Request timeout, e.g. `30s`.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// The configuration file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The servers to watch.
    pub servers: Vec<ServerEntry>,
}

/// A named, validated Tautulli server.
#[derive(Debug, Clone)]
pub struct Server {
    /// `server` label.
    pub name: String,
    /// Client options.
    pub client: ClientOptions,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Read and validate the servers of a configuration file; `base` gives the defaults
/// (timeouts, retries) of the command line.
pub fn load_config_file(path: &std::path::Path, base: &TautulliArgs) -> Result<Vec<Server>, ConfigError> {
    let flag = "--config.file";
    let text = std::fs::read_to_string(path).map_err(|e| bad(flag, format!("cannot read {}: {e}", path.display())))?;
    let file: ConfigFile = serde_yaml_ng::from_str(&text).map_err(|e| bad(flag, format!("{}: {e}", path.display())))?;
    if file.servers.is_empty() {
        return Err(bad(
            flag,
            format!("{}: servers: list at least one server", path.display()),
        ));
    }
    let mut out: Vec<Server> = Vec::new();
    for (i, e) in file.servers.iter().enumerate() {
        let at =
            |field: &str, problem: String| bad(flag, format!("{}: servers[{i}].{field}: {problem}", path.display()));
        if !valid_name(&e.name) {
            return Err(at(
                "name",
                format!("{:?} must be letters, digits, '.', '_' or '-'", e.name),
            ));
        }
        if out.iter().any(|s| s.name == e.name) {
            return Err(at("name", format!("{:?} is used twice", e.name)));
        }
        let args = TautulliArgs {
            tautulli_url: Some(e.url.clone()),
            tautulli_api_key: e.api_key.clone(),
            tautulli_api_key_file: e.api_key_file.clone(),
            tautulli_timeout: match &e.timeout {
                Some(t) => parse_duration(t).map_err(|p| at("timeout", p))?,
                None => base.tautulli_timeout,
            },
            ..base.clone()
        };
        let client = args.resolve(None).map_err(|c| {
            let field = match c.flag.as_str() {
                "--tautulli-url" => "url",
                "--tautulli-api-key-file" => "api_key_file",
                "--tautulli-api-key" => "api_key",
                _ => "timeout",
            };
            at(field, c.problem)
        })?;
        out.push(Server {
            name: e.name.clone(),
            client,
        });
    }
    Ok(out)
}

/// Where `serve`'s servers come from: `--config.file`, or the Tautulli flags. Read at
/// start and again on every reload (which picks up a rotated key file too).
#[derive(Debug, Clone)]
pub struct ServerSource {
    config_file: Option<PathBuf>,
    tautulli: TautulliArgs,
    server_name: String,
}

impl ServerSource {
    /// The servers to watch: from the configuration file, or the single one of the flags.
    pub fn load(&self) -> Result<Vec<Server>, ConfigError> {
        match &self.config_file {
            Some(path) => {
                if self.tautulli.tautulli_url.is_some() {
                    return Err(bad(
                        "--config.file",
                        "give either --config.file or --tautulli-url, not both",
                    ));
                }
                load_config_file(path, &self.tautulli)
            }
            None => {
                if !valid_name(&self.server_name) {
                    return Err(bad("--server-name", "must be letters, digits, '.', '_' or '-'"));
                }
                let client = self.tautulli.resolve(std::env::var("TAUTULLI_HOST").ok())?;
                Ok(vec![Server {
                    name: self.server_name.clone(),
                    client,
                }])
            }
        }
    }
}

impl ServeArgs {
    /// Where the servers come from.
    pub fn server_source(&self) -> ServerSource {
        ServerSource {
            config_file: self.config_file.clone(),
            tautulli: self.tautulli.clone(),
            server_name: self.server_name.clone(),
        }
    }

    /// The servers to watch: from the configuration file, or the single one of the flags.
    pub fn servers(&self) -> Result<Vec<Server>, ConfigError> {
        self.server_source().load()
    }
}

/// Resolve `--timezone`.
pub fn time_zone(name: &str) -> Result<TimeZone, ConfigError> {
    if name.eq_ignore_ascii_case("local") {
        return Ok(TimeZone::system());
    }
    TimeZone::get(name).map_err(|e| bad("--timezone", format!("unknown time zone {name:?} ({e})")))
}

/// The command line as users get it: negative numbers and durations reach their
/// flag's parser (`--refresh-interval -5s` names the flag instead of "unexpected
/// argument '-5'").
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let duration = std::any::TypeId::of::<Duration>();
    Cli::command().mut_subcommands(|c| {
        c.allow_negative_numbers(true).mut_args(|a| {
            if a.get_value_parser().type_id() == duration {
                a.allow_hyphen_values(true)
            } else {
                a
            }
        })
    })
}

/// Parse `args` (program name first) with [`command`].
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
}

/// A clap usage error as one line, like every other configuration error: the message
/// and its tip, without the usage block.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut out = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("Usage:") || line.starts_with("For more information") {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    if !out.starts_with("error:") {
        out.insert_str(0, "error: ");
    }
    out.push_str(" (see --help)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    fn report(args: &[&str]) -> Result<ReportArgs, clap::Error> {
        let mut v = vec!["plex-sharing-exporter", "report"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|c| match c.command {
            Command::Report(r) => r,
            _ => unreachable!("parsed a report"),
        })
    }

    #[test]
    fn weights_override_the_profile() {
        let r = report(&[
            "--scoring",
            "reference",
            "--weight.teleportation",
            "99",
            "--weight.concurrent-session-cap",
            "3",
        ])
        .unwrap();
        let rules = r.detect.resolve().unwrap();
        assert_eq!(rules.scoring.weights.teleportation, 99.0);
        assert_eq!(rules.scoring.weights.concurrent_session_cap, 3);
        assert_eq!(rules.scoring.weights.extra_device, 10.0);
        assert_eq!(rules.min_score, 20.0);
    }

    #[test]
    fn the_default_profile_is_evidence_and_flags_override_its_rules() {
        let rules = report(&[]).unwrap().detect.resolve().unwrap();
        assert_eq!(rules, Rules::for_profile(ScoringProfile::Evidence));
        let args = [
            "--min-overlap",
            "0s",
            "--same-device-jumps",
            "true",
            "--household-rules",
            "false",
            "--min-score",
            "5",
        ];
        let rules = report(&args).unwrap().detect.resolve().unwrap();
        assert_eq!(rules.min_overlap_seconds, 0);
        assert!(rules.travel.same_device_counts);
        assert!(!rules.devices_at_home_are_one_household && !rules.dual_stack_is_one_household);
        assert_eq!(rules.min_score, 5.0);
    }

    #[test]
    fn trusted_networks_parse_globally_and_per_user() {
        let t = parse_trusted(&[
            "100.64.0.0/10".into(),
            "alice=203.0.113.0/24".into(),
            "42=198.51.100.7".into(),
        ])
        .unwrap();
        assert_eq!(t.global, vec!["100.64.0.0/10".parse::<ipnet::IpNet>().unwrap()]);
        assert_eq!(t.per_user.len(), 2);
        assert_eq!(t.per_user[1].1.to_string(), "198.51.100.7/32");
        let e = parse_trusted(&["alice=nonsense".into()]).unwrap_err();
        assert_eq!(e.flag, "--trusted-network");
        assert!(parse_trusted(&["=10.0.0.0/8".into()]).is_err());
    }

    #[test]
    fn ignored_users_are_kept_trimmed() {
        let rules = report(&["--ignore-user", " Local ", "--ignore-user", "0"])
            .unwrap()
            .detect
            .resolve()
            .unwrap();
        assert_eq!(rules.ignore_users, vec!["Local", "0"]);
    }

    #[test]
    fn key_and_key_file_together_are_rejected_naming_the_flag() {
        let r = report(&[
            "--tautulli-url",
            "t:8181",
            "--tautulli-api-key",
            "k",
            "--tautulli-api-key-file",
            "/x",
        ])
        .unwrap();
        let e = r.tautulli.resolve(None).unwrap_err();
        assert_eq!(e.flag, "--tautulli-api-key-file");
    }

    #[test]
    fn tautulli_host_env_is_a_fallback_for_the_url() {
        let r = report(&["--tautulli-api-key", "k"]).unwrap();
        let mut r = r;
        r.tautulli.tautulli_url = None;
        let opts = r.tautulli.resolve(Some("tautulli:8181".into())).unwrap();
        assert_eq!(opts.url.as_str(), "http://tautulli:8181");
        assert_eq!(r.tautulli.resolve(None).unwrap_err().flag, "--tautulli-url");
    }

    #[test]
    fn the_reference_scripts_flag_names_still_work() {
        let r = report(&["--host", "t", "--api-key", "k"]).unwrap();
        assert_eq!(r.tautulli.tautulli_url.as_deref(), Some("t"));
    }

    fn web(args: &[&str]) -> Result<Web, ConfigError> {
        let mut v = vec!["plex-sharing-exporter", "demo"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).expect("flags parse").command {
            Command::Demo(d) => d.web.resolve(),
            _ => unreachable!("parsed a demo"),
        }
    }

    #[test]
    fn a_bad_web_config_file_is_one_error_naming_the_flag() {
        let dir = std::env::temp_dir().join(format!("pse-webcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("web.yml");
        std::fs::write(&path, "basic_auth_users:\n  a: x\ntls_server_confg: {}\n").unwrap();
        let e = web(&["--web.config.file", path.to_str().unwrap()]).unwrap_err();
        assert_eq!(e.flag, "--web.config.file");
        assert!(e.problem.contains("tls_server_confg"), "{e}");
        assert!(e.problem.contains("web.yml"), "names the file: {e}");
        let missing = dir.join("missing.yml");
        let e = web(&["--web.config.file", missing.to_str().unwrap()]).unwrap_err();
        assert!(e.problem.starts_with("cannot read"), "{e}");
        std::fs::write(&path, "").unwrap();
        let w = web(&["--web.config.file", path.to_str().unwrap(), "--web.mask-ips"]).unwrap();
        assert!(w.config.auth.is_none() && w.config.tls.is_none() && w.mask_ips);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("-1MiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn negative_values_reach_their_flag_and_usage_errors_are_one_line() {
        let e = parse_from(["p", "serve", "--refresh-interval", "-5s"]).unwrap_err();
        let line = one_line(&e);
        assert!(
            line.contains("--refresh-interval") && line.contains("is negative"),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
        let e = parse_from(["p", "report", "--days", "-3"]).unwrap_err();
        assert!(one_line(&e).contains("--days"), "{}", one_line(&e));
        let e = parse_from(["p", "serve", "--bogus"]).unwrap_err();
        assert_eq!(one_line(&e), "error: unexpected argument '--bogus' found (see --help)");
        let ok = parse_from(["p", "serve", "--tautulli-url", "t", "--refresh-interval", "5s"]).unwrap();
        assert!(matches!(ok.command, Command::Serve(_)));
    }

    #[test]
    fn zero_days_is_rejected() {
        let r = report(&["--days", "0"]).unwrap();
        assert_eq!(r.detect.resolve().unwrap_err().flag, "--days");
    }
}
