//! Where an address is: a chain of providers (a local `.mmdb` first, Tautulli's
//! `get_geoip_lookup` as a fallback, or a fixed table for the demo) behind a moka cache
//! that coalesces concurrent lookups of one address and keeps failures for a shorter
//! time so a dead provider is not hammered. Private addresses are never looked up;
//! places the owner pins ([`overrides`]) are answered before any provider. An ASN
//! database ([`asn`]) adds the network operator to every place answered, cached or not,
//! so a database swapped on reload applies at once.
//!
//! Every answer is range-checked ([`check_place`]) before it is used: a coordinate off
//! the globe is a broken provider, not a place, and the map and travel maths downstream
//! may then rely on real coordinates.

pub mod asn;
pub mod mmdb;
pub mod overrides;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use moka::future::Cache;
use moka::Expiry;

use crate::detect::{network, Place, Places};
use crate::tautulli;

pub use asn::AsnDb;
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

/// Lookups in flight at once: Tautulli's lookup costs it about 73 ms of CPU and a new
/// connection to plex.tv, and stops getting faster beyond about eight at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

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
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

#[derive(Debug, Clone)]
struct Located {
    place: Option<Arc<Place>>,
    failed: bool,
    /// The provider that answered (or failed last); "" when none was asked.
    provider: &'static str,
    /// When it was looked up, epoch seconds: entries read from the cache file keep
    /// only what is left of their TTL.
    looked_up: i64,
}

/// Now, epoch seconds.
fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The provider name of a stored entry, as the metrics spell it.
fn provider_name(stored: &str) -> &'static str {
    match stored {
        "mmdb" => "mmdb",
        "tautulli" => "tautulli",
        "table" => "table",
        _ => "",
    }
}

/// The cache file and whether the cache holds lookups it does not.
struct CacheFile {
    path: std::path::PathBuf,
    dirty: std::sync::atomic::AtomicBool,
    /// One write at a time.
    writing: tokio::sync::Mutex<()>,
}

struct Ttl {
    ok: Duration,
    failed: Duration,
}

impl Expiry<IpAddr, Located> for Ttl {
    fn expire_after_create(&self, _: &IpAddr, v: &Located, _: Instant) -> Option<Duration> {
        let ttl = if v.failed { self.failed } else { self.ok };
        let age = u64::try_from(now_epoch().saturating_sub(v.looked_up)).unwrap_or(0);
        Some(ttl.saturating_sub(Duration::from_secs(age)))
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
            .field("asn", &self.asn_db().map(|db| db.path().to_path_buf()))
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
    /// Who announces an address (`--asn-db`); swapped whole on reload.
    asn: Arc<RwLock<Option<AsnDb>>>,
    file: Option<Arc<CacheFile>>,
    capacity: u64,
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
            asn: Arc::default(),
            file: None,
            capacity: opts.capacity,
            stats: Arc::new(LookupStats::default()),
            concurrency: opts.concurrency.max(1),
        }
    }

    /// Keep the cache in `path` too: what it holds now (within its TTL) is loaded, and
    /// [`Locator::save`] writes back what was looked up since. A file that cannot be read
    /// is one warning and an empty start, never an error: the cache only saves time.
    pub async fn with_cache_file(mut self, path: std::path::PathBuf) -> Locator {
        let capacity = usize::try_from(self.capacity).unwrap_or(usize::MAX);
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || store::read(&path, capacity)).await
        };
        match read {
            Ok(Ok(entries)) => {
                let n = entries.len();
                for e in entries {
                    let located = Located {
                        place: e.place.map(Arc::new),
                        failed: e.failed,
                        provider: provider_name(&e.provider),
                        looked_up: e.looked_up,
                    };
                    self.cache.insert(network::canonical(e.ip), located).await;
                }
                self.cache.run_pending_tasks().await;
                tracing::debug!(path = %path.display(), entries = n, kept = self.cache.entry_count(), "GeoIP cache file read");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "GeoIP cache file ignored; starting with an empty cache"),
            Err(e) => tracing::warn!(error = %e, "GeoIP cache file not read; starting with an empty cache"),
        }
        self.file = Some(Arc::new(CacheFile {
            path,
            dirty: std::sync::atomic::AtomicBool::new(false),
            writing: tokio::sync::Mutex::new(()),
        }));
        self
    }

    /// Write the cache to its file when it learned something since the last write.
    /// Failing to write is one warning; the next call tries again.
    pub async fn save(&self) {
        use std::sync::atomic::Ordering;
        let Some(file) = &self.file else { return };
        let _one = file.writing.lock().await;
        if !file.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let entries: Vec<store::Entry> = self
            .cache
            .iter()
            .map(|(ip, v)| store::Entry {
                ip: *ip,
                provider: v.provider.to_string(),
                looked_up: v.looked_up,
                place: v.place.as_deref().cloned(),
                failed: v.failed,
            })
            .collect();
        let path = file.path.clone();
        let written = tokio::task::spawn_blocking(move || store::write(&path, entries)).await;
        let failed = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = failed {
            file.dirty.store(true, Ordering::Release);
            tracing::warn!(%error, "GeoIP cache file not written; trying again after the next refresh");
        }
    }

    /// Pin `overrides` ahead of every provider, in every clone of this locator. The
    /// cache is left as it is: a pinned address never reaches it.
    pub fn set_overrides(&self, overrides: Overrides) {
        let mut current = self.overrides.write().unwrap_or_else(|p| p.into_inner());
        *current = Arc::new(overrides);
    }

    /// Name the network operator of every place with `db` (`None`: stop), in every
    /// clone of this locator.
    pub fn set_asn_db(&self, db: Option<AsnDb>) {
        *self.asn.write().unwrap_or_else(|p| p.into_inner()) = db;
    }

    /// The ASN database in force.
    pub fn asn_db(&self) -> Option<AsnDb> {
        self.asn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `place` with its network operator, when an ASN database is in force and knows
    /// `ip`. Counted as provider `asn` in the lookup statistics.
    fn with_operator(&self, ip: IpAddr, place: Arc<Place>) -> Arc<Place> {
        // Read under the lock (the lookup is a local, synchronous read) rather than clone
        // the database handle for every address.
        let found = match self.asn.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(db) => db.lookup(ip),
            None => return place,
        };
        match found {
            Ok(Some(asn)) => {
                self.stats.add("asn", "hit");
                let mut named = (*place).clone();
                named.asn = Some(asn);
                Arc::new(named)
            }
            Ok(None) => {
                self.stats.add("asn", "miss");
                place
            }
            Err(e) => {
                self.stats.add("asn", "error");
                tracing::debug!(%ip, error = %e, "ASN lookup failed");
                place
            }
        }
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

    /// Lookups a batch runs at once (`--geoip.concurrency`).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Locate every address that arrives on `addresses` until it closes, a bounded number
    /// at a time: started while history is still being read, so the lookups of a full
    /// load overlap its paging. Returns what each address asked turned out to be.
    pub async fn prefetch(
        &self,
        mut addresses: tokio::sync::mpsc::UnboundedReceiver<IpAddr>,
    ) -> HashMap<IpAddr, Option<Arc<Place>>> {
        let mut found = HashMap::new();
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let mut open = true;
        while open || !in_flight.is_empty() {
            tokio::select! {
                next = addresses.recv(), if open && in_flight.len() < self.concurrency => match next {
                    Some(ip) => in_flight.push(async move { (ip, self.locate(ip).await) }),
                    None => open = false,
                },
                Some((ip, place)) = in_flight.next(), if !in_flight.is_empty() => {
                    found.insert(ip, place);
                }
            }
        }
        found
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
            return Some(self.with_operator(ip, place.clone()));
        }
        if self.providers.is_empty() {
            return None;
        }
        let entry = self.cache.entry(ip).or_insert_with(self.ask_providers(ip)).await;
        if !entry.is_fresh() {
            self.stats.add("cache", "hit");
        } else if let Some(file) = &self.file {
            // Inserted just now: the file lacks it.
            file.dirty.store(true, std::sync::atomic::Ordering::Release);
        }
        entry.into_value().place.map(|p| self.with_operator(ip, p))
    }

    async fn ask_providers(&self, ip: IpAddr) -> Located {
        let looked_up = now_epoch();
        let mut failed = false;
        let mut last = "";
        for p in self.providers.iter() {
            last = p.name();
            match p.locate(ip).await {
                Ok(Some(place)) => match check_place(&place) {
                    Ok(()) => {
                        self.stats.add(p.name(), "hit");
                        return Located {
                            place: Some(Arc::new(place)),
                            failed: false,
                            provider: p.name(),
                            looked_up,
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
        Located {
            place: None,
            failed,
            provider: last,
            looked_up,
        }
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
mod tests;
