//! Tests of concurrent streams: overlaps, households, the cellular and nearby rules, the evidence caps.

use super::super::testing::{user, Builder};
use super::*;

use super::super::household::households;
use super::super::{Rules, ScoringProfile};

/// The reference rules (no household exceptions) with a minimum overlap.
fn run(b: &Builder, min_overlap: u32) -> Concurrency {
    let rules = Rules::for_profile(ScoringProfile::Reference);
    let sorted = b.sorted();
    let places = Places::new();
    let h = households(&user(), &sorted, &places, &b.strings, &rules);
    let r = OverlapRules {
        cellular_regions: true,
        pause_allowance: 0,
        min_overlap,
        households: &h,
        same_home_is_household: false,
        nearby_cellular_km: None,
        nearby_km: None,
        places: &places,
    };
    find(&sorted, &r, &b.strings)
}

/// The evidence rules.
fn run_evidence(b: &Builder, places: &Places) -> Concurrency {
    let rules = Rules::default();
    let sorted = b.sorted();
    let h = households(&user(), &sorted, places, &b.strings, &rules);
    let r = OverlapRules {
        cellular_regions: true,
        pause_allowance: rules.pause_allowance_seconds,
        min_overlap: rules.min_overlap_seconds,
        households: &h,
        same_home_is_household: true,
        nearby_cellular_km: Some(50.0),
        nearby_km: Some(50.0),
        places,
    };
    find(&sorted, &r, &b.strings)
}

#[test]
fn a_household_member_away_from_home_is_not_another_household() {
    let mut b = Builder::default();
    for d in 0..5 {
        b.add(1, "phone", "81.1.1.1", d * 86_400, 600);
        b.add(1, "tv", "81.1.1.1", d * 86_400 + 1000, 600);
    }
    b.add(1, "tv", "81.1.1.1", 10 * 86_400, 3600);
    b.add(1, "phone", "92.2.2.2", 10 * 86_400 + 60, 3600); // the phone at a hotel
    assert!(run_evidence(&b, &Places::new()).overlaps.is_empty());
    assert_eq!(run(&b, 0).overlaps.len(), 1, "the reference rules count it");
    // A friend's device that lives elsewhere is another household.
    b.add(1, "friend-tv", "93.3.3.3", 10 * 86_400 + 120, 3600);
    let c = run_evidence(&b, &Places::new());
    assert_eq!(c.overlaps.len(), 2);
    assert_eq!(c.overlaps[0].second_network.to_string(), "93.3.3.3");
}

#[test]
fn a_cellular_phone_near_home_is_a_household_member() {
    use super::super::testing::place;
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 0, 3600);
    b.add(1, "phone", "99.9.9.9", 60, 3600).cellular = true;
    let mut places = Places::new();
    places.insert("81.1.1.1".parse().unwrap(), place("Home", 40.70, -74.00));
    places.insert("99.9.9.9".parse().unwrap(), place("Near", 40.75, -73.95));
    assert!(run_evidence(&b, &places).overlaps.is_empty());
    places.insert("99.9.9.9".parse().unwrap(), place("Far", 51.5, -0.12));
    assert_eq!(run_evidence(&b, &places).overlaps.len(), 1);
}

/// TV on 81.1.1.1 at (0, 0), phone on 2a02::/64 at (0, 0.5): 0.5° of the equator,
/// 6371 km × 0.5 × π / 180 = 55.597 km apart, overlapping 3000 s.
fn two_places(radius: Option<f64>) -> (Builder, Places) {
    use super::super::testing::place;
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 0, 3600);
    b.add(1, "phone", "2a02::9", 600, 3600);
    let mut places = Places::new();
    for (ip, city, lon) in [("81.1.1.1", "West", 0.0), ("2a02::9", "East", 0.5)] {
        let mut p = place(city, 0.0, lon);
        p.accuracy_radius_km = radius;
        places.insert(ip.parse().unwrap(), p);
    }
    (b, places)
}

#[test]
fn an_overlap_located_closer_than_the_minimum_distance_is_nearby_not_concurrent() {
    // 55.597 km with no accuracy radius: farther than 50 km, a concurrent session.
    let (b, places) = two_places(None);
    let c = run_evidence(&b, &places);
    assert_eq!((c.overlap_count, c.nearby_count, c.device_pairs), (1, 0, 1));
    let o = &c.overlaps[0];
    assert!((o.distance_km.unwrap() - 55.597).abs() < 0.001, "{o:?}");
    assert!(!o.nearby && o.distance_unknown.is_none());
    // Radii of 5 km each: 55.597 - 10 = 45.597 km, within 50 km: nearby.
    let (b, places) = two_places(Some(5.0));
    let c = run_evidence(&b, &places);
    assert_eq!((c.overlap_count, c.nearby_count, c.device_pairs), (0, 1, 0));
    assert_eq!(c.overlaps.len(), 1, "a nearby overlap stays in the evidence");
    let o = &c.overlaps[0];
    assert!(o.nearby && (o.distance_km.unwrap() - 45.597).abs() < 0.001, "{o:?}");
    assert!(c.timeline.is_empty() && !c.involved.contains(&true));
    // The reference rules measure it but count it as before.
    let (b, places) = two_places(Some(5.0));
    let sorted = b.sorted();
    let rules = Rules::for_profile(ScoringProfile::Reference);
    let h = households(&user(), &sorted, &places, &b.strings, &rules);
    let r = OverlapRules {
        cellular_regions: true,
        pause_allowance: 0,
        min_overlap: 0,
        households: &h,
        same_home_is_household: false,
        nearby_cellular_km: None,
        nearby_km: None,
        places: &places,
    };
    let c = find(&sorted, &r, &b.strings);
    assert_eq!((c.overlap_count, c.nearby_count), (1, 0));
    assert!(!c.overlaps[0].nearby && c.overlaps[0].distance_km.is_some());
}

#[test]
fn an_overlap_whose_distance_cannot_be_judged_says_why_and_still_counts() {
    let (b, mut places) = two_places(None);
    places.remove(&"2a02::9".parse().unwrap());
    let c = run_evidence(&b, &places);
    assert_eq!((c.overlap_count, c.nearby_count), (1, 0));
    assert_eq!(
        (c.overlaps[0].distance_km, c.overlaps[0].distance_unknown),
        (None, Some(DistanceUnknown::NotLocated))
    );
    // Country-level: no city, the coordinates are the country's centre (here even
    // the same point as the TV), so it is never nearby.
    let (b, mut places) = two_places(None);
    if let Some(p) = places.get_mut(&"2a02::9".parse().unwrap()) {
        p.city = None;
        p.longitude = 0.0;
    }
    let c = run_evidence(&b, &places);
    assert_eq!((c.overlap_count, c.nearby_count), (1, 0));
    assert_eq!(c.overlaps[0].distance_unknown, Some(DistanceUnknown::CountryLevel));
    let json = serde_json::to_value(&c.overlaps[0]).unwrap();
    assert_eq!(
        (&json["distance_km"], &json["distance_unknown"], &json["nearby"]),
        (
            &serde_json::Value::Null,
            &serde_json::json!("country_level"),
            &serde_json::json!(false)
        )
    );
    // A private address is at the server's site, which GeoIP cannot place.
    let mut b = Builder::default();
    b.add(1, "tv", "192.168.1.5", 0, 3600);
    b.add(1, "phone", "81.1.1.1", 600, 3600);
    let c = run_evidence(&b, &places);
    assert_eq!(c.overlaps[0].distance_unknown, Some(DistanceUnknown::PrivateAddress));
}

#[test]
fn each_overlap_names_both_sessions() {
    let (b, places) = two_places(None);
    let o = run_evidence(&b, &places).overlaps.remove(0);
    assert_eq!(
        (
            &*o.first_machine_id,
            &*o.first_platform,
            &*o.first_player,
            o.first_started,
            o.first_ended
        ),
        ("tv", "tv-platform", "tv-player", 0, 3600)
    );
    assert_eq!(
        (
            &*o.second_machine_id,
            &*o.second_platform,
            &*o.second_player,
            o.second_started,
            o.second_ended
        ),
        ("phone", "phone-platform", "phone-player", 600, 4200)
    );
    assert_eq!(
        (o.first_place.as_deref(), o.second_place.as_deref()),
        (Some("West"), Some("East"))
    );
    assert_eq!((o.started, o.seconds), (600, 3000));
}

#[test]
fn counted_overlaps_are_kept_as_evidence_before_nearby_ones() {
    use super::super::testing::place;
    let mut b = Builder::default();
    let mut places = Places::new();
    places.insert("81.1.1.1".parse().unwrap(), place("Home", 40.70, -74.00));
    places.insert("2a02::9".parse().unwrap(), place("Home", 40.70, -74.00));
    places.insert("93.3.3.3".parse().unwrap(), place("Far", 51.5, -0.12));
    let evenings = super::super::MAX_OVERLAPS as i64 + 50;
    for d in 0..evenings {
        b.add(1, "tv", "81.1.1.1", d * 86_400, 3600);
        b.add(1, "phone", "2a02::9", d * 86_400 + 60, 3600);
    }
    b.add(1, "friend-tv", "93.3.3.3", (evenings - 1) * 86_400 + 120, 3600);
    let c = run_evidence(&b, &places);
    assert_eq!((c.nearby_count, c.overlap_count), (evenings as usize, 2));
    assert_eq!(c.overlaps.len(), super::super::MAX_OVERLAPS);
    assert_eq!(
        c.overlaps.iter().filter(|o| !o.nearby).count(),
        2,
        "the friend's overlaps are kept"
    );
    assert!(
        c.overlaps.windows(2).all(|w| w[0].started <= w[1].started),
        "chronological"
    );
}

#[test]
fn overlap_on_different_devices_and_networks_is_concurrent() {
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 1000, 3600); // 1000..4600
    b.add(1, "phone", "92.2.2.2", 2000, 3600); // 2000..5600
    let c = run(&b, 0);
    assert_eq!(c.overlaps.len(), 1);
    assert_eq!(c.overlaps[0].seconds, 2600);
    assert_eq!(c.overlaps[0].started, 2000);
    assert_eq!(c.device_pairs, 1);
    assert_eq!(c.timeline.len(), 2);
}

#[test]
fn same_device_or_same_network_never_counts() {
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 1000, 3600);
    b.add(1, "tv", "92.2.2.2", 2000, 3600); // same device, other network (VPN hop)
    assert!(run(&b, 0).overlaps.is_empty());
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 1000, 3600);
    b.add(1, "phone", "81.1.1.1", 2500, 3600); // other device, same address
    assert!(run(&b, 0).overlaps.is_empty());
}

#[test]
fn two_lan_ranges_are_one_household() {
    let mut b = Builder::default();
    b.add(1, "tv", "192.168.1.10", 1000, 3600);
    b.add(1, "phone", "10.0.0.5", 2000, 3600);
    b.add(1, "tablet", "172.20.3.4", 2500, 3600);
    assert!(run(&b, 0).overlaps.is_empty());
}

#[test]
fn sessions_that_touch_end_to_start_do_not_overlap() {
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 1000, 1000); // ends at 2000
    b.add(1, "phone", "92.2.2.2", 2000, 1000);
    assert!(run(&b, 0).overlaps.is_empty());
}

#[test]
fn minimum_overlap_drops_back_to_back_sessions() {
    let mut b = Builder::default();
    b.add(1, "tv", "81.1.1.1", 1000, 1030); // ends 2030
    b.add(1, "phone", "92.2.2.2", 2000, 1000); // overlap of 30 s
    assert_eq!(run(&b, 0).overlaps.len(), 1);
    assert!(run(&b, 120).overlaps.is_empty());
}

#[test]
fn unknown_addresses_are_not_evidence() {
    let mut b = Builder::default();
    b.add(1, "tv", "", 1000, 3600);
    b.add(1, "phone", "92.2.2.2", 2000, 3600);
    assert!(run(&b, 0).overlaps.is_empty());
}

#[test]
fn three_homes_at_once_give_three_pairs_and_three_device_pairs() {
    let mut b = Builder::default();
    b.add(1, "a", "81.1.1.1", 0, 7200);
    b.add(1, "b", "82.1.1.1", 100, 7200);
    b.add(1, "c", "83.1.1.1", 200, 7200);
    b.add(1, "a", "81.1.1.1", 50_000, 100); // alone later
    let c = run(&b, 0);
    assert_eq!(c.overlaps.len(), 3);
    assert_eq!(c.device_pairs, 3);
    assert_eq!(c.timeline.len(), 3);
}

#[test]
fn repeated_overlaps_of_one_device_pair_count_once_as_a_pair() {
    let mut b = Builder::default();
    for day in 0..4 {
        b.add(1, "tv", "81.1.1.1", day * 86_400, 3600);
        b.add(1, "phone", "92.2.2.2", day * 86_400 + 60, 3600);
    }
    let c = run(&b, 0);
    assert_eq!(c.overlaps.len(), 4);
    assert_eq!(c.device_pairs, 1);
}

#[test]
fn sweep_matches_all_pairs_on_a_dense_history() {
    // Brute force (the reference script's O(n²) loop) as the oracle.
    let mut b = Builder::default();
    let ips = ["81.1.1.1", "82.1.1.1", "192.168.1.2", "10.1.1.1", "2a02::1", "2a02::2"];
    let mut x: u64 = 7;
    for k in 0..300 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let dev = ["a", "b", "c", "d"][(x >> 33) as usize % 4];
        let ip = ips[(x >> 40) as usize % ips.len()];
        let start = (x >> 20) as i64 % 200_000;
        let play = 60 + (x >> 50) as u32 % 7200;
        b.add(1, dev, ip, start, play);
        let _ = k;
    }
    let sorted = b.sorted();
    let mut brute = 0;
    for (i, a) in sorted.iter().enumerate() {
        for c in &sorted[i + 1..] {
            let (ea, ec) = (a.effective_end(0), c.effective_end(0));
            if a.machine != c.machine && a.network() != c.network() && a.started < ec && c.started < ea {
                brute += 1;
            }
        }
    }
    assert!(brute > 10, "the fixture should have overlaps, got {brute}");
    let c = run(&b, 0);
    assert_eq!(c.overlap_count, brute);
    assert_eq!(
        c.overlaps.len(),
        brute.min(super::super::MAX_OVERLAPS),
        "evidence is capped"
    );
}
