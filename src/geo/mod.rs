//! Where an address is: a chain of providers (a local `.mmdb` first, Tautulli's
//! `get_geoip_lookup` as a fallback, or a fixed table for the demo) behind a moka cache
//! that coalesces concurrent lookups of one address and keeps failures for a shorter
//! time so a dead provider is not hammered. Private addresses are never looked up.

pub mod mmdb;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use moka::future::Cache;
use moka::Expiry;

use crate::detect::{network, Place, Places};
use crate::tautulli;

pub use mmdb::MmdbProvider;

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

/// Lookups by provider and outcome (`hit`, `miss`, `error`), plus cache hits.
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
        f.debug_struct("Locator").field("providers", &names).finish()
    }
}

/// The cached provider chain. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Locator {
    cache: Cache<IpAddr, Located>,
    providers: Arc<Vec<Provider>>,
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
            stats: Arc::new(LookupStats::default()),
            concurrency: opts.concurrency.max(1),
        }
    }

    /// True when no provider is configured (locating is a no-op).
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
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
        if self.providers.is_empty() || network::is_private(ip) {
            return None;
        }
        let ip = network::canonical(ip);
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
                Ok(Some(place)) => {
                    self.stats.add(p.name(), "hit");
                    return Located {
                        place: Some(Arc::new(place)),
                        failed: false,
                    };
                }
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
