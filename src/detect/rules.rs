//! The thresholds and weights detection runs with ([`Rules`]), one value per scoring
//! profile, and which addresses can be evidence of sharing at all ([`Trusted`],
//! [`Rules::evidence_network`]).

use std::net::IpAddr;

use super::network::{self, Network};
use super::score::{Scoring, ScoringProfile};
use super::session::{Session, UserInfo};
use super::travel::TravelRules;

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
        self.covers(Some(user), ip)
    }

    /// True when `ip` is trusted for `user`, or for everybody when the user is unknown.
    pub fn covers(&self, user: Option<&UserInfo>, ip: IpAddr) -> bool {
        let ip = network::canonical(ip);
        self.global.iter().any(|n| n.contains(&ip))
            || user.is_some_and(|user| {
                self.per_user
                    .iter()
                    .any(|(who, n)| user.matches(who) && n.contains(&ip))
            })
    }
}

impl Rules {
    /// True when `--ignore-user` names this user.
    pub fn ignores(&self, user: &UserInfo) -> bool {
        self.ignore_users.iter().any(|who| user.matches(who))
    }
}

/// Plays above which a device is heavy, in both profiles (and `--heavy-device-plays`).
pub const HEAVY_DEVICE_PLAYS: u32 = 5;
/// Plays from which a network is regularly used, in both profiles (and
/// `--regular-network-plays`).
pub const REGULAR_NETWORK_PLAYS: u32 = 3;

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
    /// An overlap whose sides GeoIP places within `travel.min_distance_km` of each other
    /// is nearby (one home on two address families, or a neighbour), not a concurrent
    /// session: counted apart and scored by its own weight.
    pub nearby_overlaps_are_apart: bool,
    /// A network with at least this many plays is one the user "regularly" uses.
    pub regular_network_plays: u32,
    /// An IPv4 address and an IPv6 /64 used by one device within a day are one household.
    pub dual_stack_is_one_household: bool,
    /// Devices that play mostly from the same household are one household even when one
    /// of them is elsewhere (cellular, VPN, hotel): their overlaps are not evidence.
    pub devices_at_home_are_one_household: bool,
    /// Two networks of one operator and country that a device keeps switching between
    /// impossibly fast are one home (an ISP pool GeoIP splits): see [`super::pool`].
    pub isp_pools_are_one_home: bool,
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
                heavy_device_plays: HEAVY_DEVICE_PLAYS,
                pause_allowance_seconds: 0,
                min_overlap_seconds: 0,
                nearby_cellular_is_household: false,
                nearby_overlaps_are_apart: false,
                regular_network_plays: REGULAR_NETWORK_PLAYS,
                dual_stack_is_one_household: false,
                devices_at_home_are_one_household: false,
                isp_pools_are_one_home: false,
                travel: TravelRules {
                    same_device_counts: true,
                    cellular_is_a_region: false,
                    ..TravelRules::default()
                },
                scoring,
                min_score: 20.0,
                concurrent_only: false,
                trusted: Trusted::default(),
                ignore_users: Vec::new(),
            },
            ScoringProfile::Evidence => Rules {
                heavy_device_plays: HEAVY_DEVICE_PLAYS,
                pause_allowance_seconds: 600,
                min_overlap_seconds: 120,
                nearby_cellular_is_household: true,
                nearby_overlaps_are_apart: true,
                regular_network_plays: REGULAR_NETWORK_PLAYS,
                dual_stack_is_one_household: true,
                devices_at_home_are_one_household: true,
                isp_pools_are_one_home: true,
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
