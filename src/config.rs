//! Command-line flags, their defaults (shown by `--help`) and their validation into
//! the values the rest of the program uses. A bad value is one [`ConfigError`] naming
//! the flag; the binary prints it and exits with status 2.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::tz::TimeZone;

use crate::detect::{Rules, Scoring, ScoringProfile, TravelRules};
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
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
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
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use ms, s, m, h or d)"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(secs))
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
pub enum Command {
    /// Print the reference script's reports (device breakdown, timeline, IP usage) once.
    Report(ReportArgs),
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
    #[arg(long = "tautulli-page-size", default_value_t = 5000)]
    pub tautulli_page_size: usize,
}

impl TautulliArgs {
    /// Validate into client options. `env_host` is `$TAUTULLI_HOST` (the reference's name).
    pub fn resolve(&self, env_host: Option<String>) -> Result<ClientOptions, ConfigError> {
        let raw = self
            .tautulli_url
            .clone()
            .or(env_host)
            .ok_or_else(|| bad("--tautulli-url", "missing (or set TAUTULLI_URL)"))?;
        let url = TautulliUrl::parse(&raw).map_err(|p| bad("--tautulli-url", p))?;
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
                ApiKey::new(&text)
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
        let mut opts = ClientOptions::new(url, key);
        opts.timeout = self.tautulli_timeout;
        opts.retries = self.tautulli_retries;
        opts.concurrency = self.tautulli_concurrency;
        opts.page_size = self.tautulli_page_size;
        Ok(opts)
    }
}

/// Detection thresholds and score weights.
#[derive(Debug, Args, Clone)]
pub struct DetectArgs {
    /// Days of history to analyse.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Flag users whose score is at least this.
    #[arg(long = "min-score", default_value_t = 20.0)]
    pub min_score: f64,
    /// Only flag users with at least one concurrent session from another network.
    #[arg(long = "concurrent-only")]
    pub concurrent_only: bool,
    /// Named score weights to start from.
    #[arg(long, default_value = "reference")]
    pub scoring: ScoringProfile,
    /// Points per device beyond the first (default: from --scoring).
    #[arg(long = "weight.extra-device")]
    pub weight_extra_device: Option<f64>,
    /// Points per device pair streaming concurrently from different networks.
    #[arg(long = "weight.concurrent-device-pair")]
    pub weight_concurrent_device_pair: Option<f64>,
    /// Points per concurrent session pair (up to --weight.concurrent-session-cap).
    #[arg(long = "weight.concurrent-session")]
    pub weight_concurrent_session: Option<f64>,
    /// Most concurrent session pairs that score.
    #[arg(long = "weight.concurrent-session-cap")]
    pub weight_concurrent_session_cap: Option<usize>,
    /// Points per heavy device beyond the first.
    #[arg(long = "weight.extra-heavy-device")]
    pub weight_extra_heavy_device: Option<f64>,
    /// Points per impossible-travel jump.
    #[arg(long = "weight.teleportation")]
    pub weight_teleportation: Option<f64>,
    /// Points per network beyond the first.
    #[arg(long = "weight.extra-network")]
    pub weight_extra_network: Option<f64>,
    /// A device with more plays than this is heavy.
    #[arg(long = "heavy-device-plays", default_value_t = 5)]
    pub heavy_device_plays: u32,
    /// Pause time that still counts as watching when deciding when a session ended.
    #[arg(long = "pause-allowance", default_value = "0s", value_parser = parse_duration)]
    pub pause_allowance: Duration,
    /// Shortest overlap that makes two sessions concurrent (0: any overlap).
    #[arg(long = "min-overlap", default_value = "0s", value_parser = parse_duration)]
    pub min_overlap: Duration,
    /// Jumps shorter than this many km are the same metro area.
    #[arg(long = "min-distance-km", default_value_t = 50.0)]
    pub min_distance_km: f64,
    /// Faster than this many km/h is impossible travel.
    #[arg(long = "max-speed-kmh", default_value_t = 900.0)]
    pub max_speed_kmh: f64,
}

impl DetectArgs {
    /// Validate into detection rules.
    pub fn resolve(&self) -> Result<Rules, ConfigError> {
        if self.days == 0 {
            return Err(bad("--days", "must be at least 1"));
        }
        if !self.min_score.is_finite() {
            return Err(bad("--min-score", "must be a number"));
        }
        if !(self.max_speed_kmh.is_finite() && self.max_speed_kmh > 0.0) {
            return Err(bad("--max-speed-kmh", "must be greater than zero"));
        }
        if !(self.min_distance_km.is_finite() && self.min_distance_km >= 0.0) {
            return Err(bad("--min-distance-km", "must be zero or more"));
        }
        let mut scoring = Scoring::from_profile(self.scoring);
        let w = &mut scoring.weights;
        for (flag, value, slot) in [
            (
                "--weight.extra-device",
                self.weight_extra_device,
                &mut w.extra_device,
            ),
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
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Ok(Rules {
            heavy_device_plays: self.heavy_device_plays,
            pause_allowance_seconds: secs(self.pause_allowance),
            min_overlap_seconds: secs(self.min_overlap),
            travel: TravelRules {
                min_distance_km: self.min_distance_km,
                max_speed_kmh: self.max_speed_kmh,
                ..TravelRules::default()
            },
            scoring,
            min_score: self.min_score,
            concurrent_only: self.concurrent_only,
        })
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

/// Resolve `--timezone`.
pub fn time_zone(name: &str) -> Result<TimeZone, ConfigError> {
    if name.eq_ignore_ascii_case("local") {
        return Ok(TimeZone::system());
    }
    TimeZone::get(name).map_err(|e| bad("--timezone", format!("unknown time zone {name:?} ({e})")))
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
        })
    }

    #[test]
    fn weights_override_the_profile() {
        let r = report(&[
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

    #[test]
    fn zero_days_is_rejected() {
        let r = report(&["--days", "0"]).unwrap();
        assert_eq!(r.detect.resolve().unwrap_err().flag, "--days");
    }
}
