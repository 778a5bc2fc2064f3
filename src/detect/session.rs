//! What detection reads: one playback ([`Session`]), the interned strings its text
//! fields point into ([`Strings`], [`Sym`]), who the user is ([`UserInfo`]) and where an
//! address is ([`Place`]). Plain data, built by the Tautulli decoder and the tests alike.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::network::Network;

/// An interned string: history repeats the same device ids, platforms and titles
/// millions of times, so sessions store 4-byte handles into [`Strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(u32);

/// The string table behind [`Sym`]. Index 0 is the empty string.
#[derive(Debug, Clone)]
pub struct Strings {
    index: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Default for Strings {
    fn default() -> Self {
        let empty: Arc<str> = Arc::from("");
        Strings {
            index: HashMap::from([(empty.clone(), 0)]),
            names: vec![empty],
        }
    }
}

impl Strings {
    /// The handle for `s`, adding it on first sight.
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&i) = self.index.get(s) {
            return Sym(i);
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let arc: Arc<str> = Arc::from(s);
        self.names.push(arc.clone());
        self.index.insert(arc, i);
        Sym(i)
    }

    /// A shared copy of the string behind `sym`: cloning it allocates nothing.
    pub fn shared(&self, sym: Sym) -> Arc<str> {
        self.names.get(sym.0 as usize).cloned().unwrap_or_else(|| Arc::from(""))
    }

    /// The string behind `sym` ("" for an unknown handle).
    pub fn get(&self, sym: Sym) -> &str {
        self.names.get(sym.0 as usize).map(|s| &**s).unwrap_or("")
    }

    /// Number of distinct strings held.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when only the empty string is held.
    pub fn is_empty(&self) -> bool {
        self.names.len() <= 1
    }
}

/// One playback, as Tautulli recorded it (ungrouped history row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Session {
    /// Tautulli's history row id (unique per server).
    pub row_id: i64,
    /// Plex user id.
    pub user_id: i64,
    /// Start, epoch seconds.
    pub started: i64,
    /// Seconds from the start to the last activity (Tautulli's `stopped - started`, at most
    /// a few days once decoded): 4 bytes instead of an 8-byte time, a million times over.
    pub stopped_after: u32,
    /// Seconds actually played.
    pub play_seconds: u32,
    /// Seconds spent paused.
    pub paused_seconds: u32,
    /// Client address; `None` when Tautulli had none or it did not parse.
    pub ip: Option<IpAddr>,
    /// Plex `machine_id`: the device.
    pub machine: Sym,
    /// Device platform (`iOS`, `Roku`, ...).
    pub platform: Sym,
    /// Player name (`Living Room`, `iPhone`, ...).
    pub player: Sym,
    /// Full title of what was played.
    pub title: Sym,
    /// The stream went through Plex's relay: its address says nothing about location.
    pub relayed: bool,
    /// Tautulli said the client was on a cellular network (`location: cellular`).
    pub cellular: bool,
}

impl Session {
    /// Last activity, epoch seconds (started + play + paused in Tautulli).
    pub fn stopped(&self) -> i64 {
        self.started + i64::from(self.stopped_after)
    }

    /// The network this session came from, if its address is known.
    pub fn network(&self) -> Option<Network> {
        self.ip.map(Network::of)
    }

    /// When the viewer stopped watching, for overlap and travel purposes:
    /// `started + play + min(paused, allowance)`, never past `stopped` when that is known.
    /// Long pauses (an app left open overnight) do not stretch the session; the
    /// reference script used `started + play` (allowance 0).
    pub fn effective_end(&self, pause_allowance: u32) -> i64 {
        if self.play_seconds == 0 {
            return self.stopped();
        }
        let end = self.started + i64::from(self.play_seconds) + i64::from(self.paused_seconds.min(pause_allowance));
        if self.stopped_after > 0 {
            end.min(self.stopped().max(self.started + i64::from(self.play_seconds)))
        } else {
            end
        }
    }
}

/// A Plex user as the detector names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UserInfo {
    /// Plex user id.
    pub user_id: i64,
    /// Display (friendly) name.
    pub name: String,
    /// Plex username.
    pub username: String,
}

/// Where an address is, as GeoIP says.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Place {
    /// City name, if the database knows it (country-level results have none).
    pub city: Option<String>,
    /// Region/state.
    pub region: Option<String>,
    /// Country name.
    pub country: Option<String>,
    /// ISO country code.
    pub country_code: Option<String>,
    /// Latitude, degrees.
    pub latitude: f64,
    /// Longitude, degrees.
    pub longitude: f64,
    /// GeoIP accuracy radius, km, when the database has one.
    pub accuracy_radius_km: Option<f64>,
    /// The network operator announcing the address, when an ASN database is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<Asn>,
}

/// An autonomous system: the network operator (an ISP, a carrier, a VPN host) that
/// announces an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct Asn {
    /// AS number.
    pub number: u32,
    /// Its organisation, as the database names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

impl std::fmt::Display for Asn {
    /// `AS3320 Deutsche Telekom AG`, or `AS3320` without a name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AS{}", self.number)?;
        match self.organization.as_deref().filter(|o| !o.is_empty()) {
            Some(org) => write!(f, " {org}"),
            None => Ok(()),
        }
    }
}

impl Place {
    /// Located to a city on the globe: distances can be measured from it. A
    /// country-level result is the country's centre and says nothing about distance, and
    /// coordinates off the globe are a broken answer (GeoIP rejects them; one that still
    /// got here is treated the same rather than make a distance of any length).
    pub fn is_city_level(&self) -> bool {
        let on_globe = (-90.0..=90.0).contains(&self.latitude) && (-180.0..=180.0).contains(&self.longitude);
        on_globe && self.city.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// "City, Region, Country", skipping what is unknown; "Unknown" when nothing is.
    pub fn label(&self) -> String {
        let parts: Vec<&str> = [&self.city, &self.region, &self.country]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            "Unknown".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// [`Place::label`] followed by the network operator when it is known
    /// (`Berlin, Germany · AS3320 Deutsche Telekom AG`): how an address's place is shown
    /// wherever the address is.
    pub fn label_with_network(&self) -> String {
        match &self.asn {
            Some(asn) => format!("{} · {asn}", self.label()),
            None => self.label(),
        }
    }

    /// Both places are announced by one network operator in one country: what an ISP's
    /// address pool looks like (a big ISP serves a whole country, so this alone never
    /// makes two places one home).
    pub fn same_operator_and_country(&self, other: &Place) -> bool {
        let asn = matches!((&self.asn, &other.asn), (Some(a), Some(b)) if a.number == b.number);
        let country =
            matches!((&self.country_code, &other.country_code), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
        asn && country
    }
}

/// Located public addresses. Private addresses are never in it.
pub type Places = HashMap<IpAddr, Place>;

impl UserInfo {
    /// True when `who` is this user's id, username or display name (case-insensitive).
    pub fn matches(&self, who: &str) -> bool {
        let who = who.trim();
        who == self.user_id.to_string()
            || (!self.username.is_empty() && who.eq_ignore_ascii_case(&self.username))
            || who.to_lowercase() == self.name.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn effective_end_ignores_pauses_beyond_the_allowance() {
        let mut b = Builder::default();
        let s = b.add(1, "tv", "1.1.1.1", 1000, 600);
        s.paused_seconds = 3600;
        s.stopped_after = 600 + 3600;
        let s = *s;
        assert_eq!(s.effective_end(0), 1600);
        assert_eq!(s.effective_end(300), 1900);
        assert_eq!(s.effective_end(10_000), 5200);
    }

    #[test]
    fn effective_end_of_a_session_without_play_time_is_its_stop() {
        let mut b = Builder::default();
        let s = b.add(1, "tv", "1.1.1.1", 1000, 0);
        s.stopped_after = 500;
        assert_eq!(s.effective_end(0), 1500);
    }

    #[test]
    fn a_session_fits_in_72_bytes() {
        // A million of them are the window; each byte here is a MiB of resident memory.
        assert!(
            std::mem::size_of::<Session>() <= 72,
            "{}",
            std::mem::size_of::<Session>()
        );
    }

    #[test]
    fn place_label_skips_unknown_parts() {
        let mut p = place("Chicago", 0.0, 0.0);
        p.country = Some("United States".into());
        assert_eq!(p.label(), "Chicago, United States");
        p.city = None;
        p.country = None;
        assert_eq!(p.label(), "Unknown");
    }
}
