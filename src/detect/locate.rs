//! Which addresses are worth asking GeoIP about, and how located addresses are named in
//! the reports. Pure: the lookups themselves live in `geo`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::{network, Places, Session, Trusted, UserFinding, UserInfo};

/// Public, non-relayed, untrusted addresses worth locating (each in its canonical form):
/// private, overlay and special-purpose addresses can never be evidence, a relayed
/// session's address is Plex's relay, and a trusted network (for everybody, or for the
/// session's user in `users`) is never evidence either, so none of them costs a lookup.
pub fn addresses_to_locate(
    sessions: &[Session],
    users: &BTreeMap<i64, UserInfo>,
    trusted: &Trusted,
) -> HashSet<IpAddr> {
    sessions
        .iter()
        .filter(|s| !s.relayed)
        .filter_map(|s| s.ip.map(|ip| (s.user_id, ip)))
        .filter(|(_, ip)| !network::is_private(*ip))
        .filter(|(user_id, ip)| match users.get(user_id) {
            Some(user) => !trusted.contains(user, *ip),
            None => !trusted.global.iter().any(|n| n.contains(&network::canonical(*ip))),
        })
        .map(|(_, ip)| network::canonical(ip))
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
