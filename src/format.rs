//! How times and durations are written, shared by the terminal report, the JSON
//! documents and the web pages (a bottom module: it imports nothing of this crate).

use jiff::tz::TimeZone;
use jiff::Timestamp;

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

/// `YYYY-MM-DDTHH:MMZ`: ISO 8601 in UTC, as every page shows times.
pub fn fmt_utc(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%MZ").to_string())
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
    fn utc_times_are_iso_8601_to_the_minute() {
        assert_eq!(fmt_utc(1_789_452_318), "2026-09-15T06:05Z");
        assert_eq!(fmt_utc(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn times_print_in_the_chosen_zone() {
        let t = 1_789_452_318; // 2026-09-15 06:05:18 UTC
        assert_eq!(fmt_time(t, &TimeZone::UTC), "2026-09-15 06:05");
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(fmt_time(t, &ny), "2026-09-15 02:05");
    }
}
