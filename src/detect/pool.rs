//! ISP address pools: two networks that are one home whose addresses GeoIP places
//! inconsistently.
//!
//! An ISP hands a home a new address now and then, and GeoIP may put the addresses of
//! one pool in cities far apart (a provider's registration city, an old allocation).
//! One device then seems to jump hundreds of kilometres between two sessions an hour
//! apart, and back. When the two networks are announced by one network operator (ASN)
//! in one country, and a device moved between them impossibly fast at least
//! [`MIN_SWITCHES`] times, they are one home: GeoIP noise, not travel and not another
//! household.
//!
//! A shared operator alone never links anything: a big ISP serves a whole country, and
//! two households on it are still two. Only a device that keeps switching between the
//! networks faster than anyone travels does, which a friend's devices in their own home
//! never do. A VPN's exits sit in different countries (or belong to the VPN's host, not
//! the home's ISP), so they stay same-device jumps.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::concurrency::distance_km;
use super::travel::TravelRules;
use super::{network, Network, Places, Session, Strings, Sym};

/// Impossibly fast moves of a device between two networks that make them one pool: back
/// and forth at least once, so one mislocated address is not enough.
pub const MIN_SWITCHES: u32 = 2;

/// Most pools kept as evidence per user (each links two networks; a home has few).
pub const MAX_POOLS: usize = 20;

/// Two networks of one operator that are one home.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IspPool {
    /// The two networks (`81.2.3.4` or an IPv6 /64).
    pub networks: [Network; 2],
    /// Where GeoIP puts each ("City, Region, Country · AS… operator").
    pub places: [String; 2],
    /// The operator's AS number.
    pub asn: u32,
    /// The operator's name, when known.
    pub as_organization: Option<String>,
    /// Distance GeoIP makes between them, minus accuracy radii, km.
    pub distance_km: f64,
    /// Impossibly fast moves of one device between them.
    pub switches: u32,
    /// A device that made them (the one with the most switches).
    pub machine_id: Arc<str>,
}

#[derive(Default)]
struct Pair {
    switches: u32,
    by_device: HashMap<Sym, u32>,
    distance_km: f64,
}

/// The pools among one user's `sessions` (sorted by start), whose own networks are
/// `networks` (`None`: not evidence). Consecutive sessions of each device are compared:
/// both located to a city, different networks, one operator and country, and farther
/// apart than `travel.max_speed_kmh` allows in the time between them.
pub fn find(
    sessions: &[&Session],
    networks: &[Option<Network>],
    places: &Places,
    strings: &Strings,
    pause_allowance: u32,
    travel: &TravelRules,
) -> Vec<IspPool> {
    let mut last: HashMap<Sym, usize> = HashMap::new();
    let mut pairs: HashMap<(Network, Network), Pair> = HashMap::new();
    for (i, s) in sessions.iter().enumerate() {
        let Some(net) = networks.get(i).copied().flatten() else {
            continue;
        };
        if let Some(&j) = last.get(&s.machine) {
            let prev = sessions[j];
            if let Some(prev_net) = networks.get(j).copied().flatten() {
                if prev_net != net && one_operator(prev, s, places) {
                    if let Ok(km) = distance_km(prev, s, places, travel.cellular_is_a_region) {
                        let hours =
                            ((s.started - prev.effective_end(pause_allowance)).max(0) as f64 / 3600.0).max(0.001);
                        if km >= travel.min_distance_km && km / hours > travel.max_speed_kmh {
                            let pair = pairs.entry((prev_net.min(net), prev_net.max(net))).or_default();
                            pair.switches += 1;
                            *pair.by_device.entry(s.machine).or_default() += 1;
                            pair.distance_km = km;
                        }
                    }
                }
            }
        }
        last.insert(s.machine, i);
    }
    let mut pools: Vec<IspPool> = pairs
        .into_iter()
        .filter(|(_, p)| p.switches >= MIN_SWITCHES)
        .filter_map(|((a, b), p)| {
            let place = |n: Network| {
                sessions
                    .iter()
                    .zip(networks)
                    .find(|(_, m)| **m == Some(n))
                    .and_then(|(s, _)| places.get(&network::canonical(s.ip?)))
            };
            let (pa, pb) = (place(a)?, place(b)?);
            let asn = pa.asn.clone()?;
            let device = p
                .by_device
                .iter()
                .max_by_key(|(d, n)| (**n, std::cmp::Reverse(**d)))
                .map(|(d, _)| *d)?;
            Some(IspPool {
                networks: [a, b],
                places: [pa.label_with_network(), pb.label_with_network()],
                asn: asn.number,
                as_organization: asn.organization,
                distance_km: p.distance_km,
                switches: p.switches,
                machine_id: strings.shared(device),
            })
        })
        .collect();
    pools.sort_by(|x, y| y.switches.cmp(&x.switches).then(x.networks.cmp(&y.networks)));
    pools
}

/// Both sessions are located, by one operator in one country.
fn one_operator(a: &Session, b: &Session, places: &Places) -> bool {
    let place = |s: &Session| s.ip.and_then(|ip| places.get(&network::canonical(ip)));
    matches!((place(a), place(b)), (Some(pa), Some(pb)) if pa.same_operator_and_country(pb))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{place, Builder};
    use super::super::{Asn, Place};
    use super::*;

    const H: i64 = 3600;

    fn at(city: &str, lat: f64, lon: f64, asn: u32, country: &str) -> Place {
        Place {
            country_code: Some(country.into()),
            asn: Some(Asn {
                number: asn,
                organization: Some(format!("Operator {asn}")),
            }),
            ..place(city, lat, lon)
        }
    }

    /// Chicago and Denver, about 1,480 km apart, both on AS7922 in the US.
    fn pool_places() -> Places {
        Places::from([
            ("73.1.1.1".parse().unwrap(), at("Chicago", 41.88, -87.63, 7922, "US")),
            ("73.2.2.2".parse().unwrap(), at("Denver", 39.74, -104.99, 7922, "US")),
        ])
    }

    fn pools(b: &Builder, places: &Places) -> Vec<IspPool> {
        let sorted = b.sorted();
        let nets: Vec<Option<Network>> = sorted.iter().map(|s| s.ip.map(Network::of)).collect();
        find(&sorted, &nets, places, &b.strings, 0, &TravelRules::default())
    }

    fn alternating(b: &mut Builder, device: &str, switches: i64) {
        for k in 0..=switches {
            let ip = if k % 2 == 0 { "73.1.1.1" } else { "73.2.2.2" };
            b.add(1, device, ip, k * 2 * H, 3600);
        }
    }

    #[test]
    fn a_device_switching_back_and_forth_within_one_operator_links_a_pool() {
        let mut b = Builder::default();
        alternating(&mut b, "tv", 2);
        let p = pools(&b, &pool_places());
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].asn, p[0].switches, &*p[0].machine_id), (7922, 2, "tv"));
        assert!((1400.0..1500.0).contains(&p[0].distance_km), "{}", p[0].distance_km);
        assert_eq!(p[0].places[0], "Chicago · AS7922 Operator 7922");
    }

    #[test]
    fn one_switch_is_not_a_pool() {
        let mut b = Builder::default();
        alternating(&mut b, "tv", 1);
        assert!(pools(&b, &pool_places()).is_empty());
    }

    #[test]
    fn different_operators_or_countries_or_unknown_operators_are_not_a_pool() {
        for (asn, country, known) in [(7018, "US", true), (7922, "CA", true), (7922, "US", false)] {
            let mut places = pool_places();
            let mut denver = at("Denver", 39.74, -104.99, asn, country);
            if !known {
                denver.asn = None;
            }
            places.insert("73.2.2.2".parse().unwrap(), denver);
            let mut b = Builder::default();
            alternating(&mut b, "tv", 4);
            assert!(pools(&b, &places).is_empty(), "AS{asn} in {country}, known {known}");
        }
    }

    #[test]
    fn two_households_on_one_operator_never_link() {
        // A friend on the same national ISP: each device stays in its own home.
        let mut b = Builder::default();
        for d in 0..10 {
            b.add(1, "tv", "73.1.1.1", d * 24 * H, 3600);
            b.add(1, "friend-tv", "73.2.2.2", d * 24 * H + 600, 3600);
        }
        assert!(pools(&b, &pool_places()).is_empty());
    }

    #[test]
    fn possible_travel_between_two_networks_is_not_a_pool() {
        // A day between sessions: 1,480 km at 62 km/h is a journey, not GeoIP noise.
        let mut b = Builder::default();
        for k in 0..6 {
            let ip = if k % 2 == 0 { "73.1.1.1" } else { "73.2.2.2" };
            b.add(1, "laptop", ip, k * 24 * H, 3600);
        }
        assert!(pools(&b, &pool_places()).is_empty());
    }
}
