//! Which addresses are worth asking GeoIP about, and how located addresses are named in
//! the reports. Pure: the lookups themselves live in `geo`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::{network, Places, Session, Trusted, UserFinding, UserInfo};

/// Public, non-relayed, untrusted addresses worth locating (each in its canonical form),
/// as [`worth_locating`] chooses them.
pub fn addresses_to_locate(
    sessions: &[Session],
    users: &BTreeMap<i64, UserInfo>,
    trusted: &Trusted,
) -> HashSet<IpAddr> {
    sessions
        .iter()
        .filter_map(|s| worth_locating(s.ip?, s.relayed, users.get(&s.user_id), trusted))
        .collect()
}

/// `ip` in its canonical form when it is worth asking GeoIP about: private, overlay and
/// special-purpose addresses can never be evidence, a relayed session's address is Plex's
/// relay, and a trusted network (for everybody, or for `user`) is never evidence either,
/// so none of them costs a lookup.
pub fn worth_locating(ip: IpAddr, relayed: bool, user: Option<&UserInfo>, trusted: &Trusted) -> Option<IpAddr> {
    let ip = network::canonical(ip);
    (!relayed && !network::is_private(ip) && !trusted.covers(user, ip)).then_some(ip)
}

/// The labels (from [`location_labels`]) of `finding`'s addresses, keyed by the address
/// as text: the `ip_locations` of every JSON document.
pub fn ip_locations(finding: &UserFinding, labels: &HashMap<IpAddr, String>) -> BTreeMap<String, String> {
    finding
        .ip_usage
        .iter()
        .filter_map(|u| labels.get(&u.ip).map(|l| (u.ip.to_string(), l.clone())))
        .collect()
}

/// Labels for every address of `findings`, as the reference script showed them with
/// `--geo`: `LAN` for private addresses, the place (with its network operator when an
/// ASN database names it), or `Unknown`.
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
                        .map(|p| p.label_with_network())
                        .unwrap_or_else(|| "Unknown".into())
                }
            });
        }
    }
    out
}
