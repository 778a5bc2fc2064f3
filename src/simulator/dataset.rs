//! What the simulated server holds ([`Dataset`]) and the builders for its rows in
//! Tautulli's own shapes ([`SessionSpec`], [`user_row`], [`geo_row`]), plus the
//! per-row keys the history filters use.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::{json, Value};

/// One playback to put in the simulated history (the fields detection reads; the
/// rest of Tautulli's row is filled with plausible values).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSpec {
    /// History row id.
    pub row_id: i64,
    /// Plex user id.
    pub user_id: i64,
    /// Username.
    pub user: String,
    /// Display name.
    pub friendly_name: String,
    /// Start, epoch seconds.
    pub started: i64,
    /// Seconds played.
    pub play: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Device id.
    pub machine_id: String,
    /// Platform.
    pub platform: String,
    /// Player name.
    pub player: String,
    /// Client address.
    pub ip: String,
    /// Title played.
    pub title: String,
    /// Through Plex's relay.
    pub relayed: bool,
    /// On a cellular network (`location: cellular`).
    pub cellular: bool,
}

impl SessionSpec {
    /// The row exactly as Tautulli's `get_history` (grouping=0) returns it.
    pub fn to_row(&self) -> Value {
        let stopped = self.started + self.play + self.paused;
        let location = if self.cellular {
            "cellular"
        } else if crate::detect::network::is_private(self.ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))) {
            "lan"
        } else {
            "wan"
        };
        json!({
            "reference_id": self.row_id, "row_id": self.row_id, "id": self.row_id,
            "date": self.started, "started": self.started, "stopped": stopped,
            "duration": self.play, "play_duration": self.play, "paused_counter": self.paused,
            "user_id": self.user_id, "user": self.user, "friendly_name": self.friendly_name,
            "user_thumb": "", "platform": self.platform, "product": format!("Plex for {}", self.platform),
            "player": self.player, "ip_address": self.ip, "live": 0, "machine_id": self.machine_id,
            "location": location, "secure": 1, "relayed": i64::from(self.relayed),
            "media_type": "episode", "rating_key": 5000 + self.row_id % 97,
            "parent_rating_key": 4000, "grandparent_rating_key": 3000,
            "full_title": self.title, "title": self.title, "parent_title": "Season 1",
            "grandparent_title": "", "original_title": "", "year": 2019, "media_index": 1,
            "parent_media_index": 1, "thumb": "", "originally_available_at": "2019-01-01",
            "guid": "plex://episode/0", "transcode_decision": "direct play",
            "percent_complete": 97, "watched_status": 1, "group_count": 1,
            "group_ids": self.row_id.to_string(), "state": null, "session_key": null
        })
    }
}

/// What the simulated server holds.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// `get_users_table` rows.
    pub users: Vec<Value>,
    /// Ungrouped history rows (any order).
    pub history: Vec<Value>,
    /// `get_geoip_lookup` data by address.
    pub geo: HashMap<String, Value>,
    /// `get_activity` sessions.
    pub activity: Vec<Value>,
}

impl Dataset {
    /// Move every history row's `started`, `stopped` and `date` by `seconds` (a zero,
    /// Tautulli's "not set", stays): a dataset made at one time, served at another.
    pub fn shift_history(&mut self, seconds: i64) {
        for row in &mut self.history {
            for key in ["started", "stopped", "date"] {
                if let Some(t) = row.get(key).and_then(Value::as_i64).filter(|t| *t != 0) {
                    row[key] = (t + seconds).into();
                }
            }
        }
    }
}

/// A user row as `get_users_table` returns it.
pub fn user_row(user_id: i64, username: &str, friendly_name: &str) -> Value {
    json!({
        "row_id": user_id, "user_id": user_id, "username": username, "friendly_name": friendly_name,
        "title": username, "email": format!("{username}@example.com"), "user_thumb": "",
        "plays": 0, "duration": 0, "last_seen": null, "last_played": null, "history_row_id": null,
        "ip_address": null, "platform": null, "player": null, "do_notify": 1, "keep_history": 1,
        "allow_guest": 0, "is_active": 1
    })
}

/// A `get_geoip_lookup` answer.
pub fn geo_row(city: &str, region: &str, country: &str, code: &str, lat: f64, lon: f64) -> Value {
    json!({
        "city": city, "code": code, "continent": null, "country": country, "latitude": lat,
        "longitude": lon, "postal_code": null, "region": region, "timezone": null, "accuracy": null
    })
}

#[derive(Default)]
pub(super) struct Indexed {
    pub(super) dataset: Dataset,
    /// Per history row: (started, server-local date, user_id as text).
    pub(super) keys: Vec<(i64, String, String)>,
}

impl Indexed {
    pub(super) fn new(dataset: Dataset, tz: &TimeZone) -> Indexed {
        let keys = dataset
            .history
            .iter()
            .map(|r| {
                let started = r.get("started").and_then(Value::as_i64).unwrap_or(0);
                let date = Timestamp::from_second(started)
                    .map(|t| t.to_zoned(tz.clone()).date().to_string())
                    .unwrap_or_default();
                let uid = match r.get("user_id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => String::new(),
                };
                (started, date, uid)
            })
            .collect();
        Indexed { dataset, keys }
    }
}
