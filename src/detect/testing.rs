//! Small builders for hand-written test histories.

use super::session::{Place, Session, Strings, UserInfo};

/// Builds sessions with interned strings.
#[derive(Default)]
pub struct Builder {
    pub strings: Strings,
    pub sessions: Vec<Session>,
}

impl Builder {
    /// Adds a session: device, address, start, played seconds.
    pub fn add(&mut self, user_id: i64, device: &str, ip: &str, started: i64, play: u32) -> &mut Session {
        let machine = self.strings.intern(device);
        let platform = self.strings.intern(&format!("{device}-platform"));
        let player = self.strings.intern(&format!("{device}-player"));
        let title = self.strings.intern("Some Title");
        let row_id = self.sessions.len() as i64 + 1;
        self.sessions.push(Session {
            row_id,
            user_id,
            started,
            stopped_after: play,
            play_seconds: play,
            paused_seconds: 0,
            ip: ip.parse().ok(),
            machine,
            platform,
            player,
            title,
            relayed: false,
            cellular: false,
        });
        self.sessions.last_mut().expect("just pushed")
    }

    /// Sessions sorted by start, as analyze_user wants them.
    pub fn sorted(&self) -> Vec<&Session> {
        let mut v: Vec<&Session> = self.sessions.iter().collect();
        v.sort_by_key(|s| (s.started, s.row_id));
        v
    }
}

/// User 1, "U".
pub fn user() -> UserInfo {
    UserInfo {
        user_id: 1,
        name: "U".into(),
        username: "u".into(),
    }
}

pub fn place(city: &str, lat: f64, lon: f64) -> Place {
    Place {
        city: Some(city.to_string()),
        region: None,
        country: None,
        country_code: None,
        latitude: lat,
        longitude: lon,
        accuracy_radius_km: None,
        asn: None,
    }
}
