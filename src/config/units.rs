//! Durations (`90s`, `5m`, `2d`) and byte sizes (`64MiB`) as flags take them.

use std::time::Duration;

/// Why a duration or size flag cannot be read; each names the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// A negative duration.
    #[error("{0:?} is negative; give a positive duration like 30s")]
    Negative(String),
    /// No number where the duration starts.
    #[error("{0:?} is not a duration like 30s, 5m or 1h")]
    NotDuration(String),
    /// A duration unit that is not ms, s, m, h or d.
    #[error("unknown unit {unit:?} in {text:?} (use ms, s, m, h or d)")]
    DurationUnit {
        /// The unit given.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// A duration no clock can hold.
    #[error("{0:?} is not a valid duration")]
    Invalid(String),
    /// A duration past the longest any flag takes.
    #[error("{0:?} is too long (at most {MAX_DURATION_DAYS}d)")]
    TooLong(String),
    /// No number where the size starts.
    #[error("{0:?} is not a size like 64MiB or 1048576")]
    NotSize(String),
    /// A size unit that is not B, KiB, MiB or GiB (or their short forms).
    #[error("unknown unit {unit:?} in {text:?} (use B, KiB, MiB or GiB)")]
    SizeUnit {
        /// The unit given.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// Zero bytes, or more than memory can address.
    #[error("{0:?} must be more than 0 bytes and fit in memory")]
    SizeRange(String),
}

/// Parse `90s`, `5m`, `1h`, `2d`, `250ms` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err(UnitError::Negative(s.to_owned()));
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| UnitError::NotDuration(s.to_owned()))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        other => {
            return Err(UnitError::DurationUnit {
                unit: other.to_owned(),
                text: s.to_owned(),
            })
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(UnitError::Invalid(s.to_owned()));
    }
    if secs > MAX_DURATION_DAYS * 86400.0 {
        return Err(UnitError::TooLong(s.to_owned()));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| UnitError::Invalid(s.to_owned()))
}

/// Longest duration any flag takes: ten years is past every sensible setting, and keeps
/// clock arithmetic far from overflowing.
const MAX_DURATION_DAYS: f64 = 3650.0;

/// Parse a byte size: `1048576`, `512KiB`, `256MiB`, `1GiB` (also `KB`, `MB`, `GB` as
/// powers of 1000, and `K`, `M`, `G` as powers of 1024).
pub fn parse_size(s: &str) -> Result<usize, UnitError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| UnitError::NotSize(s.to_owned()))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "KB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(UnitError::SizeUnit {
                unit: other.to_owned(),
                text: s.to_owned(),
            })
        }
    };
    n.checked_mul(mult)
        .and_then(|b| usize::try_from(b).ok())
        .filter(|b| *b > 0)
        .ok_or_else(|| UnitError::SizeRange(s.to_owned()))
}
