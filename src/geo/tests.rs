//! Tests of the locator: the provider chain, the cache, overrides and the cache file.

use super::*;
use crate::detect::testing::place;

fn table() -> Provider {
    Provider::Table(Arc::new(HashMap::from([
        ("81.1.1.1".parse().unwrap(), place("New York", 40.7, -74.0)),
        ("2a02:a440::1".parse().unwrap(), place("Amsterdam", 52.4, 4.9)),
    ])))
}

#[tokio::test]
async fn private_addresses_are_never_looked_up() {
    let loc = Locator::new(vec![table()], CacheOptions::default());
    assert!(loc.locate("192.168.1.5".parse().unwrap()).await.is_none());
    assert!(loc.locate("fd00::5".parse().unwrap()).await.is_none());
    assert!(loc.stats().snapshot().is_empty());
}

#[tokio::test]
async fn second_lookup_of_an_address_is_a_cache_hit() {
    let loc = Locator::new(vec![table()], CacheOptions::default());
    let ip: IpAddr = "81.1.1.1".parse().unwrap();
    assert_eq!(loc.locate(ip).await.unwrap().city.as_deref(), Some("New York"));
    assert!(loc.locate(ip).await.is_some());
    let s = loc.stats().snapshot();
    assert_eq!(s.get(&("table", "hit")), Some(&1));
    assert_eq!(s.get(&("cache", "hit")), Some(&1));
}

fn at(lat: f64, lon: f64, radius: Option<f64>) -> Place {
    Place {
        accuracy_radius_km: radius,
        asn: None,
        ..place("Somewhere", lat, lon)
    }
}

#[test]
fn places_on_earth_pass_the_range_check() {
    for p in [
        at(0.0, 0.0, None),
        at(90.0, 180.0, Some(0.0)),
        at(-90.0, -180.0, Some(MAX_ACCURACY_RADIUS_KM)),
        at(40.7, -74.0, Some(1000.0)),
    ] {
        assert_eq!(check_place(&p), Ok(()), "{p:?}");
    }
}

#[test]
fn each_impossible_number_fails_the_range_check() {
    let cases = [
        (at(90.5, 0.0, None), "latitude"),
        (at(-91.0, 0.0, None), "latitude"),
        (at(f64::NAN, 0.0, None), "latitude"),
        (at(f64::INFINITY, 0.0, None), "latitude"),
        (at(0.0, 180.01, None), "longitude"),
        (at(0.0, -1e8, None), "longitude"),
        (at(0.0, 1e300, None), "longitude"),
        (at(0.0, f64::NAN, None), "longitude"),
        (at(0.0, f64::NEG_INFINITY, None), "longitude"),
        (at(0.0, 0.0, Some(-1.0)), "accuracy_radius"),
        (at(0.0, 0.0, Some(20_001.0)), "accuracy_radius"),
        (at(0.0, 0.0, Some(f64::NAN)), "accuracy_radius"),
        (at(0.0, 0.0, Some(f64::INFINITY)), "accuracy_radius"),
    ];
    for (p, field) in cases {
        assert_eq!(check_place(&p), Err(field), "{p:?}");
    }
}

/// An impossible answer leaves the address unlocated, counts as `invalid`, lets the
/// next provider answer, and is kept for the failure TTL only.
#[tokio::test]
async fn impossible_answers_are_counted_and_left_unlocated() {
    let broken = Provider::Table(Arc::new(HashMap::from([
        ("81.1.1.1".parse().unwrap(), at(0.0, 1e300, None)),
        ("82.2.2.2".parse().unwrap(), at(91.0, 0.0, None)),
        ("83.3.3.3".parse().unwrap(), at(1.0, 2.0, Some(f64::INFINITY))),
    ])));
    let loc = Locator::new(
        vec![broken, table()],
        CacheOptions {
            failure_ttl: Duration::ZERO,
            ..CacheOptions::default()
        },
    );
    let places = loc
        .locate_all(["81.1.1.1", "82.2.2.2", "83.3.3.3"].map(|s| s.parse().unwrap()))
        .await;
    let cities: Vec<_> = places.values().map(|p| p.city.as_deref()).collect();
    assert_eq!(cities, [Some("New York")], "only the second provider's good answer");
    let s = loc.stats().snapshot();
    assert_eq!(s.get(&("table", "invalid")), Some(&3));
    assert_eq!(s.get(&("table", "hit")), Some(&1));
    assert_eq!(s.get(&("table", "miss")), Some(&2));
    // Kept for the failure TTL (zero here): asked again, not served from the cache.
    assert!(loc.locate("82.2.2.2".parse().unwrap()).await.is_none());
    let s = loc.stats().snapshot();
    assert_eq!(s.get(&("table", "invalid")), Some(&4));
    assert_eq!(s.get(&("cache", "hit")), None);
}

#[tokio::test]
async fn the_chain_falls_through_to_the_next_provider() {
    let empty = Provider::Table(Arc::new(HashMap::new()));
    let loc = Locator::new(vec![empty, table()], CacheOptions::default());
    let places = loc
        .locate_all(["81.1.1.1", "81.1.1.1", "10.0.0.1", "2a02:a440::1", "9.9.9.9"].map(|s| s.parse().unwrap()))
        .await;
    assert_eq!(places.len(), 2);
    let s = loc.stats().snapshot();
    assert_eq!(s.get(&("table", "miss")), Some(&4)); // 3 public from the empty table + 9.9.9.9 from the second
    assert_eq!(s.get(&("table", "hit")), Some(&2));
}

fn cache_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("geo-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("geoip-cache.json")
}

#[tokio::test]
async fn a_warm_start_asks_no_provider_within_the_ttl() {
    let path = cache_path("warm");
    let cold = Locator::new(vec![table()], CacheOptions::default())
        .with_cache_file(path.clone())
        .await;
    let ips: Vec<IpAddr> = ["81.1.1.1", "9.9.9.9"].map(|s| s.parse().unwrap()).to_vec();
    assert_eq!(cold.locate_all(ips.clone()).await.len(), 1);
    cold.save().await;
    assert!(path.exists());

    // Another process: nothing is asked, the miss is remembered too.
    let warm = Locator::new(vec![table()], CacheOptions::default())
        .with_cache_file(path.clone())
        .await;
    let places = warm.locate_all(ips.clone()).await;
    assert_eq!(places.values().next().and_then(|p| p.city.as_deref()), Some("New York"));
    let s = warm.stats().snapshot();
    assert_eq!(s.get(&("table", "hit")), None, "{s:?}");
    assert_eq!(s.get(&("table", "miss")), None, "{s:?}");
    assert_eq!(s.get(&("cache", "hit")), Some(&2));

    // Entries older than the TTL are asked again.
    let short = CacheOptions {
        ttl: Duration::ZERO,
        ..CacheOptions::default()
    };
    let expired = Locator::new(vec![table()], short).with_cache_file(path).await;
    expired.locate_all(ips).await;
    assert_eq!(expired.stats().snapshot().get(&("table", "hit")), Some(&1));
}

#[tokio::test]
async fn a_damaged_cache_file_is_ignored_and_then_replaced() {
    let path = cache_path("damaged");
    std::fs::write(&path, b"\x00\x01 not json").unwrap();
    let loc = Locator::new(vec![table()], CacheOptions::default())
        .with_cache_file(path.clone())
        .await;
    assert_eq!(loc.cache_entries(), 0);
    loc.locate_all(["81.1.1.1".parse().unwrap()]).await;
    loc.save().await;
    assert_eq!(store::read(&path, 10).unwrap().len(), 1, "rewritten whole");
}

#[tokio::test]
async fn nothing_new_means_nothing_written() {
    let path = cache_path("quiet");
    let loc = Locator::new(vec![table()], CacheOptions::default())
        .with_cache_file(path.clone())
        .await;
    loc.save().await;
    assert!(!path.exists(), "no lookup, no write");
    loc.locate_all(["81.1.1.1".parse().unwrap()]).await;
    loc.save().await;
    let first = std::fs::metadata(&path).unwrap().modified().unwrap();
    loc.locate_all(["81.1.1.1".parse().unwrap()]).await; // a cache hit
    loc.save().await;
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), first);
}
