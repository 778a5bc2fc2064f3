//! Sinks for the `report` command: the reference script's three terminal reports
//! ([`text`]) and a JSON document ([`json`]).

pub mod json;
pub mod text;

use std::collections::HashMap;
use std::net::IpAddr;

use jiff::tz::TimeZone;

/// What every report needs besides the findings.
#[derive(Debug, Clone)]
pub struct Context {
    /// Time zone for printed times.
    pub tz: TimeZone,
    /// Location label per address; empty when GeoIP is off (then none is shown).
    pub locations: HashMap<IpAddr, String>,
    /// The detection window, epoch seconds.
    pub window: (i64, i64),
    /// Generation time, epoch seconds.
    pub generated_at: i64,
}
