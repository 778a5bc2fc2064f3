//! Command-line flags, their defaults (shown by `--help`) and their validation into
//! the values the rest of the program uses. A bad value is one [`ConfigError`] naming
//! the flag; the binary prints it and exits with status 2.
//!
//! - [`units`]: durations and byte sizes.
//! - [`tautulli`]: `--tautulli-*`, into client options.
//! - [`detect`]: thresholds, weights, trusted networks, into detection rules.
//! - [`web`]: `--web.*`, into web settings.
//! - [`refresh`]: GeoIP cache and refresh cadence.
//! - [`file`](mod@file): `--config.file` and where `serve`'s servers come from.

pub mod detect;
pub mod file;
pub mod refresh;
pub mod tautulli;
#[cfg(test)]
mod tests;
pub mod units;
pub mod web;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::tz::TimeZone;

pub use detect::{parse_trusted, DetectArgs};
pub use file::{load_config_file, parse_overrides, ConfigFile, Loaded, Server, ServerEntry, ServerSource};
pub use refresh::{geoip_concurrency, GeoArgs, RefreshArgs};
pub use tautulli::TautulliArgs;
pub use units::{parse_duration, parse_size, UnitError};
pub use web::{Web, WebArgs};

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

/// Output format of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The reference script's text reports.
    Text,
    /// One JSON document (schema in docs/web.md).
    Json,
}

/// `report` flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tautulli: TautulliArgs,
    /// YAML file listing several Tautulli servers (instead of --tautulli-url): each is
    /// reported, then the accounts seen on two or more of them, analysed together.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub detect: DetectArgs,
    /// Local MaxMind-format GeoIP database (GeoLite2-City, DB-IP city) for locations and teleportation.
    #[arg(long = "geoip-db")]
    pub geoip_db: Option<PathBuf>,
    /// Locate addresses with Tautulli's get_geoip_lookup (needs Tautulli to reach plex.tv).
    #[arg(long)]
    pub geo: bool,
    /// Local MaxMind-format ASN database (GeoLite2-ASN, DB-IP ASN Lite, ip-location-db
    /// asn): names the network operator of every located address (shown with
    /// --top-ips), and tells an ISP's address pool from travel.
    #[arg(long = "asn-db", value_name = "PATH")]
    pub asn_db: Option<PathBuf>,
    /// Pin a network's place ahead of every GeoIP provider: `CIDR=LAT,LON[,LABEL]`.
    /// Repeatable.
    #[arg(long = "geoip-override", value_name = "CIDR=LAT,LON[,LABEL]")]
    pub geoip_override: Vec<String>,
    /// Keep looked-up places in this file, so the next report asks no provider again for
    /// an address looked up within a day.
    #[arg(long = "geoip.cache-file", alias = "geoip-cache-file", value_name = "PATH")]
    pub geoip_cache_file: Option<PathBuf>,
    /// GeoIP lookups in flight at once.
    #[arg(long = "geoip.concurrency", alias = "geoip-concurrency", default_value_t = crate::geo::DEFAULT_CONCURRENCY)]
    pub geoip_concurrency: usize,
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

/// A flag group with every flag at its default, as `--help` shows it (for code that
/// builds settings without a command line: tests, `report`, `demo`).
fn flag_defaults<T: Args + clap::FromArgMatches>() -> T {
    let matches = T::augment_args(clap::Command::new("defaults")).get_matches_from(["defaults"]);
    match T::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => unreachable!("every flag of the group has a default: {e}"),
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
