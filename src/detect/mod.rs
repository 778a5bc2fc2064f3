//! Detection: pure functions from plain history data to findings.
//!
//! Nothing here does I/O, awaits, or reads the clock: the caller hands in sessions,
//! places (already located) and rules, and gets [`UserFinding`]s back. That keeps every
//! rule a unit test with hand-computed numbers.
//!
//! - [`network`]: which household an address belongs to.
//! - [`devices`]: per-device and per-address usage.
//! - [`household`]: which household each session counts as.
//! - [`concurrency`]: streams from different devices *and* networks at the same time.
//! - [`travel`]: impossible travel ("teleportation") between located sessions.
//! - [`score`]: the suspicion score and its explanation.
//! - [`ranking`]: the order of findings, most suspicious first.

pub mod concurrency;
pub mod devices;
pub mod household;
pub mod incremental;
pub mod network;
pub mod ranking;
pub mod score;
pub mod travel;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

pub use concurrency::Overlap;
pub use devices::{DeviceUsage, IpUsage};
pub use network::Network;
pub use score::{ScoreTerm, Scoring, ScoringProfile, Weights};
pub use travel::{Jump, JumpEnd, TravelRules};

/// Most overlapping pairs kept as evidence per user (the count is always exact).
pub const MAX_OVERLAPS: usize = 200;
/// Most timeline sessions kept as evidence per user.
pub const MAX_TIMELINE: usize = 300;
/// Most jumps kept as evidence per user (the count is always exact).
pub const MAX_JUMPS: usize = 50;

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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

impl Place {
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
}

/// Located public addresses. Private addresses are never in it.
pub type Places = HashMap<IpAddr, Place>;

/// Addresses that are never evidence of sharing: globally (a VPN range, the server
/// owner's other sites) or for one user (their office, a second home).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trusted {
    /// Trusted for everybody.
    pub global: Vec<ipnet::IpNet>,
    /// Trusted for one user: (user id, username or display name; case-insensitive), network.
    pub per_user: Vec<(String, ipnet::IpNet)>,
}

impl Trusted {
    /// True when `ip` is trusted for `user`.
    pub fn contains(&self, user: &UserInfo, ip: IpAddr) -> bool {
        let ip = network::canonical(ip);
        self.global.iter().any(|n| n.contains(&ip))
            || self
                .per_user
                .iter()
                .any(|(who, n)| user.matches(who) && n.contains(&ip))
    }
}

impl Rules {
    /// True when `--ignore-user` names this user.
    pub fn ignores(&self, user: &UserInfo) -> bool {
        self.ignore_users.iter().any(|who| user.matches(who))
    }
}

impl UserInfo {
    /// True when `who` is this user's id, username or display name (case-insensitive).
    pub fn matches(&self, who: &str) -> bool {
        let who = who.trim();
        who == self.user_id.to_string()
            || (!self.username.is_empty() && who.eq_ignore_ascii_case(&self.username))
            || who.to_lowercase() == self.name.to_lowercase()
    }
}

/// All thresholds and weights detection uses; one value passed everywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// A device with more than this many plays is "heavy".
    pub heavy_device_plays: u32,
    /// Seconds of pause that still count as watching (see [`Session::effective_end`]).
    pub pause_allowance_seconds: u32,
    /// Two sessions must overlap at least this long to be concurrent (and always > 0 s).
    pub min_overlap_seconds: u32,
    /// A cellular session overlapping one located within `travel.min_distance_km` of it
    /// is a household member out and about, not another household.
    pub nearby_cellular_is_household: bool,
    /// A network with at least this many plays is one the user "regularly" uses.
    pub regular_network_plays: u32,
    /// An IPv4 address and an IPv6 /64 used by one device within a day are one household.
    pub dual_stack_is_one_household: bool,
    /// Devices that play mostly from the same household are one household even when one
    /// of them is elsewhere (cellular, VPN, hotel): their overlaps are not evidence.
    pub devices_at_home_are_one_household: bool,
    /// Impossible-travel thresholds.
    pub travel: TravelRules,
    /// The score formula.
    pub scoring: Scoring,
    /// Users at or above this score are flagged.
    pub min_score: f64,
    /// Only flag users that have at least one concurrent session.
    pub concurrent_only: bool,
    /// Addresses that are never evidence.
    pub trusted: Trusted,
    /// Users not analysed at all (id, username or display name).
    pub ignore_users: Vec<String>,
}

impl Rules {
    /// The rules of a scoring profile: its weights and the thresholds that go with them.
    /// `Reference` reproduces the reference script's numbers; `Evidence` flags only
    /// evidence of sharing.
    pub fn for_profile(profile: ScoringProfile) -> Rules {
        let scoring = Scoring::from_profile(profile);
        match profile {
            ScoringProfile::Reference => Rules {
                heavy_device_plays: 5,
                pause_allowance_seconds: 0,
                min_overlap_seconds: 0,
                nearby_cellular_is_household: false,
                regular_network_plays: 3,
                dual_stack_is_one_household: false,
                devices_at_home_are_one_household: false,
                travel: TravelRules {
                    same_device_counts: true,
                    ..TravelRules::default()
                },
                scoring,
                min_score: 20.0,
                concurrent_only: false,
                trusted: Trusted::default(),
                ignore_users: Vec::new(),
            },
            ScoringProfile::Evidence => Rules {
                heavy_device_plays: 5,
                pause_allowance_seconds: 600,
                min_overlap_seconds: 120,
                nearby_cellular_is_household: true,
                regular_network_plays: 3,
                dual_stack_is_one_household: true,
                devices_at_home_are_one_household: true,
                travel: TravelRules::default(),
                scoring,
                min_score: 30.0,
                concurrent_only: false,
                trusted: Trusted::default(),
                ignore_users: Vec::new(),
            },
        }
    }

    /// The network a session counts as for evidence, or `None` when it cannot be
    /// evidence: no address, relayed through Plex, trusted, or an address that says
    /// nothing about where the device is (an overlay VPN or carrier-grade NAT in
    /// 100.64.0.0/10, or special-purpose space no client really has).
    pub fn evidence_network(&self, user: &UserInfo, s: &Session) -> Option<Network> {
        let ip = s.ip?;
        if s.relayed || self.trusted.contains(user, ip) {
            return None;
        }
        match network::kind(ip) {
            network::AddressKind::Overlay | network::AddressKind::Special(_) => None,
            network::AddressKind::Public | network::AddressKind::Local => Some(Network::of(ip)),
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::for_profile(ScoringProfile::Evidence)
    }
}

/// One session that takes part in a cross-network overlap, for the timeline report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// History row id.
    pub row_id: i64,
    /// Start, epoch seconds.
    pub started: i64,
    /// Effective end, epoch seconds.
    pub ended: i64,
    /// Seconds played.
    pub play_seconds: u32,
    /// Device id.
    pub machine_id: Arc<str>,
    /// Device platform.
    pub platform: Arc<str>,
    /// Player name.
    pub player: Arc<str>,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// What was playing.
    pub title: Arc<str>,
}

/// One session reduced to what the timeline picture needs: 20 bytes, so a snapshot of
/// a million sessions keeps them in 19 MiB (the full [`TimelineEntry`] is kept only for
/// sessions that overlap). Serialized as
/// `{"started", "ended", "device", "ip", "concurrent"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(4))]
pub struct Span {
    started: i64,
    length: u32,
    /// Device index, with [`Span::CONCURRENT`] set when the session overlaps.
    device: u32,
    /// Address index, `u32::MAX` when unknown.
    ip: u32,
}

impl Span {
    const CONCURRENT: u32 = 1 << 31;

    /// A span of `[started, ended]` on device `device` from address `ip` (indices into the
    /// finding's `device_usage` and `ip_usage`). Indices past 2^31 and lengths past
    /// 136 years are clamped.
    pub fn new(started: i64, ended: i64, device: u32, ip: Option<u32>, concurrent: bool) -> Span {
        let length = u32::try_from(ended.saturating_sub(started).max(0)).unwrap_or(u32::MAX);
        let device = device.min(Self::CONCURRENT - 1) | if concurrent { Self::CONCURRENT } else { 0 };
        Span {
            started,
            length,
            device,
            ip: ip.unwrap_or(u32::MAX),
        }
    }

    /// Start, epoch seconds.
    pub fn started(&self) -> i64 {
        self.started
    }

    /// Effective end, epoch seconds (see [`Session::effective_end`]).
    pub fn ended(&self) -> i64 {
        self.started.saturating_add(i64::from(self.length))
    }

    /// Index of the device in [`UserFinding::device_usage`].
    pub fn device(&self) -> u32 {
        self.device & !Self::CONCURRENT
    }

    /// Index of the address in [`UserFinding::ip_usage`]; `None` when it was unknown.
    pub fn ip(&self) -> Option<u32> {
        let ip = self.ip;
        (ip != u32::MAX).then_some(ip)
    }

    /// The session takes part in a cross-network overlap (it is in the timeline).
    pub fn concurrent(&self) -> bool {
        self.device & Self::CONCURRENT != 0
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = serializer.serialize_struct("Span", 5)?;
        st.serialize_field("started", &self.started())?;
        st.serialize_field("ended", &self.ended())?;
        st.serialize_field("device", &self.device())?;
        st.serialize_field("ip", &self.ip())?;
        st.serialize_field("concurrent", &self.concurrent())?;
        st.end()
    }
}

/// Everything detection concluded about one user, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct UserFinding {
    /// Plex user id.
    pub user_id: i64,
    /// Display name.
    pub user: String,
    /// Plex username.
    pub username: String,
    /// Suspicion score.
    pub score: f64,
    /// Score at or above the threshold (and, with `concurrent_only`, concurrent sessions seen).
    pub flagged: bool,
    /// Each term of the score: what was counted, its weight, its points.
    pub score_terms: Vec<ScoreTerm>,
    /// Distinct devices.
    pub devices: usize,
    /// Devices with more than `heavy_device_plays` plays.
    pub heavy_devices: usize,
    /// Sessions in the window.
    pub plays: u64,
    /// Seconds played in the window.
    pub watch_time_seconds: u64,
    /// Distinct networks (LAN counts once).
    pub networks: usize,
    /// Networks with at least `regular_network_plays` plays.
    pub regular_networks: usize,
    /// Pairs of sessions from different devices and networks that overlap.
    pub concurrent_sessions: usize,
    /// Distinct device pairs among those overlaps.
    pub concurrent_device_pairs: usize,
    /// Distinct impossible-travel jumps.
    pub teleportations: usize,
    /// Per-device usage, most watched first.
    pub device_usage: Vec<DeviceUsage>,
    /// Per-address usage, most watched first.
    pub ip_usage: Vec<IpUsage>,
    /// The overlapping session pairs (evidence for `concurrent_sessions`).
    pub overlaps: Vec<Overlap>,
    /// Sessions that take part in an overlap, chronological.
    pub timeline: Vec<TimelineEntry>,
    /// The jumps (evidence for `teleportations`).
    pub jumps: Vec<Jump>,
    /// Every session, chronological, for the timeline picture. Left out of the `report`
    /// JSON (it would repeat the whole history); the per-user web API adds it.
    #[serde(skip)]
    pub spans: Vec<Span>,
}

/// Analyse every user that has sessions. `sessions` may be in any order.
/// Users missing from `users` are named by their id.
pub fn analyze_all(
    sessions: &[Session],
    users: &BTreeMap<i64, UserInfo>,
    strings: &Strings,
    places: &Places,
    rules: &Rules,
) -> Vec<UserFinding> {
    let mut findings = Vec::new();
    for_each_user(sessions, users, rules, |info, mine| {
        findings.push(analyze_user(&info, mine, strings, places, rules));
    });
    findings
}

/// Call `f` with each user to analyse and their sessions sorted by start: `sessions`
/// (in any order) grouped by user, named from `users` (or by their id when the table
/// lacks them), leaving out the users `rules` ignores.
pub fn for_each_user<'s>(
    sessions: &'s [Session],
    users: &BTreeMap<i64, UserInfo>,
    rules: &Rules,
    mut f: impl FnMut(UserInfo, &[&'s Session]),
) {
    let mut order: Vec<&Session> = sessions.iter().collect();
    order.sort_unstable_by_key(|s| (s.user_id, s.started, s.row_id));
    for mine in order.chunk_by(|a, b| a.user_id == b.user_id) {
        let user_id = mine[0].user_id;
        let info = users.get(&user_id).cloned().unwrap_or_else(|| UserInfo {
            user_id,
            name: user_id.to_string(),
            username: String::new(),
        });
        if !rules.ignores(&info) {
            f(info, mine);
        }
    }
}

/// Analyse one user's sessions, which must be sorted by `started`.
pub fn analyze_user(
    user: &UserInfo,
    sessions: &[&Session],
    strings: &Strings,
    places: &Places,
    rules: &Rules,
) -> UserFinding {
    let usage = devices::usage(sessions, strings, rules.heavy_device_plays);
    let homes = household::households(user, sessions, rules);
    let concurrency::Concurrency {
        overlaps,
        overlap_count,
        involved,
        device_pairs: concurrent_device_pairs,
        timeline,
    } = concurrency::find(
        sessions,
        &concurrency::OverlapRules {
            pause_allowance: rules.pause_allowance_seconds,
            min_overlap: rules.min_overlap_seconds,
            households: &homes,
            same_home_is_household: rules.devices_at_home_are_one_household,
            nearby_cellular_km: rules
                .nearby_cellular_is_household
                .then_some(rules.travel.min_distance_km),
            places,
        },
        strings,
    );
    let jumps = travel::find_jumps(
        sessions,
        &homes.network,
        rules.devices_at_home_are_one_household.then_some(&homes),
        places,
        strings,
        rules.pause_allowance_seconds,
        &rules.travel,
    );
    let travel::Jumps {
        count: jump_count,
        first: jumps,
    } = jumps;
    let counts = score::Counts {
        devices: usage.devices.len(),
        heavy_devices: usage.heavy_devices,
        concurrent_sessions: overlap_count,
        concurrent_device_pairs,
        teleportations: jump_count,
        networks: usage.networks,
        regular_networks: homes.regular(sessions, rules.regular_network_plays),
    };
    let spans = spans(sessions, strings, &usage, &involved, rules.pause_allowance_seconds);
    let score_terms = rules.scoring.terms(&counts);
    let score = score_terms.iter().map(|t| t.points).sum::<f64>();
    let flagged = score >= rules.min_score && (!rules.concurrent_only || !overlaps.is_empty());
    UserFinding {
        user_id: user.user_id,
        user: user.name.clone(),
        username: user.username.clone(),
        score,
        flagged,
        score_terms,
        devices: usage.devices.len(),
        heavy_devices: usage.heavy_devices,
        plays: usage.plays,
        watch_time_seconds: usage.watch_time_seconds,
        networks: usage.networks,
        regular_networks: counts.regular_networks,
        concurrent_sessions: overlap_count,
        concurrent_device_pairs,
        teleportations: jump_count,
        device_usage: usage.devices,
        ip_usage: usage.ips,
        overlaps,
        timeline,
        jumps,
        spans,
    }
}

/// Every session as a [`Span`], indexing the devices and addresses of `usage`.
fn spans(
    sessions: &[&Session],
    strings: &Strings,
    usage: &devices::Usage,
    involved: &[bool],
    pause_allowance: u32,
) -> Vec<Span> {
    let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    let devices: HashMap<&str, u32> = usage
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| (d.machine_id.as_str(), index(i)))
        .collect();
    let ips: HashMap<IpAddr, u32> = usage.ips.iter().enumerate().map(|(i, u)| (u.ip, index(i))).collect();
    sessions
        .iter()
        .zip(involved)
        .map(|(s, hit)| {
            Span::new(
                s.started,
                s.effective_end(pause_allowance).max(s.started),
                devices.get(strings.get(s.machine)).copied().unwrap_or(u32::MAX),
                s.ip.and_then(|ip| ips.get(&ip).copied()),
                *hit,
            )
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testing {
    //! Small builders for hand-written test histories.
    use super::*;

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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
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
    fn analyze_all_groups_by_user_in_any_input_order() {
        let mut b = Builder::default();
        b.add(2, "phone", "8.8.8.8", 5000, 100);
        b.add(1, "tv", "1.1.1.1", 1000, 100);
        b.add(2, "tv2", "9.9.9.9", 4000, 100);
        let users = BTreeMap::from([(
            2,
            UserInfo {
                user_id: 2,
                name: "Two".into(),
                username: "two".into(),
            },
        )]);
        let f = analyze_all(&b.sessions, &users, &b.strings, &Places::new(), &Rules::default());
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].user_id, f[0].user.as_str(), f[0].plays), (1, "1", 1));
        assert_eq!(
            (f[1].user_id, f[1].user.as_str(), f[1].plays, f[1].devices),
            (2, "Two", 2, 2)
        );
    }

    #[test]
    fn spans_index_devices_and_addresses_and_mark_overlapping_sessions() {
        let mut b = Builder::default();
        b.add(1, "tv", "81.1.1.1", 1000, 3600); // overlaps the phone
        b.add(1, "phone", "92.2.2.2", 2000, 600);
        b.add(1, "tv", "81.1.1.1", 90_000, 7200); // alone
        b.add(1, "tablet", "", 200_000, 60); // no address
        let info = UserInfo {
            user_id: 1,
            name: "One".into(),
            username: String::new(),
        };
        let f = analyze_user(&info, &b.sorted(), &b.strings, &Places::new(), &Rules::default());
        assert_eq!(f.spans.len(), 4);
        let device = |s: &Span| f.device_usage[s.device() as usize].machine_id.as_str();
        let ip = |s: &Span| s.ip().map(|i| f.ip_usage[i as usize].ip.to_string());
        assert_eq!(
            f.spans
                .iter()
                .map(|s| (s.started(), s.ended(), device(s), ip(s), s.concurrent()))
                .collect::<Vec<_>>(),
            vec![
                (1000, 4600, "tv", Some("81.1.1.1".into()), true),
                (2000, 2600, "phone", Some("92.2.2.2".into()), true),
                (90_000, 97_200, "tv", Some("81.1.1.1".into()), false),
                (200_000, 200_060, "tablet", None, false),
            ]
        );
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
    fn a_span_is_20_bytes_and_round_trips_its_fields() {
        assert_eq!(std::mem::size_of::<Span>(), 20);
        let s = Span::new(1_800_000_000, 1_800_003_600, 7, Some(3), true);
        assert_eq!(
            (s.started(), s.ended(), s.device(), s.ip(), s.concurrent()),
            (1_800_000_000, 1_800_003_600, 7, Some(3), true)
        );
        let s = Span::new(-5, -10, u32::MAX, None, false);
        assert_eq!(
            (s.started(), s.ended(), s.device(), s.ip(), s.concurrent()),
            (-5, -5, (1 << 31) - 1, None, false)
        );
        assert_eq!(
            serde_json::to_value(Span::new(100, 160, 1, None, true)).unwrap(),
            serde_json::json!({"started": 100, "ended": 160, "device": 1, "ip": null, "concurrent": true})
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
