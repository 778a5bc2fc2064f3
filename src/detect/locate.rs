//! Which addresses are worth asking GeoIP about, and how located addresses are named in
//! the reports. Pure: the lookups themselves live in `geo`.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::{network, Places, Session, UserFinding};

/// Public, non-relayed addresses worth locating (each in its canonical form): private,
/// overlay and special-purpose addresses can never be evidence, and a relayed session's
/// address is Plex's relay.
pub fn addresses_to_locate(sessions: &[Session]) -> HashSet<IpAddr> {
    sessions
        .iter()
        .filter(|s| !s.relayed)
        .filter_map(|s| s.ip)
        .filter(|ip| !network::is_private(*ip))
        .map(network::canonical)
        .collect()
}

/// Labels for every address of `findings`, as the reference script showed them with
/// `--geo`: `LAN` for private addresses, the place, or `Unknown`.
pub fn location_labels<F: std::borrow::Borrow<UserFinding>>(
    findings: &[F],
    places: &Places,
) -> HashMap<IpAddr, String> {
    let mut out = HashMap::new();
    for f in findings.iter().map(|f| f.borrow()) {
        for u in &f.ip_usage {
            out.entry(u.ip).or_insert_with(|| {
                if network::is_private(u.ip) {
                    "LAN".to_string()
                } else {
                    places
                        .get(&network::canonical(u.ip))
                        .map(|p| p.label())
                        .unwrap_or_else(|| "Unknown".into())
                }
            });
        }
    }
    out
}
