//! Which network an address belongs to.
//!
//! Sharing is about *households*, not addresses. Addresses are classified by the IANA
//! IPv4 and IPv6 special-purpose registries ([`kind`]): only globally reachable
//! addresses are households of their own (a public IPv4 address, or a public IPv6 /64,
//! since privacy extensions rotate the low 64 bits). Private, loopback and link-local
//! addresses, the shared address space 100.64.0.0/10 (carrier-grade NAT and overlay
//! VPNs such as Tailscale, which reach the server through the owner's own tunnel), and
//! addresses no client really has (documentation, benchmarking, reserved, multicast)
//! are never geolocated. The LAN is the server owner's household; an overlay or
//! special-purpose address says nothing about where the device is, so detection never
//! takes it as evidence (see `Rules::evidence_network`).
//! IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4, Teredo) are that address.

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
        let ip = canonical(ip);
        match (kind(ip), ip) {
            (AddressKind::Public, IpAddr::V4(v4)) => Network::V4(v4),
            (AddressKind::Public, IpAddr::V6(v6)) => Network::V6((u128::from(v6) >> 64) as u64),
            _ => Network::Lan,
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

/// IPv6 forms that carry an IPv4 address are that IPv4 address: IPv4-mapped
/// (`::ffff:10.0.0.1`), NAT64 (`64:ff9b::/96`, RFC 6052), 6to4 (`2002::/16`, RFC 3056)
/// and Teredo (`2001::/32`, RFC 4380: the client's address, inverted, in the last 32 bits).
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let bits = u128::from(v6);
    let low32 = bits as u32;
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return IpAddr::V4(Ipv4Addr::from(low32));
    }
    if bits >> 112 == 0x2002 {
        return IpAddr::V4(Ipv4Addr::from((bits >> 80) as u32));
    }
    if bits >> 96 == 0x2001_0000 {
        return IpAddr::V4(Ipv4Addr::from(!low32));
    }
    ip
}

/// What an address is, for telling households apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// Globally reachable: a household of its own.
    Public,
    /// Private, loopback, link-local or unique-local: the server owner's LAN.
    Local,
    /// The shared address space 100.64.0.0/10: carrier-grade NAT, or an overlay VPN
    /// (Tailscale) through which the owner's devices reach the server.
    Overlay,
    /// Special-purpose space no client really uses (the registry's name for it).
    Special(&'static str),
}

/// Special-purpose IPv4 ranges (IANA IPv4 Special-Purpose Address Registry, plus
/// multicast and the reserved block), most specific first where they nest.
const SPECIAL_V4: [(u32, u8, AddressKind); 16] = [
    (0x0000_0000, 8, AddressKind::Special("this network")),
    (0x0a00_0000, 8, AddressKind::Local),
    (0x6440_0000, 10, AddressKind::Overlay),
    (0x7f00_0000, 8, AddressKind::Local),
    (0xa9fe_0000, 16, AddressKind::Local),
    (0xac10_0000, 12, AddressKind::Local),
    (0xc000_0000, 24, AddressKind::Special("IETF protocol assignments")),
    (0xc000_0200, 24, AddressKind::Special("documentation")),
    (0xc058_6300, 24, AddressKind::Special("6to4 relay anycast")),
    (0xc0a8_0000, 16, AddressKind::Local),
    (0xc612_0000, 15, AddressKind::Special("benchmarking")),
    (0xc633_6400, 24, AddressKind::Special("documentation")),
    (0xcb00_7100, 24, AddressKind::Special("documentation")),
    (0xe000_0000, 4, AddressKind::Special("multicast")),
    (0xffff_ffff, 32, AddressKind::Special("broadcast")),
    (0xf000_0000, 4, AddressKind::Special("reserved")),
];

/// Special-purpose IPv6 ranges (IANA IPv6 Special-Purpose Address Registry, plus
/// multicast), after the IPv4-carrying forms were turned into IPv4 by [`canonical`].
const SPECIAL_V6: [(u128, u8, AddressKind); 12] = [
    (0, 128, AddressKind::Special("unspecified")),
    (1, 128, AddressKind::Local),
    (
        0x0064_ff9b_0001 << 80,
        48,
        AddressKind::Special("local-use IPv4/IPv6 translation"),
    ),
    (0x0100 << 112, 64, AddressKind::Special("discard-only")),
    (0x2001_0002 << 96, 48, AddressKind::Special("benchmarking")),
    (0x2001_0010 << 96, 28, AddressKind::Special("ORCHID")),
    (0x2001_0020 << 96, 28, AddressKind::Special("ORCHIDv2")),
    (0x2001_0db8 << 96, 32, AddressKind::Special("documentation")),
    (0x3fff << 112, 20, AddressKind::Special("documentation")),
    (0xfc00 << 112, 7, AddressKind::Local),
    (0xfe80 << 112, 10, AddressKind::Local),
    (0xff00 << 112, 8, AddressKind::Special("multicast")),
];

/// What `ip` is, by the special-purpose registries ([`canonical`] first).
pub fn kind(ip: IpAddr) -> AddressKind {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            SPECIAL_V4
                .iter()
                .find(|(net, len, _)| bits >> (32 - len) == net >> (32 - len))
                .map_or(AddressKind::Public, |(_, _, k)| *k)
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            SPECIAL_V6
                .iter()
                .find(|(net, len, _)| bits >> (128 - len) == net >> (128 - len))
                .map_or(AddressKind::Public, |(_, _, k)| *k)
        }
    }
}

/// True when `ip` is not a public address: the owner's household, never looked up in
/// GeoIP and never evidence of another household.
pub fn is_private(ip: IpAddr) -> bool {
    kind(ip) != AddressKind::Public
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

    /// One row per registry range handled: an address inside, what it is, and an
    /// address just outside that is public.
    #[test]
    fn every_special_purpose_range_is_the_owners_household_and_its_neighbours_are_public() {
        use AddressKind::*;
        let rows: [(&str, AddressKind, &str); 28] = [
            ("0.1.2.3", Special("this network"), "1.0.0.1"),
            ("10.20.30.40", Local, "11.0.0.1"),
            ("100.88.12.34", Overlay, "100.128.0.1"),
            ("100.64.0.1", Overlay, "100.63.255.254"),
            ("127.0.0.1", Local, "128.0.0.1"),
            ("169.254.10.10", Local, "169.253.1.1"),
            ("172.20.5.9", Local, "172.32.0.1"),
            ("192.0.0.8", Special("IETF protocol assignments"), "192.0.1.1"),
            ("192.0.2.55", Special("documentation"), "192.0.3.1"),
            ("192.88.99.1", Special("6to4 relay anycast"), "192.88.98.1"),
            ("192.168.1.104", Local, "192.169.0.1"),
            ("198.18.4.4", Special("benchmarking"), "198.20.0.1"),
            ("198.19.255.1", Special("benchmarking"), "198.17.255.1"),
            ("198.51.100.7", Special("documentation"), "198.51.101.1"),
            ("203.0.113.9", Special("documentation"), "203.0.114.1"),
            ("224.0.0.251", Special("multicast"), "223.255.255.1"),
            ("240.1.2.3", Special("reserved"), "223.1.2.3"),
            ("255.255.255.255", Special("broadcast"), "223.1.2.4"),
            ("::", Special("unspecified"), "2a02::1"),
            ("::1", Local, "2a02::2"),
            (
                "64:ff9b:1::10",
                Special("local-use IPv4/IPv6 translation"),
                "64:ff9b:2::1",
            ),
            ("100::1", Special("discard-only"), "100:0:0:1::1"),
            ("2001:2::1", Special("benchmarking"), "2001:3::1"),
            ("2001:10::1", Special("ORCHID"), "2001:30::1"),
            ("2001:20::1", Special("ORCHIDv2"), "2001:30::2"),
            ("2001:db8:1::1", Special("documentation"), "2001:db9::1"),
            ("3fff:1::1", Special("documentation"), "3ffe::1"),
            ("ff02::fb", Special("multicast"), "fe00::1"),
        ];
        for (inside, want, outside) in rows {
            let ip: IpAddr = inside.parse().unwrap();
            assert_eq!(kind(ip), want, "{inside}");
            assert_eq!(Network::of(ip), Network::Lan, "{inside} is the owner's household");
            assert!(is_private(ip), "{inside} is never looked up");
            let out: IpAddr = outside.parse().unwrap();
            assert_eq!(kind(out), Public, "{outside} next to {inside}");
            assert!(!Network::of(out).is_lan(), "{outside}");
        }
        for ula in ["fd12:3456::1", "fc00::1", "fe80::1ff:fe23:4567:890a"] {
            assert_eq!(kind(ula.parse().unwrap()), Local, "{ula}");
        }
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_that_ipv4_address() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let cases = [
            ("::ffff:81.1.1.1", "81.1.1.1"),
            ("64:ff9b::5101:101", "81.1.1.1"),                    // NAT64, RFC 6052
            ("2002:5101:101::1", "81.1.1.1"),                     // 6to4, RFC 3056
            ("2001:0:4136:e378:8000:63bf:aefe:fefe", "81.1.1.1"), // Teredo: !0xaefefefe
            ("64:ff9b::c0a8:10a", "192.168.1.10"),
            ("2002:c612:101::1", "198.18.1.1"),
        ];
        for (v6, want) in cases {
            let ip: IpAddr = v6.parse().unwrap();
            assert_eq!(canonical(ip), v4(want), "{v6}");
            assert_eq!(Network::of(ip), Network::of(v4(want)), "{v6}");
        }
        assert_eq!(kind("64:ff9b::c0a8:10a".parse().unwrap()), AddressKind::Local);
        assert_eq!(
            kind("2002:c612:101::1".parse().unwrap()),
            AddressKind::Special("benchmarking")
        );
    }

    #[test]
    fn distinct_public_ipv4_addresses_are_distinct_networks() {
        assert_ne!(net("67.176.117.194"), net("67.176.117.195"));
    }
}
