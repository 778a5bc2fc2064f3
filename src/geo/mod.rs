//! Where an address is: a chain of providers (a local `.mmdb` first, Tautulli's
//! `get_geoip_lookup` as a fallback, or a fixed table for the demo) behind a moka cache
//! that coalesces concurrent lookups of one address and keeps failures for a shorter
//! time so a dead provider is not hammered. Private addresses are never looked up;
//! places the owner pins ([`overrides`]) are answered before any provider.
//!
//! Every answer is range-checked ([`check_place`]) before it is used: a coordinate off
//! the globe is a broken provider, not a place, and the map and travel maths downstream
//! may then rely on real coordinates.

pub mod mmdb;
pub mod overrides;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use moka::future::Cache;
use moka::Expiry;

use crate::detect::{network, Place, Places};
use crate::tautulli;

pub use mmdb::MmdbProvider;
pub use overrides::{Override, OverrideError, Overrides};

/// Why a lookup failed (as opposed to "no data for this address").
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The database file could not be opened or is not an `.mmdb`.
    #[error("cannot open GeoIP database {path}: {detail}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The database could not answer.
    #[error("GeoIP database lookup failed: {detail}")]
    Lookup {
        /// Why.
        detail: String,
    },
    /// Tautulli's lookup failed.
    #[error(transparent)]
    Tautulli(#[from] tautulli::Error),
}

/// One source of locations.
#[derive(Debug, Clone)]
pub enum Provider {
    /// A local MaxMind-format database.
    Mmdb(MmdbProvider),
    /// Tautulli's `get_geoip_lookup` (plex.tv behind it).
    Tautulli(tautulli::Client),
    /// A fixed table (the demo's built-in GeoIP).
    Table(Arc<HashMap<IpAddr, Place>>),
}

impl Provider {
    /// Name used in metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Mmdb(_) => "mmdb",
            Provider::Tautulli(_) => "tautulli",
            Provider::Table(_) => "table",
        }
    }

    async fn locate(&self, ip: IpAddr) -> Result<Option<Place>, GeoError> {
        match self {
            Provider::Mmdb(db) => db.locate(ip),
            Provider::Tautulli(client) => Ok(client.geoip_lookup(ip).await?),
            Provider::Table(table) => Ok(table.get(&ip).cloned()),
        }
    }
}

/// Largest accuracy radius believed, km. The farthest two places on Earth are half a
/// great circle apart (about 20,015 km); a radius beyond that covers the whole planet,
/// says nothing about where the address is, and only comes from a broken answer
/// (MaxMind's radii are at most about 1,000 km).
pub const MAX_ACCURACY_RADIUS_KM: f64 = 20_000.0;

/// `Err(field)` when a number of `p` cannot be a place on Earth: latitude outside
/// [-90, 90], longitude outside [-180, 180], an accuracy radius below 0 or above
/// [`MAX_ACCURACY_RADIUS_KM`], or any of them not finite.
pub fn check_place(p: &Place) -> Result<(), &'static str> {
    if !(-90.0..=90.0).contains(&p.latitude) {
        return Err("latitude");
    }
    if !(-180.0..=180.0).contains(&p.longitude) {
        return Err("longitude");
    }
    match p.accuracy_radius_km {
        Some(r) if !(0.0..=MAX_ACCURACY_RADIUS_KM).contains(&r) => Err("accuracy_radius"),
        _ => Ok(()),
    }
}

/// Cache and failure policy.
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions {
    /// How long a lookup result is kept.
    pub ttl: Duration,
    /// How long a failed lookup is kept before trying again.
    pub failure_ttl: Duration,
    /// Most addresses kept.
    pub capacity: u64,
    /// Lookups in flight at once when locating many addresses.
    pub concurrency: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            ttl: Duration::from_secs(24 * 3600),
            failure_ttl: Duration::from_secs(300),
            capacity: 100_000,
            concurrency: 8,
        }
    }
}

#[derive(Debug, Clone)]
struct Located {
    place: Option<Arc<Place>>,
    failed: bool,
}

struct Ttl {
    ok: Duration,
    failed: Duration,
}

impl Expiry<IpAddr, Located> for Ttl {
    fn expire_after_create(&self, _: &IpAddr, v: &Located, _: Instant) -> Option<Duration> {
        Some(if v.failed { self.failed } else { self.ok })
    }
}

/// Lookups by provider and outcome (`hit`, `miss`, `invalid`, `error`), plus cache hits.
#[derive(Debug, Default)]
pub struct LookupStats {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl LookupStats {
    fn add(&self, provider: &'static str, outcome: &'static str) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((provider, outcome)).or_default() += 1;
        }
    }

    /// A copy of the counts, keyed by (provider, outcome).
    pub fn snapshot(&self) -> BTreeMap<(&'static str, &'static str), u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.providers.iter().map(Provider::name).collect();
        f.debug_struct("Locator")
            .field("providers", &names)
            .field("overrides", &self.overrides().len())
            .finish()
    }
}

/// The cached provider chain. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Locator {
    cache: Cache<IpAddr, Located>,
    providers: Arc<Vec<Provider>>,
    /// Pinned places, asked first; swapped whole on reload.
    overrides: Arc<RwLock<Arc<Overrides>>>,
    stats: Arc<LookupStats>,
    concurrency: usize,
}

impl Locator {
    /// A locator asking `providers` in order.
    pub fn new(providers: Vec<Provider>, opts: CacheOptions) -> Locator {
        let cache = Cache::builder()
            .max_capacity(opts.capacity)
            .expire_after(Ttl {
                ok: opts.ttl,
                failed: opts.failure_ttl,
            })
            .build();
        Locator {
            cache,
            providers: Arc::new(providers),
            overrides: Arc::default(),
            stats: Arc::new(LookupStats::default()),
            concurrency: opts.concurrency.max(1),
        }
    }

    /// Pin `overrides` ahead of every provider, in every clone of this locator. The
    /// cache is left as it is: a pinned address never reaches it.
    pub fn set_overrides(&self, overrides: Overrides) {
        let mut current = self.overrides.write().unwrap_or_else(|p| p.into_inner());
        *current = Arc::new(overrides);
    }

    /// The pinned places in force.
    pub fn overrides(&self) -> Arc<Overrides> {
        self.overrides.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// True when no provider is configured and nothing is pinned (locating is a no-op).
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty() && self.overrides().is_empty()
    }

    /// Lookup counts.
    pub fn stats(&self) -> &LookupStats {
        &self.stats
    }

    /// Addresses currently cached.
    pub fn cache_entries(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Where `ip` is; `None` for private addresses and unknown ones.
    pub async fn locate(&self, ip: IpAddr) -> Option<Arc<Place>> {
        if network::is_private(ip) {
            return None;
        }
        let ip = network::canonical(ip);
        if let Some(place) = self.overrides().find(ip) {
            self.stats.add("override", "hit");
            return Some(place.clone());
        }
        if self.providers.is_empty() {
            return None;
        }
        let entry = self.cache.entry(ip).or_insert_with(self.ask_providers(ip)).await;
        if !entry.is_fresh() {
            self.stats.add("cache", "hit");
        }
        entry.into_value().place
    }

    async fn ask_providers(&self, ip: IpAddr) -> Located {
        let mut failed = false;
        for p in self.providers.iter() {
            match p.locate(ip).await {
                Ok(Some(place)) => match check_place(&place) {
                    Ok(()) => {
                        self.stats.add(p.name(), "hit");
                        return Located {
                            place: Some(Arc::new(place)),
                            failed: false,
                        };
                    }
                    // Unlocated like a miss, but kept only for the failure TTL: the
                    // provider is broken, and a fixed one should be asked again soon.
                    Err(field) => {
                        self.stats.add(p.name(), "invalid");
                        tracing::debug!(
                            provider = p.name(),
                            %ip,
                            field,
                            latitude = place.latitude,
                            longitude = place.longitude,
                            accuracy_radius_km = place.accuracy_radius_km,
                            "GeoIP answer is not a place on Earth; address left unlocated"
                        );
                        failed = true;
                    }
                },
                Ok(None) => self.stats.add(p.name(), "miss"),
                Err(e) => {
                    self.stats.add(p.name(), "error");
                    tracing::warn!(provider = p.name(), error = %e, "GeoIP lookup failed");
                    failed = true;
                }
            }
        }
        Located { place: None, failed }
    }

    /// Locate every distinct public address in `ips`, a bounded number at a time.
    pub async fn locate_all<I: IntoIterator<Item = IpAddr>>(&self, ips: I) -> Places {
        let mut distinct: Vec<IpAddr> = ips.into_iter().filter(|ip| !network::is_private(*ip)).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let places = stream::iter(distinct)
            .map(|ip| async move { (ip, self.locate(ip).await) })
            .buffer_unordered(self.concurrency)
            .filter_map(|(ip, place)| async move { place.map(|p| (ip, (*p).clone())) })
            .collect()
            .await;
        // Settle moka's bookkeeping so `cache_entries` is current for the next scrape.
        self.cache.run_pending_tasks().await;
        places
    }
}

#[cfg(test)]
mod tests {
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
}
