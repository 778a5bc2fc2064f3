//! Per-device and per-address usage: the reference script's device breakdown and
//! IP report, computed in one pass.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use serde::Serialize;

use super::{Network, Session, Strings, Sym};

/// One device (`machine_id`) of a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceUsage {
    /// Plex machine id.
    pub machine_id: String,
    /// Platform of the device's most recent session.
    pub platform: String,
    /// Player name of the device's most recent session.
    pub player: String,
    /// Sessions on this device.
    pub plays: u64,
    /// Seconds played on this device.
    pub watch_time_seconds: u64,
    /// Addresses it used, sorted.
    pub ips: Vec<IpAddr>,
    /// More than the heavy-device threshold of plays.
    pub heavy: bool,
}

/// One client address of a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpUsage {
    /// The address.
    pub ip: IpAddr,
    /// Its network (`LAN`, the address, or an IPv6 /64).
    pub network: String,
    /// Sessions from it.
    pub plays: u64,
    /// Seconds played from it.
    pub watch_time_seconds: u64,
    /// Platforms seen from it, sorted.
    pub platforms: Vec<String>,
    /// Number of the autonomous system announcing it, when an ASN database knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// That autonomous system's organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_organization: Option<String>,
}

/// The usage summary of one user's sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Devices, most watched first.
    pub devices: Vec<DeviceUsage>,
    /// Addresses, most watched first.
    pub ips: Vec<IpUsage>,
    /// Devices above the heavy threshold.
    pub heavy_devices: usize,
    /// Sessions.
    pub plays: u64,
    /// Seconds played.
    pub watch_time_seconds: u64,
    /// Distinct networks.
    pub networks: usize,
}

#[derive(Default)]
struct DeviceAcc {
    last_started: i64,
    platform: Sym,
    player: Sym,
    plays: u64,
    seconds: u64,
    ips: BTreeSet<IpAddr>,
}

#[derive(Default)]
struct IpAcc {
    plays: u64,
    seconds: u64,
    platforms: BTreeSet<Sym>,
}

/// Name the network operator of each address that GeoIP placed with one (an ASN
/// database is configured).
pub fn name_operators(ips: &mut [IpUsage], places: &super::Places) {
    for u in ips {
        if let Some(asn) = places
            .get(&super::network::canonical(u.ip))
            .and_then(|p| p.asn.as_ref())
        {
            u.asn = Some(asn.number);
            u.as_organization = asn.organization.clone();
        }
    }
}

/// Summarise `sessions` (one user's) by device and by address.
pub fn usage(sessions: &[&Session], strings: &Strings, heavy_device_plays: u32) -> Usage {
    let mut devices: HashMap<Sym, DeviceAcc> = HashMap::new();
    let mut ips: HashMap<IpAddr, IpAcc> = HashMap::new();
    let mut networks: HashSet<Network> = HashSet::new();
    let mut watch = 0u64;
    for s in sessions {
        let secs = u64::from(s.play_seconds);
        watch += secs;
        let d = devices.entry(s.machine).or_default();
        if d.plays == 0 || s.started >= d.last_started {
            d.last_started = s.started;
            d.platform = s.platform;
            d.player = s.player;
        }
        d.plays += 1;
        d.seconds += secs;
        if let Some(ip) = s.ip {
            d.ips.insert(ip);
            networks.insert(Network::of(ip));
            let i = ips.entry(ip).or_default();
            i.plays += 1;
            i.seconds += secs;
            i.platforms.insert(s.platform);
        }
    }
    let mut device_list: Vec<DeviceUsage> = devices
        .into_iter()
        .map(|(machine, d)| DeviceUsage {
            machine_id: strings.get(machine).to_string(),
            platform: strings.get(d.platform).to_string(),
            player: strings.get(d.player).to_string(),
            plays: d.plays,
            watch_time_seconds: d.seconds,
            ips: d.ips.into_iter().collect(),
            heavy: d.plays > u64::from(heavy_device_plays),
        })
        .collect();
    device_list.sort_by(|a, b| {
        b.watch_time_seconds
            .cmp(&a.watch_time_seconds)
            .then_with(|| a.machine_id.cmp(&b.machine_id))
    });
    let mut ip_list: Vec<IpUsage> = ips
        .into_iter()
        .map(|(ip, i)| {
            let mut platforms: Vec<String> = i.platforms.iter().map(|p| strings.get(*p).to_string()).collect();
            platforms.sort();
            platforms.dedup();
            IpUsage {
                ip,
                network: Network::of(ip).to_string(),
                plays: i.plays,
                watch_time_seconds: i.seconds,
                platforms,
                asn: None,
                as_organization: None,
            }
        })
        .collect();
    ip_list.sort_by(|a, b| {
        b.watch_time_seconds
            .cmp(&a.watch_time_seconds)
            .then_with(|| a.ip.cmp(&b.ip))
    });
    Usage {
        heavy_devices: device_list.iter().filter(|d| d.heavy).count(),
        plays: sessions.len() as u64,
        watch_time_seconds: watch,
        networks: networks.len(),
        devices: device_list,
        ips: ip_list,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Builder;
    use super::*;

    #[test]
    fn devices_are_counted_by_machine_id_with_plays_watch_time_and_ips() {
        let mut b = Builder::default();
        for i in 0..6 {
            b.add(1, "tv", "192.168.1.10", 1000 + i * 10_000, 600);
        }
        b.add(1, "phone", "192.168.1.11", 500, 100);
        b.add(1, "phone", "81.2.3.4", 90_000, 200);
        let u = usage(&b.sorted(), &b.strings, 5);
        assert_eq!(u.devices.len(), 2);
        assert_eq!(u.plays, 8);
        assert_eq!(u.watch_time_seconds, 6 * 600 + 300);
        let tv = &u.devices[0];
        assert_eq!(
            (tv.machine_id.as_str(), tv.plays, tv.watch_time_seconds, tv.heavy),
            ("tv", 6, 3600, true)
        );
        let phone = &u.devices[1];
        assert_eq!((phone.plays, phone.heavy), (2, false));
        assert_eq!(phone.ips.len(), 2);
        assert_eq!(u.heavy_devices, 1);
        // Two LAN addresses are one network; the cellular address is another.
        assert_eq!(u.networks, 2);
    }

    #[test]
    fn a_device_with_exactly_five_plays_is_not_heavy() {
        let mut b = Builder::default();
        for i in 0..5 {
            b.add(1, "tv", "1.1.1.1", i * 10_000, 60);
        }
        assert_eq!(usage(&b.sorted(), &b.strings, 5).heavy_devices, 0);
    }

    #[test]
    fn ip_usage_is_sorted_by_watch_time_with_platforms() {
        let mut b = Builder::default();
        b.add(1, "tv", "1.1.1.1", 0, 100);
        b.add(1, "phone", "1.1.1.1", 1000, 100);
        b.add(1, "phone", "2.2.2.2", 5000, 500);
        let u = usage(&b.sorted(), &b.strings, 5);
        assert_eq!(u.ips[0].ip.to_string(), "2.2.2.2");
        assert_eq!(u.ips[1].plays, 2);
        assert_eq!(u.ips[1].platforms, vec!["phone-platform", "tv-platform"]);
    }
}
