//! Detection flags: thresholds, weights and trusted networks over a `--scoring`
//! profile, into detection [`Rules`].

use std::time::Duration;

use clap::Args;

use super::units::parse_duration;
use super::{bad, ConfigError};
use crate::detect::{Rules, ScoringProfile, Trusted};

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
    /// Points per overlapping session pair located in the same area, up to the concurrent-session cap [evidence 0, reference 0].
    #[arg(long = "weight.nearby-concurrent-session")]
    pub weight_nearby_concurrent_session: Option<f64>,
    /// Points per heavy device beyond the first [evidence 0, reference 15].
    #[arg(long = "weight.extra-heavy-device")]
    pub weight_extra_heavy_device: Option<f64>,
    /// Points per impossible-travel jump, up to the cap [evidence 20, reference 30].
    #[arg(long = "weight.teleportation")]
    pub weight_teleportation: Option<f64>,
    /// Most jumps that score [evidence 10, reference unlimited].
    #[arg(long = "weight.teleportation-cap")]
    pub weight_teleportation_cap: Option<usize>,
    /// Points per same-device jump (likely a VPN or proxy), up to the jump cap [evidence 0, reference 0].
    #[arg(long = "weight.same-device-jump")]
    pub weight_same_device_jump: Option<f64>,
    /// Points per regularly used network beyond the first two [evidence 10, reference 0].
    #[arg(long = "weight.extra-network")]
    pub weight_extra_network: Option<f64>,
    /// A device with more plays than this is heavy.
    #[arg(long = "heavy-device-plays", default_value_t = crate::detect::rules::HEAVY_DEVICE_PLAYS)]
    pub heavy_device_plays: u32,
    /// A network with at least this many plays is regularly used.
    #[arg(long = "regular-network-plays", default_value_t = crate::detect::rules::REGULAR_NETWORK_PLAYS)]
    pub regular_network_plays: u32,
    /// Pause time that still counts as watching when deciding when a session ended [evidence 10m, reference 0s].
    #[arg(long = "pause-allowance", value_parser = parse_duration)]
    pub pause_allowance: Option<Duration>,
    /// Shortest overlap that makes two sessions concurrent [evidence 2m, reference 0s: any].
    #[arg(long = "min-overlap", value_parser = parse_duration)]
    pub min_overlap: Option<Duration>,
    /// Jumps shorter than this many km are the same metro area.
    #[arg(long = "min-distance-km", default_value_t = crate::detect::travel::MIN_DISTANCE_KM)]
    pub min_distance_km: f64,
    /// Faster than this many km/h is impossible travel.
    #[arg(long = "max-speed-kmh", default_value_t = crate::detect::travel::MAX_SPEED_KMH)]
    pub max_speed_kmh: f64,
    /// Count jumps between two sessions of one device (a VPN hop looks like one) [evidence false, reference true].
    #[arg(long = "same-device-jumps")]
    pub same_device_jumps: Option<bool>,
    /// Use the household rules: dual-stack linking, devices' homes, ISP pools, cellular near home, nearby overlaps apart [evidence true, reference false].
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
                "--weight.nearby-concurrent-session",
                self.weight_nearby_concurrent_session,
                &mut w.nearby_concurrent_session,
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
                "--weight.same-device-jump",
                self.weight_same_device_jump,
                &mut w.same_device_jump,
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
            rules.isp_pools_are_one_home = b;
            rules.nearby_cellular_is_household = b;
            rules.nearby_overlaps_are_apart = b;
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
