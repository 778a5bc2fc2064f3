//! What detection concludes about one user ([`UserFinding`]) and the evidence it keeps:
//! the overlapping sessions ([`TimelineEntry`]), every session as a compact [`Span`] for
//! the timeline picture, and the caps on how much evidence is kept.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::concurrency::Overlap;
use super::devices::{DeviceUsage, IpUsage};
use super::pool::IspPool;
use super::score::ScoreTerm;
#[cfg(doc)]
use super::session::Session;
use super::travel::Jump;

/// Most overlapping pairs kept as evidence per user (the count is always exact).
pub const MAX_OVERLAPS: usize = 200;
/// Most timeline sessions kept as evidence per user.
pub const MAX_TIMELINE: usize = 300;
/// Most jumps kept as evidence per user (the count is always exact).
pub const MAX_JUMPS: usize = 50;

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
    /// Pairs that would be concurrent sessions but GeoIP places both sides within
    /// `min_distance_km` of each other (see [`Overlap::nearby`]).
    pub nearby_concurrent_sessions: usize,
    /// Distinct device pairs among those overlaps.
    pub concurrent_device_pairs: usize,
    /// Distinct impossible-travel jumps.
    pub teleportations: usize,
    /// Distinct jumps between two sessions of one device, counted apart from
    /// teleportations (a VPN or proxy, most likely); 0 when the rules count them as
    /// teleportations (the reference profile).
    pub same_device_jumps: usize,
    /// Per-device usage, most watched first.
    pub device_usage: Vec<DeviceUsage>,
    /// Per-address usage, most watched first.
    pub ip_usage: Vec<IpUsage>,
    /// The overlapping session pairs (evidence for `concurrent_sessions` and
    /// `nearby_concurrent_sessions`).
    pub overlaps: Vec<Overlap>,
    /// Sessions that take part in an overlap, chronological.
    pub timeline: Vec<TimelineEntry>,
    /// The jumps: evidence for `teleportations`, and for `same_device_jumps` (those
    /// marked `same_device`), each list capped at [`MAX_JUMPS`].
    pub jumps: Vec<Jump>,
    /// Networks of one ISP pool that GeoIP places apart and detection treats as one home
    /// (the reason their overlaps and jumps are not evidence), at most
    /// [`super::pool::MAX_POOLS`].
    pub isp_pools: Vec<IspPool>,
    /// Every session, chronological, for the timeline picture. Left out of the `report`
    /// JSON (it would repeat the whole history); the per-user web API adds it.
    #[serde(skip)]
    pub spans: Vec<Span>,
}

impl UserFinding {
    /// The history rows its evidence names (overlaps, timeline, jumps), sorted, once each.
    pub fn evidence_rows(&self) -> Vec<i64> {
        let mut rows: Vec<i64> = self
            .overlaps
            .iter()
            .flat_map(|o| [o.first_row_id, o.second_row_id])
            .collect();
        rows.extend(self.timeline.iter().map(|e| e.row_id));
        rows.extend(self.jumps.iter().flat_map(|j| [j.from.row_id, j.to.row_id]));
        rows.sort_unstable();
        rows.dedup();
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
