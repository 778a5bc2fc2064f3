//! Detection: pure functions from plain history data to findings.
//!
//! Nothing here does I/O, awaits, or reads the clock: the caller hands in sessions,
//! places (already located) and rules, and gets [`UserFinding`]s back. That keeps every
//! rule a unit test with hand-computed numbers.
//!
//! - [`session`]: what detection reads: sessions, interned strings, users, places.
//! - [`rules`]: thresholds and weights per profile, and which addresses are evidence.
//! - [`finding`]: a user's finding, its evidence and the caps on it.
//! - [`analyze`]: the driver running every rule over each user's sessions.
//! - [`incremental`]: re-analysing only the users whose sessions changed.
//! - [`network`]: which household an address belongs to.
//! - [`devices`]: per-device and per-address usage.
//! - [`pool`]: ISP address pools GeoIP splits between cities (one home, not travel).
//! - [`household`]: which household each session counts as.
//! - [`concurrency`]: streams from different devices *and* networks at the same time.
//! - [`travel`]: impossible travel ("teleportation") between located sessions.
//! - [`score`]: the suspicion score and its explanation.
//! - [`locate`]: which addresses to ask GeoIP about, and their labels.
//! - [`ranking`]: the order of findings, most suspicious first.
//! - [`accounts`]: one account's sessions on several servers, analysed together.

pub mod accounts;
pub mod concurrency;
pub mod devices;
pub mod household;
pub mod incremental;
pub mod locate;
pub mod network;
pub mod pool;
pub mod ranking;
pub mod score;
pub mod travel;

pub mod analyze;
pub mod finding;
pub mod rules;
pub mod session;

#[cfg(test)]
pub(crate) mod testing;

pub use accounts::{AccountFinding, ServerWindow};
pub use analyze::{analyze_all, analyze_user, for_each_user};
pub use concurrency::{DistanceUnknown, Overlap};
pub use devices::{DeviceUsage, IpUsage};
pub use finding::{Span, TimelineEntry, UserFinding, MAX_JUMPS, MAX_OVERLAPS, MAX_TIMELINE};
pub use network::Network;
pub use pool::IspPool;
pub use rules::{Rules, Trusted};
pub use score::{ScoreTerm, Scoring, ScoringProfile, Weights};
pub use session::{Asn, Place, Places, Session, Strings, Sym, UserInfo};
pub use travel::{Jump, JumpEnd, TravelRules};
