//! Which network an address belongs to.
//!
//! Sharing is about *households*, not addresses: every private, loopback or link-local
//! address is the server owner's LAN (one household), a public IPv6 address is grouped
//! by its /64 (privacy extensions rotate the low 64 bits), and a public IPv4 address is
//! its own network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A household-sized network, the unit that "different networks" compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    /// Any private/LAN address: the server's own household.
    Lan,
    /// One public IPv4 address.
    V4(Ipv4Addr),
    /// A public IPv6 /64 (the upper 64 bits).
    V6(u64),
}

impl Network {
    /// The network of `ip`.
    pub fn of(ip: IpAddr) -> Network {
        match canonical(ip) {
            IpAddr::V4(v4) if is_private_v4(v4) => Network::Lan,
            IpAddr::V4(v4) => Network::V4(v4),
            IpAddr::V6(v6) if is_private_v6(v6) => Network::Lan,
            IpAddr::V6(v6) => Network::V6((u128::from(v6) >> 64) as u64),
        }
    }

    /// True for the LAN household.
    pub fn is_lan(self) -> bool {
        self == Network::Lan
    }
}

impl serde::Serialize for Network {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Network::Lan => f.write_str("LAN"),
            Network::V4(v4) => write!(f, "{v4}"),
            Network::V6(prefix) => {
                let addr = Ipv6Addr::from(u128::from(*prefix) << 64);
                write!(f, "{addr}/64")
            }
        }
    }
}

/// IPv4-mapped and IPv4-compatible IPv6 forms (`::ffff:10.0.0.1`) are the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// True when `ip` is a private/LAN address (never looked up in GeoIP, one household).
pub fn is_private(ip: IpAddr) -> bool {
    Network::of(ip).is_lan()
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Network {
        Network::of(s.parse().expect("test address"))
    }

    #[test]
    fn every_rfc1918_range_is_the_lan_household() {
        for ip in [
            "10.0.0.1",
            "10.255.255.254",
            "172.16.0.1",
            "172.20.5.9",
            "172.31.255.1",
            "192.168.1.104",
            "127.0.0.1",
            "169.254.10.10",
        ] {
            assert_eq!(net(ip), Network::Lan, "{ip}");
        }
    }

    #[test]
    fn addresses_next_to_private_ranges_are_public() {
        assert_eq!(net("172.32.0.1"), Network::V4("172.32.0.1".parse().unwrap()));
        assert_eq!(net("172.15.255.1"), Network::V4("172.15.255.1".parse().unwrap()));
        assert_eq!(net("11.0.0.1"), Network::V4("11.0.0.1".parse().unwrap()));
        assert_eq!(net("192.169.0.1"), Network::V4("192.169.0.1".parse().unwrap()));
    }

    #[test]
    fn ipv6_ula_link_local_and_loopback_are_lan() {
        for ip in ["fd12:3456::1", "fc00::1", "fe80::1ff:fe23:4567:890a", "::1"] {
            assert_eq!(net(ip), Network::Lan, "{ip}");
        }
    }

    #[test]
    fn ipv4_mapped_forms_classify_as_their_ipv4_address() {
        assert_eq!(net("::ffff:192.168.1.5"), Network::Lan);
        assert_eq!(net("::ffff:8.8.8.8"), net("8.8.8.8"));
    }

    #[test]
    fn public_ipv6_is_grouped_by_slash_64() {
        let a = net("2a02:a440:101:9219:125:248c:d9cc:70b");
        let b = net("2a02:a440:101:9219:ffff:1:2:3");
        let c = net("2a02:a440:101:921a::1");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2a02:a440:101:9219::/64");
    }

    #[test]
    fn distinct_public_ipv4_addresses_are_distinct_networks() {
        assert_ne!(net("67.176.117.194"), net("67.176.117.195"));
    }
}
