//! GeoIP cache and refresh cadence flags, into the refresh loop's options.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::units::parse_duration;
use super::{bad, flag_defaults, ConfigError};
use crate::detect::Rules;

/// GeoIP flags for the exporter.
#[derive(Debug, Args, Clone)]
pub struct GeoArgs {
    /// Local MaxMind-format GeoIP database (GeoLite2-City, DB-IP city), asked first.
    #[arg(long = "geoip-db")]
    pub geoip_db: Option<PathBuf>,
    /// Fall back to Tautulli's get_geoip_lookup (plex.tv) for addresses the database lacks.
    #[arg(long = "geo")]
    pub geo: bool,
    /// Local MaxMind-format ASN database (GeoLite2-ASN, DB-IP ASN Lite, ip-location-db
    /// asn): names the network operator of every located address, and tells an ISP's
    /// address pool from travel. Also `asn_db` in --config.file; re-read on reload.
    #[arg(long = "asn-db", value_name = "PATH")]
    pub asn_db: Option<PathBuf>,
    /// Pin a network's place ahead of every GeoIP provider: `CIDR=LAT,LON[,LABEL]`, e.g.
    /// your ISP's address pool or a relative's address. Repeatable; also `geoip_overrides`
    /// in --config.file.
    #[arg(long = "geoip-override", value_name = "CIDR=LAT,LON[,LABEL]")]
    pub geoip_override: Vec<String>,
    /// How long a located address is cached.
    #[arg(long = "geoip.cache-ttl", default_value = "24h", value_parser = parse_duration)]
    pub cache_ttl: Duration,
    /// How long a failed lookup is cached before trying again.
    #[arg(long = "geoip.failure-ttl", default_value = "5m", value_parser = parse_duration)]
    pub failure_ttl: Duration,
    /// Most addresses cached.
    #[arg(long = "geoip.cache-capacity", default_value_t = 100_000)]
    pub cache_capacity: u64,
    /// Keep the GeoIP cache in this file too, so a restart asks no provider again for
    /// an address within --geoip.cache-ttl (written after each refresh that looked
    /// something up, and at shutdown).
    #[arg(long = "geoip.cache-file", alias = "geoip-cache-file", value_name = "PATH")]
    pub cache_file: Option<PathBuf>,
    /// GeoIP lookups in flight at once.
    #[arg(long = "geoip.concurrency", alias = "geoip-concurrency", default_value_t = crate::geo::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
}

/// `--geoip.concurrency`: at least one lookup at a time.
pub fn geoip_concurrency(n: usize) -> Result<usize, ConfigError> {
    if n == 0 {
        return Err(bad("--geoip.concurrency", "must be at least 1"));
    }
    Ok(n)
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
            keep_sessions: false,
        })
    }
}

impl Default for RefreshArgs {
    fn default() -> RefreshArgs {
        flag_defaults()
    }
}
