//! Durations (`90s`, `5m`, `2d`) and byte sizes (`64MiB`) as flags take them.

use std::time::Duration;

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
