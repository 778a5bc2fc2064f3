//! Tautulli's response shapes, decoded leniently, and their conversion into the
//! detector's plain types.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::lenient::{self, lenient_row, MaybeRow};
use crate::detect::{Place, Session, Strings, UserInfo};

/// A paged table (`get_history`, `get_users_table`).
#[derive(Debug, Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub struct Page<T> {
    /// Rows matching the filters, over all pages.
    #[serde(rename = "recordsFiltered", default, deserialize_with = "lenient::int")]
    pub records_filtered: Option<i64>,
    /// This page's rows.
    #[serde(default, deserialize_with = "lenient::list")]
    pub data: Vec<MaybeRow<T>>,
}

lenient_row! {
    /// One `get_history` row (ungrouped), only the fields the detector reads.
    pub struct HistoryRow {
        row_id: int,
        id: int,
        user_id: int,
        user: string,
        friendly_name: string,
        started: int,
        stopped: int,
        play_duration: int,
        duration: int,
        paused_counter: int,
        machine_id: string,
        platform: string,
        player: string,
        ip_address: string,
        relayed: int,
        location: string,
        full_title: string,
        title: string,
        state: string,
    }
}

lenient_row! {
    /// One `get_users_table` row.
    pub struct UserRow {
        user_id: int,
        username: string,
        friendly_name: string,
    }
}

lenient_row! {
    /// `get_geoip_lookup` data.
    pub struct GeoRow {
        city: string,
        region: string,
        country: string,
        code: string,
        latitude: float,
        longitude: float,
        accuracy: float,
    }
}

/// `get_activity` data.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)]
pub struct Activity {
    #[serde(default, deserialize_with = "lenient::list")]
    pub sessions: Vec<MaybeRow<LiveRow>>,
}

lenient_row! {
    /// One session of `get_activity` (most values are strings there).
    pub struct LiveRow {
        session_key: string,
        user_id: int,
        friendly_name: string,
        user: string,
        ip_address: string,
        machine_id: string,
        platform: string,
        player: string,
        state: string,
        relayed: int,
        full_title: string,
    }
}

/// A stream playing right now.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStream {
    /// Plex user id.
    pub user_id: i64,
    /// Display name.
    pub user: String,
    /// Client address, if it parsed.
    pub ip: Option<IpAddr>,
    /// Device id.
    pub machine_id: String,
    /// `playing`, `paused` or `buffering`.
    pub state: String,
}

impl LiveRow {
    /// The stream, or `None` without a user id.
    pub fn into_stream(self) -> Option<LiveStream> {
        Some(LiveStream {
            user_id: self.user_id?,
            user: self.friendly_name.or(self.user).unwrap_or_default(),
            ip: self.ip_address.as_deref().and_then(parse_ip),
            machine_id: self.machine_id.unwrap_or_default(),
            state: self.state.unwrap_or_default(),
        })
    }
}

impl GeoRow {
    /// A place when both coordinates are present.
    pub fn into_place(self) -> Option<Place> {
        Some(Place {
            latitude: self.latitude?,
            longitude: self.longitude?,
            city: self.city,
            region: self.region,
            country: self.country,
            country_code: self.code,
            accuracy_radius_km: self.accuracy.filter(|a| *a > 0.0),
            asn: None,
        })
    }
}

impl UserRow {
    /// The user, or `None` without a user id.
    pub fn into_user(self) -> Option<UserInfo> {
        let user_id = self.user_id?;
        let username = self.username.unwrap_or_default();
        let name = self.friendly_name.unwrap_or_else(|| {
            if username.is_empty() {
                user_id.to_string()
            } else {
                username.clone()
            }
        });
        Some(UserInfo {
            user_id,
            name,
            username,
        })
    }
}

/// Why a history row was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// The list element was not an object.
    NotAnObject,
    /// An object that could not be read as a row (a key given twice).
    Undecodable,
    /// No `user_id`.
    NoUser,
    /// No or zero `started`.
    NoStart,
    /// `started` before 2000 or more than two days in the future.
    AbsurdTime,
    /// A live session (`state` set), which we asked Tautulli not to include.
    LiveRow,
}

impl SkipReason {
    /// Stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotAnObject => "not_an_object",
            SkipReason::Undecodable => "undecodable",
            SkipReason::NoUser => "no_user_id",
            SkipReason::NoStart => "no_started",
            SkipReason::AbsurdTime => "absurd_time",
            SkipReason::LiveRow => "live_row",
        }
    }
}

/// Counts of rows skipped or repaired while decoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeStats {
    /// Rows skipped, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Rows kept with an address that did not parse (treated as unknown).
    pub bad_ip: u64,
    /// Rows kept with a negative duration (treated as zero).
    pub negative_duration: u64,
    /// Rows kept with a duration, pause or stop time beyond [`MAX_SESSION_SECONDS`]
    /// (cut to it), so one bad row cannot overlap every other session.
    pub absurd_duration: u64,
}

impl DecodeStats {
    /// Total rows skipped.
    pub fn total_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Add `other` into `self`.
    pub fn merge(&mut self, other: &DecodeStats) {
        for (k, v) in &other.skipped {
            *self.skipped.entry(*k).or_default() += v;
        }
        self.bad_ip += other.bad_ip;
        self.negative_duration += other.negative_duration;
        self.absurd_duration += other.absurd_duration;
    }

    /// Count one skipped row.
    pub fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }
}

const YEAR_2000: i64 = 946_684_800;

/// The longest a session's play time, pause time, or start-to-stop span may be: two
/// days. Longer values are corrupt rows, and a session that seems to run for years
/// would overlap every other session of its user.
pub const MAX_SESSION_SECONDS: i64 = 2 * 86_400;

/// Parse an address as Tautulli stores it (trimmed; IPv6 may carry a zone or brackets).
pub fn parse_ip(raw: &str) -> Option<IpAddr> {
    let t = raw.trim().trim_start_matches('[').trim_end_matches(']');
    let t = t.split('%').next().unwrap_or(t);
    t.parse().ok()
}

fn clamp_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl HistoryRow {
    /// The session, or why it cannot be used. `now` bounds plausible start times.
    pub fn into_session(self, strings: &mut Strings, now: i64, stats: &mut DecodeStats) -> Result<Session, SkipReason> {
        if self.state.is_some() {
            return Err(SkipReason::LiveRow);
        }
        let user_id = self.user_id.ok_or(SkipReason::NoUser)?;
        let started = self.started.filter(|s| *s != 0).ok_or(SkipReason::NoStart)?;
        if !(YEAR_2000..=now + 2 * 86_400).contains(&started) {
            return Err(SkipReason::AbsurdTime);
        }
        let paused = self.paused_counter.unwrap_or(0);
        let play = self
            .play_duration
            .or(self.duration)
            .or_else(|| self.stopped.map(|s| s - started - paused.max(0)))
            .unwrap_or(0);
        if play < 0 || paused < 0 {
            stats.negative_duration += 1;
        }
        let stopped_too_late = self
            .stopped
            .is_some_and(|s| s.saturating_sub(started) > MAX_SESSION_SECONDS + paused.clamp(0, MAX_SESSION_SECONDS));
        if play > MAX_SESSION_SECONDS || paused > MAX_SESSION_SECONDS || stopped_too_late {
            stats.absurd_duration += 1;
        }
        let (play, paused) = (
            clamp_u32(play.min(MAX_SESSION_SECONDS)),
            clamp_u32(paused.min(MAX_SESSION_SECONDS)),
        );
        let stopped_after = self
            .stopped
            .filter(|s| *s >= started && !stopped_too_late)
            .map(|s| clamp_u32(s - started))
            .unwrap_or(play.saturating_add(paused));
        let ip = match self.ip_address.as_deref() {
            Some(raw) => {
                let ip = parse_ip(raw);
                if ip.is_none() {
                    stats.bad_ip += 1;
                }
                ip
            }
            None => None,
        };
        let title = self.full_title.or(self.title).unwrap_or_default();
        Ok(Session {
            row_id: self.row_id.or(self.id).unwrap_or(0),
            user_id,
            started,
            stopped_after,
            play_seconds: play,
            paused_seconds: paused,
            ip,
            machine: strings.intern(self.machine_id.as_deref().unwrap_or("unknown")),
            platform: strings.intern(self.platform.as_deref().unwrap_or("?")),
            player: strings.intern(self.player.as_deref().unwrap_or("?")),
            title: strings.intern(&title),
            relayed: self.relayed.unwrap_or(0) != 0,
            cellular: self.location.as_deref() == Some("cellular"),
        })
    }

    /// The user this row names, for users missing from the users table.
    pub fn user_info(&self) -> Option<UserInfo> {
        let user_id = self.user_id?;
        let username = self.user.clone().unwrap_or_default();
        let name = self.friendly_name.clone().unwrap_or_else(|| username.clone());
        Some(UserInfo {
            user_id,
            name,
            username,
        })
    }
}

#[cfg(test)]
mod tests;
