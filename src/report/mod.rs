//! Sinks for the `report` command: the reference script's three terminal reports
//! ([`text`]) and a JSON document ([`json`]).

pub mod json;
pub mod text;

use std::collections::HashMap;
use std::net::IpAddr;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// What every report needs besides the findings.
#[derive(Debug, Clone)]
pub struct Context {
    /// Time zone for printed times.
    pub tz: TimeZone,
    /// Location label per address; empty when GeoIP is off (then none is shown).
    pub locations: HashMap<IpAddr, String>,
    /// The detection window, epoch seconds.
    pub window: (i64, i64),
    /// Generation time, epoch seconds.
    pub generated_at: i64,
}

/// `Xh Ym` or `Ym`, as the reference script printed durations.
pub fn fmt_duration(seconds: u64) -> String {
    let minutes = seconds / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

/// `YYYY-MM-DD HH:MM` in `tz`.
pub fn fmt_time(t: i64, tz: &TimeZone) -> String {
    fmt_with(t, tz, "%Y-%m-%d %H:%M")
}

/// Format epoch seconds `t` in `tz` with a strftime pattern.
pub fn fmt_with(t: i64, tz: &TimeZone, pattern: &str) -> String {
    match Timestamp::from_second(t) {
        Ok(ts) => ts.to_zoned(tz.clone()).strftime(pattern).to_string(),
        Err(_) => t.to_string(),
    }
}

/// RFC 3339 in UTC.
pub fn rfc3339(t: i64) -> String {
    Timestamp::from_second(t)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_the_reference() {
        assert_eq!(fmt_duration(59), "0m");
        assert_eq!(fmt_duration(3599), "59m");
        assert_eq!(fmt_duration(3600), "1h 0m");
        assert_eq!(fmt_duration(7 * 3600 + 5 * 60 + 59), "7h 5m");
    }

    #[test]
    fn times_print_in_the_chosen_zone() {
        let t = 1_789_452_318; // 2026-09-15 06:05:18 UTC
        assert_eq!(fmt_time(t, &TimeZone::UTC), "2026-09-15 06:05");
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(fmt_time(t, &ny), "2026-09-15 02:05");
    }
}
