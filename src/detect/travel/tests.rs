//! Tests of impossible travel: distances, radii, carrier regions, same-device jumps, the caps.

use super::super::testing::{place, Builder};
use super::*;

fn places() -> Places {
    let mut p = Places::new();
    p.insert("81.1.1.1".parse().unwrap(), place("New York", 40.7128, -74.0060));
    p.insert("81.1.1.2".parse().unwrap(), place("Jersey City", 40.7178, -74.0431));
    p.insert("82.2.2.2".parse().unwrap(), place("London", 51.5074, -0.1278));
    p.insert("83.3.3.3".parse().unwrap(), place("Boston", 42.3601, -71.0589));
    p
}

/// The jumps of `b`'s sessions under the default rules, every place of [`places`] known.
fn default_jumps(b: &Builder) -> Jumps {
    find_jumps(
        &b.sorted(),
        &nets(b),
        None,
        &places(),
        &b.strings,
        0,
        &TravelRules::default(),
    )
}

fn nets(b: &Builder) -> Vec<Option<Network>> {
    b.sorted()
        .iter()
        .map(|s| if s.relayed { None } else { s.network() })
        .collect()
}

fn jumps(b: &Builder, rules: &TravelRules) -> Vec<Jump> {
    let found = find_jumps(&b.sorted(), &nets(b), None, &places(), &b.strings, 0, rules);
    assert_eq!(
        found.count + found.same_device,
        found.first.len(),
        "small histories keep every jump"
    );
    found.first
}

#[test]
fn a_carrier_address_is_a_region() {
    let mut p = place("Rome", 41.9, 12.5);
    p.accuracy_radius_km = Some(1000.0);
    assert_eq!(uncertainty_km(&p, false, true), 1000.0, "a fixed line: the radius");
    assert_eq!(uncertainty_km(&p, true, true), 2000.0, "a carrier: twice the radius");
    assert_eq!(uncertainty_km(&p, true, false), 1000.0, "reference: the radius once");
    p.accuracy_radius_km = None;
    assert_eq!(
        uncertainty_km(&p, true, true),
        1000.0,
        "no radius: a 500 km region, twice"
    );
    assert_eq!(uncertainty_km(&p, false, true), 0.0);
    p.accuracy_radius_km = Some(-5.0);
    assert_eq!(uncertainty_km(&p, false, true), 0.0, "a negative radius is none");
}

#[test]
fn haversine_new_york_to_london_is_about_5570_km() {
    let d = haversine_km(40.7128, -74.0060, 51.5074, -0.1278);
    assert!((d - 5570.2).abs() < 1.0, "{d}");
}

#[test]
fn new_york_then_london_an_hour_later_is_a_jump() {
    let mut b = Builder::default();
    b.add(1, "laptop", "81.1.1.1", 0, 1800); // NY, ends 1800
    b.add(1, "phone", "82.2.2.2", 1800 + 3600, 600); // London 1 h later
    let j = jumps(&b, &TravelRules::default());
    assert_eq!(j.len(), 1);
    assert_eq!(j[0].from.event, "stop");
    assert_eq!(j[0].to.event, "start");
    assert!((j[0].hours - 1.0).abs() < 1e-9);
    assert!((j[0].speed_kmh - j[0].distance_km).abs() < 1e-6);
}

#[test]
fn a_heavy_traveller_keeps_an_exact_count_but_only_the_first_jumps_as_evidence() {
    let mut b = Builder::default();
    // New York and London alternate every hour on two devices: 2n - 1 jumps.
    let n = 200;
    for i in 0..n {
        b.add(1, "laptop", "81.1.1.1", i * 7200, 600);
        b.add(1, "phone", "82.2.2.2", i * 7200 + 3600, 600);
    }
    let found = default_jumps(&b);
    assert_eq!(found.count, 2 * n as usize - 1);
    assert_eq!(found.first.len(), super::super::MAX_JUMPS);
    assert!(
        found.first.capacity() <= 2 * super::super::MAX_JUMPS,
        "the evidence list must not hold room for every jump (capacity {})",
        found.first.capacity()
    );
    assert!(found.first.windows(2).all(|w| w[0].from.time <= w[1].from.time));
}

#[test]
fn a_plausible_flight_is_not_a_jump() {
    let mut b = Builder::default();
    b.add(1, "laptop", "81.1.1.1", 0, 1800);
    b.add(1, "phone", "82.2.2.2", 1800 + 8 * 3600, 600); // 5570 km in 8 h = 696 km/h
    assert!(jumps(&b, &TravelRules::default()).is_empty());
}

#[test]
fn nearby_cities_are_the_same_metro_area() {
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 0, 600);
    b.add(1, "phone", "81.1.1.2", 601, 600); // ~3 km, 1 s later
    assert!(jumps(&b, &TravelRules::default()).is_empty());
}

#[test]
fn accuracy_radii_shrink_the_distance() {
    // NY -> Boston is ~306 km; with 200 km radii on each side it is under 50 km.
    let mut p = places();
    for ip in ["81.1.1.1", "83.3.3.3"] {
        if let Some(pl) = p.get_mut(&ip.parse::<IpAddr>().unwrap()) {
            pl.accuracy_radius_km = Some(200.0);
        }
    }
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 0, 600);
    b.add(1, "phone", "83.3.3.3", 700, 600);
    assert!(
        find_jumps(&b.sorted(), &nets(&b), None, &p, &b.strings, 0, &TravelRules::default())
            .first
            .is_empty()
    );
    assert_eq!(jumps(&b, &TravelRules::default()).len(), 1);
}

#[test]
fn simultaneous_streams_in_two_cities_are_one_jump_not_one_per_event() {
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 0, 7200);
    b.add(1, "phone", "82.2.2.2", 600, 3600);
    // events: NY start, London start, London stop, NY stop: three transitions, one pair
    let j = jumps(&b, &TravelRules::default());
    assert_eq!(j.len(), 1);
}

#[test]
fn private_relayed_unlocated_and_country_level_sessions_are_skipped() {
    let mut p = places();
    p.insert(
        "84.4.4.4".parse().unwrap(),
        Place {
            city: None,
            ..place("", 37.751, -97.822)
        },
    );
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 0, 600);
    b.add(1, "phone", "192.168.1.4", 700, 600);
    b.add(1, "phone", "82.2.2.2", 1400, 600).relayed = true;
    b.add(1, "phone", "99.9.9.9", 2100, 600); // not in the table
    b.add(1, "phone", "84.4.4.4", 2800, 600); // country centroid
    b.add(1, "tv", "81.1.1.1", 3500, 600);
    assert!(
        find_jumps(&b.sorted(), &nets(&b), None, &p, &b.strings, 0, &TravelRules::default())
            .first
            .is_empty()
    );
}

#[test]
fn same_device_jumps_are_counted_apart_unless_the_rules_make_them_teleportations() {
    let mut b = Builder::default();
    b.add(1, "laptop", "81.1.1.1", 0, 600); // New York, ends 600
    b.add(1, "laptop", "82.2.2.2", 700, 600); // London 100 s later
    let found = default_jumps(&b);
    assert_eq!(
        (found.count, found.same_device),
        (0, 1),
        "a VPN hop on one device is not travel"
    );
    let j = &found.first[0];
    assert!(j.same_device);
    assert_eq!((j.from.event, j.to.event), ("stop", "start"));
    assert_eq!((j.from.time, j.to.time), (600, 700));
    // 5570.2 km in 100 s (1/36 h) = 200 527 km/h
    assert!((j.distance_km - 5570.2).abs() < 1.0, "{}", j.distance_km);
    assert!((j.hours - 100.0 / 3600.0).abs() < 1e-12);
    assert!((j.speed_kmh - 200_527.0).abs() < 40.0, "{}", j.speed_kmh);
    assert_eq!(serde_json::to_value(j).unwrap()["same_device"], serde_json::json!(true));
    let rules = TravelRules {
        same_device_counts: true,
        ..TravelRules::default()
    };
    let found = find_jumps(&b.sorted(), &nets(&b), None, &places(), &b.strings, 0, &rules);
    assert_eq!((found.count, found.same_device), (1, 0), "the reference counts it");
    assert!(!found.first[0].same_device);
}

#[test]
fn a_vpn_hopping_device_and_a_teleport_are_counted_and_capped_separately() {
    let mut b = Builder::default();
    // One laptop alternates New York and London every hour: 2n - 1 same-device jumps.
    let n: i64 = 60;
    for i in 0..2 * n {
        let ip = if i % 2 == 0 { "81.1.1.1" } else { "82.2.2.2" };
        b.add(1, "laptop", ip, i * 3600, 600);
    }
    // Later a phone in London, then the laptop in New York 10 minutes later: one
    // teleportation, after the same-device evidence list is full.
    b.add(1, "phone", "82.2.2.2", 2 * n * 3600, 600);
    b.add(1, "laptop", "81.1.1.1", 2 * n * 3600 + 1200, 600);
    let found = default_jumps(&b);
    // laptop (London, last of the loop) -> phone (London) is no jump (same network).
    assert_eq!(found.count, 1);
    assert_eq!(found.same_device, 2 * n as usize - 1);
    let same: Vec<&Jump> = found.first.iter().filter(|j| j.same_device).collect();
    let teleports: Vec<&Jump> = found.first.iter().filter(|j| !j.same_device).collect();
    assert_eq!(same.len(), super::super::MAX_JUMPS);
    assert_eq!(
        teleports.len(),
        1,
        "a full same-device list does not crowd out a teleportation"
    );
    assert_eq!(
        (teleports[0].from.machine_id.as_ref(), teleports[0].to.time),
        ("phone", 2 * n * 3600 + 1200)
    );
    assert!(same.iter().all(|j| j.from.machine_id == j.to.machine_id));
}

#[test]
fn a_teleporter_going_and_coming_back_makes_two_jumps() {
    let mut b = Builder::default();
    b.add(1, "phone", "81.1.1.1", 0, 1800);
    b.add(1, "laptop", "82.2.2.2", 2400, 1800);
    b.add(1, "phone", "81.1.1.1", 4800, 1800);
    assert_eq!(jumps(&b, &TravelRules::default()).len(), 2);
}
