//! `--web.mask-ips`: reports that can be shown to someone who should not learn where a
//! user lives. An IPv4 address keeps its /16 (`81.1.x.x`), an IPv6 address its /64
//! prefix (what the detector compares anyway). Locations, devices and names are not
//! touched: the flag is about addresses only.
//!
//! Masking happens at the edge (HTML and JSON rendering); detection and `/metrics`
//! never see it, and `/metrics` carries no addresses in the first place.

use std::net::{IpAddr, Ipv6Addr};

use serde_json::Value;

use crate::detect::{network, Network};

/// `ip` with its host part hidden: `81.1.x.x` or `2a02:a440:101:9219::/64`.
pub fn mask_ip(ip: IpAddr) -> String {
    match network::canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, _, _] = v4.octets();
            format!("{a}.{b}.x.x")
        }
        IpAddr::V6(v6) => {
            let prefix = Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX));
            format!("{prefix}/64")
        }
    }
}

/// How addresses are shown: as they are, or masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpView {
    /// Hide the host part of every address.
    pub mask: bool,
}

impl IpView {
    /// The address as the reports show it.
    pub fn ip(self, ip: IpAddr) -> String {
        if self.mask {
            mask_ip(ip)
        } else {
            ip.to_string()
        }
    }

    /// The network of `ip` as the reports show it: `LAN`, the address (masked when
    /// asked), or the IPv6 /64.
    pub fn network(self, ip: IpAddr) -> String {
        let net = Network::of(ip);
        if self.mask && matches!(net, Network::V4(_)) {
            mask_ip(ip)
        } else {
            net.to_string()
        }
    }

    /// A household network as the reports show it (an IPv4 one is one address).
    pub fn household(self, net: Network) -> String {
        match net {
            Network::V4(v4) if self.mask => mask_ip(IpAddr::V4(v4)),
            _ => net.to_string(),
        }
    }

    /// Mask every address in a report JSON document in place: the values of `ip`,
    /// `first_ip`, `second_ip`, `network`, `ips` and `networks`, and the keys of
    /// `ip_locations`.
    /// The walk is by key name, so it covers every shape the reports emit
    /// ([`crate::detect::UserFinding`] and its parts).
    pub fn json(self, v: &mut Value) {
        if !self.mask {
            return;
        }
        mask_value(v);
    }
}

fn mask_string(v: &mut Value) {
    if let Some(ip) = v.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
        *v = Value::String(mask_ip(ip));
    }
}

fn mask_value(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "ip" | "first_ip" | "second_ip" | "network" | "first_network" | "second_network" => {
                        mask_string(value)
                    }
                    "ips" | "networks" => {
                        if let Value::Array(items) = value {
                            items.iter_mut().for_each(mask_string);
                        }
                    }
                    "ip_locations" => {
                        if let Value::Object(locations) = value {
                            let masked = std::mem::take(locations)
                                .into_iter()
                                .map(|(k, l)| match k.parse::<IpAddr>() {
                                    Ok(ip) => (mask_ip(ip), l),
                                    Err(_) => (k, l),
                                })
                                .collect();
                            *locations = masked;
                        }
                    }
                    _ => mask_value(value),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ipv4_keeps_its_slash_16_and_ipv6_its_slash_64() {
        assert_eq!(mask_ip(ip("81.1.2.3")), "81.1.x.x");
        assert_eq!(mask_ip(ip("192.168.1.10")), "192.168.x.x");
        assert_eq!(
            mask_ip(ip("2a02:a440:101:9219:125:248c:d9cc:70b")),
            "2a02:a440:101:9219::/64"
        );
        assert_eq!(mask_ip(ip("::ffff:8.8.4.4")), "8.8.x.x");
    }

    #[test]
    fn an_unmasked_view_shows_addresses_and_networks_as_they_are() {
        let v = IpView { mask: false };
        assert_eq!(v.ip(ip("81.1.2.3")), "81.1.2.3");
        assert_eq!(v.network(ip("81.1.2.3")), "81.1.2.3");
        assert_eq!(v.network(ip("10.0.0.1")), "LAN");
    }

    #[test]
    fn a_masked_view_never_shows_a_whole_address() {
        let v = IpView { mask: true };
        assert_eq!(v.ip(ip("81.1.2.3")), "81.1.x.x");
        assert_eq!(v.network(ip("81.1.2.3")), "81.1.x.x");
        assert_eq!(v.network(ip("10.0.0.1")), "LAN");
        assert_eq!(v.network(ip("2a02::1")), "2a02::/64");
        assert_eq!(v.household(Network::of(ip("73.1.1.1"))), "73.1.x.x");
        assert_eq!(v.household(Network::Lan), "LAN");
    }

    #[test]
    fn json_masking_covers_every_address_field_and_location_keys() {
        let mut doc = json!({
            "user": "81.1.2.3 is not an address field",
            "device_usage": [{"ips": ["81.1.2.3", "10.0.0.7"]}],
            "ip_usage": [{"ip": "82.2.2.2", "network": "82.2.2.2"}, {"ip": "192.168.1.2", "network": "LAN"}],
            "overlaps": [{"first_ip": "81.1.2.3", "second_ip": "2a02::5", "seconds": 60}],
            "timeline": [{"ip": null}],
            "jumps": [{"from": {"ip": "81.1.2.3"}, "to": {"ip": "82.2.2.2"}}],
            "isp_pools": [{"networks": ["73.1.1.1", "2a02:1:2:3::/64"]}],
            "ip_locations": {"82.2.2.2": "London"}
        });
        IpView { mask: true }.json(&mut doc);
        assert_eq!(doc["user"], "81.1.2.3 is not an address field");
        let mut rest = doc.clone();
        rest["user"] = Value::Null;
        let text = rest.to_string();
        for whole in ["81.1.2.3", "82.2.2.2", "10.0.0.7", "192.168.1.2", "2a02::5", "73.1.1.1"] {
            assert!(!text.contains(whole), "{whole} in {text}");
        }
        assert_eq!(doc["device_usage"][0]["ips"][0], "81.1.x.x");
        assert_eq!(doc["ip_usage"][1]["network"], "LAN");
        assert_eq!(doc["overlaps"][0]["second_ip"], "2a02::/64");
        assert_eq!(doc["jumps"][0]["to"]["ip"], "82.2.x.x");
        assert_eq!(doc["ip_locations"]["82.2.x.x"], "London");
        assert_eq!(doc["isp_pools"][0]["networks"], json!(["73.1.x.x", "2a02:1:2:3::/64"]));
        assert!(doc["timeline"][0]["ip"].is_null());
    }
}
