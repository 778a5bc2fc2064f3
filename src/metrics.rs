//! `/metrics`: one prometheus-client [`Collector`] that reads the latest snapshots at
//! scrape time and emits const metrics, so users who leave the window disappear and
//! a scrape never waits for Tautulli. OpenMetrics by default; Prometheus text 0.0.4
//! when the scraper does not ask for OpenMetrics.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::fleet::Fleet;

/// OpenMetrics content type.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Prometheus text format content type.
pub const TEXT_004: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

const NOTE: &str = "Computed by the last refresh (every --refresh-interval), not at scrape time.";

/// Everything `/metrics` reports on.
#[derive(Debug)]
pub struct Exporter {
    /// The Tautulli servers and the GeoIP locator.
    pub fleet: Arc<Fleet>,
    /// The exporter's public base URL, without a trailing slash.
    pub external_url: String,
    /// The web server's connections and the configuration reloads.
    pub service: Arc<ServiceStats>,
}

/// What the exporter itself counts outside the refreshes: connections (kept by the web
/// server) and configuration reloads.
#[derive(Debug)]
pub struct ServiceStats {
    /// Connections open now.
    pub open_connections: AtomicU64,
    /// Connections turned away at `--web.max-connections` (health probes still answered).
    pub rejected_connections: AtomicU64,
    reload_ok: AtomicBool,
    /// Unix time of the last successful load of the configuration, in milliseconds.
    reload_success_ms: AtomicU64,
}

impl Default for ServiceStats {
    fn default() -> ServiceStats {
        ServiceStats {
            open_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            reload_ok: AtomicBool::new(true),
            reload_success_ms: AtomicU64::new(now_ms()),
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}

impl ServiceStats {
    /// Record the outcome of a configuration (re)load.
    pub fn reloaded(&self, ok: bool) {
        self.reload_ok.store(ok, Ordering::Release);
        if ok {
            self.reload_success_ms.store(now_ms(), Ordering::Release);
        }
    }

    /// Whether the last reload succeeded, and when the last successful one was.
    pub fn last_reload(&self) -> (bool, f64) {
        (
            self.reload_ok.load(Ordering::Acquire),
            self.reload_success_ms.load(Ordering::Acquire) as f64 / 1000.0,
        )
    }
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn gauge_family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels, f64)],
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        ConstGauge::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

/// Per-user gauges: (name, help, value).
type UserGauge = (
    &'static str,
    &'static str,
    fn(&crate::detect::UserFinding, &crate::snapshot::Live) -> f64,
);

#[rustfmt::skip]
const USER_GAUGES: [UserGauge; 14] = [
    ("plex_sharing_user_devices", "Distinct devices (machine_id) the user played on in the window.", |f, _| f.devices as f64),
    ("plex_sharing_user_heavy_devices", "Devices with more than --heavy-device-plays plays in the window.", |f, _| f.heavy_devices as f64),
    ("plex_sharing_user_concurrent_sessions", "Pairs of sessions from different devices and different networks that overlapped in time.", |f, _| f.concurrent_sessions as f64),
    ("plex_sharing_user_nearby_concurrent_sessions", "Overlapping session pairs that GeoIP places within --min-distance-km of each other, counted apart from concurrent sessions.", |f, _| f.nearby_concurrent_sessions as f64),
    ("plex_sharing_user_concurrent_device_pairs", "Distinct device pairs seen streaming at the same time from different networks.", |f, _| f.concurrent_device_pairs as f64),
    ("plex_sharing_user_teleportations", "Impossible-travel jumps between located sessions (needs GeoIP).", |f, _| f.teleportations as f64),
    ("plex_sharing_user_same_device_jumps", "Impossible-travel jumps between two sessions of one device, counted apart from teleportations: likely a VPN or proxy.", |f, _| f.same_device_jumps as f64),
    ("plex_sharing_user_score", "Sharing suspicion score; the report page explains each term.", |f, _| f.score),
    ("plex_sharing_user_flagged", "1 when the score is at least --min-score.", |f, _| f64::from(u8::from(f.flagged))),
    ("plex_sharing_user_plays", "Sessions in the window.", |f, _| f.plays as f64),
    ("plex_sharing_user_watch_time_seconds", "Seconds played in the window.", |f, _| f.watch_time_seconds as f64),
    ("plex_sharing_user_networks", "Distinct networks in the window (the LAN counts once, IPv6 by /64).", |f, _| f.networks as f64),
    ("plex_sharing_user_live_streams", "Streams playing, paused or buffering at the last refresh.", |_, l| l.streams as f64),
    ("plex_sharing_user_live_networks", "Distinct networks among the live streams; 2 or more means different places right now.", |_, l| l.networks as f64),
];

const ACROSS: &str = "Spans every server the account (Tautulli user_id, the plex.tv account) streams from; only accounts with sessions on two or more servers.";

/// Per-account gauges: (name, help, value).
type AccountGauge = (&'static str, &'static str, fn(&crate::detect::AccountFinding) -> f64);

#[rustfmt::skip]
const ACCOUNT_GAUGES: [AccountGauge; 5] = [
    ("plex_sharing_account_score", "Sharing suspicion score of the account's sessions on all its servers together.", |a| a.finding.score),
    ("plex_sharing_account_flagged", "1 when the account's score across servers is at least --min-score.", |a| f64::from(u8::from(a.finding.flagged))),
    ("plex_sharing_account_concurrent_device_pairs", "Distinct device pairs streaming at the same time from different networks, on any of the account's servers.", |a| a.finding.concurrent_device_pairs as f64),
    ("plex_sharing_account_teleportations", "Impossible-travel jumps between the account's located sessions on any of its servers (needs GeoIP).", |a| a.finding.teleportations as f64),
    ("plex_sharing_account_servers", "Servers with sessions of the account in the window.", |a| a.servers.len() as f64),
];

impl Collector for Exporter {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let servers = self.fleet.servers();
        let snapshots: Vec<_> = servers.iter().map(|s| (s, s.snapshot(), s.health())).collect();

        // Per-user gauges: every user with history in the window or streaming now.
        let empty = crate::snapshot::Live::default();
        let blank = crate::detect::UserFinding::default();
        let mut users: Vec<(&str, String, &str, &crate::detect::UserFinding, &crate::snapshot::Live)> = Vec::new();
        for (server, snap, _) in &snapshots {
            let Some(snap) = snap else { continue };
            for f in &snap.findings {
                users.push((
                    &server.name,
                    f.user_id.to_string(),
                    &f.user,
                    f,
                    snap.live.get(&f.user_id).unwrap_or(&empty),
                ));
            }
            for (id, live) in &snap.live {
                if snap.finding(*id).is_none() {
                    users.push((&server.name, id.to_string(), &live.user, &blank, live));
                }
            }
        }
        for (name, help, value) in USER_GAUGES {
            let help = format!("{help} {NOTE}");
            let mut m = enc.encode_descriptor(name, &help, None, MetricType::Gauge)?;
            for (server, id, user, f, live) in &users {
                let labels = [("server", *server), ("user_id", id.as_str()), ("user", *user)];
                ConstGauge::new(value(f, live)).encode(m.encode_family(&labels)?)?;
            }
        }

        // Accounts on two or more servers, joined by user id (the plex.tv account).
        let accounts = self.fleet.accounts();
        for (name, help, value) in ACCOUNT_GAUGES {
            let help = format!("{help} {ACROSS} {NOTE}");
            let mut m = enc.encode_descriptor(name, &help, None, MetricType::Gauge)?;
            for a in &accounts.accounts {
                let id = a.finding.user_id.to_string();
                let labels = [("user_id", id.as_str()), ("user", a.finding.user.as_str())];
                ConstGauge::new(value(a)).encode(m.encode_family(&labels)?)?;
            }
        }

        // Exporter health, per server.
        let per_server = |f: &dyn Fn(
            &crate::snapshot::Health,
            Option<&crate::snapshot::Snapshot>,
        ) -> Option<f64>|
         -> Vec<(Labels, f64)> {
            snapshots
                .iter()
                .filter_map(|(s, snap, h)| {
                    f(h, snap.as_deref()).map(|v| (vec![("server", s.name.as_str())], v))
                })
                .collect()
        };
        let up = per_server(&|h, _| Some(f64::from(u8::from(h.up))));
        gauge_family(
            &mut enc,
            "plex_sharing_up",
            "1 if the last refresh from this Tautulli succeeded; 0 while serving older data.",
            &up,
        )?;
        let dur = per_server(&|h, _| (h.attempts > 0).then_some(h.last_duration));
        gauge_family(
            &mut enc,
            "plex_sharing_refresh_duration_seconds",
            "Duration of the last refresh (fetch, locate, analyse).",
            &dur,
        )?;
        let last = per_server(&|h, _| h.last_success);
        gauge_family(
            &mut enc,
            "plex_sharing_last_refresh_success_timestamp_seconds",
            "Unix time the last successful refresh finished.",
            &last,
        )?;
        let rows = per_server(&|_, s| s.map(|s| s.rows as f64));
        gauge_family(
            &mut enc,
            "plex_sharing_history_rows",
            "History sessions in the window of the last good snapshot.",
            &rows,
        )?;

        let mut m = enc.encode_descriptor(
            "plex_sharing_refresh_failures",
            "Failed refreshes by reason (connect, timeout, auth, api_error, server_error, decode, too_large, too_many_rows, request, deadline).",
            None,
            MetricType::Counter,
        )?;
        for (s, _, h) in &snapshots {
            for (reason, n) in &h.failures {
                ConstCounter::new(*n).encode(m.encode_family(&[("server", s.name.as_str()), ("reason", *reason)])?)?;
            }
        }
        // Bad rows do not fail a refresh; these make them visible.
        for (name, help, pick) in [
            (
                "plex_sharing_history_rows_skipped",
                "History rows dropped while reading, by reason (duplicate, not_an_object, undecodable, no_user_id, no_started, absurd_time, live_row); a row re-read by several refreshes counts each time.",
                (|r| &r.skipped) as fn(&crate::snapshot::ReadStats) -> &std::collections::BTreeMap<&'static str, u64>,
            ),
            (
                "plex_sharing_history_rows_repaired",
                "History rows kept after a repair, by reason (bad_ip: address treated as unknown, negative_duration: treated as 0, absurd_duration: cut to two days); counted on each read.",
                |r| &r.repaired,
            ),
        ] {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (s, _, h) in &snapshots {
                for (reason, n) in pick(&h.read_totals) {
                    ConstCounter::new(*n).encode(m.encode_family(&[("server", s.name.as_str()), ("reason", *reason)])?)?;
                }
            }
        }
        let mut m = enc.encode_descriptor(
            "plex_sharing_history_count_mismatches",
            "History queries whose row count disagreed with Tautulli's recordsFiltered (rows written while paging, or a wrong count); the rows received are used.",
            None,
            MetricType::Counter,
        )?;
        for (s, _, h) in &snapshots {
            ConstCounter::new(h.read_totals.count_mismatches)
                .encode(m.encode_family(&[("server", s.name.as_str())])?)?;
        }
        let mut m = enc.encode_descriptor(
            "plex_sharing_tautulli_requests",
            "Tautulli API requests by command and outcome (success or an error reason).",
            None,
            MetricType::Counter,
        )?;
        for (s, _, _) in &snapshots {
            for ((cmd, outcome), n) in s.client.stats().snapshot() {
                ConstCounter::new(n).encode(m.encode_family(&[
                    ("server", s.name.as_str()),
                    ("cmd", cmd.as_str()),
                    ("outcome", outcome),
                ])?)?;
            }
        }
        let mut m = enc.encode_descriptor(
            "plex_sharing_geoip_lookups",
            "GeoIP lookups by provider (mmdb, tautulli, table, override, cache) and outcome (hit, miss, invalid, error).",
            None,
            MetricType::Counter,
        )?;
        for ((provider, outcome), n) in self.fleet.locator().stats().snapshot() {
            ConstCounter::new(n).encode(m.encode_family(&[("provider", provider), ("outcome", outcome)])?)?;
        }
        let entries = [(Vec::new(), self.fleet.locator().cache_entries() as f64)];
        gauge_family(
            &mut enc,
            "plex_sharing_geoip_cache_entries",
            "Addresses in the GeoIP cache.",
            &entries,
        )?;

        let build = [(
            vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("revision", option_env!("PSE_GIT_REVISION").unwrap_or("unknown")),
            ],
            1.0,
        )];
        gauge_family(
            &mut enc,
            "plex_sharing_build_info",
            "Build information; always 1.",
            &build,
        )?;
        let web = [(vec![("external_url", self.external_url.as_str())], 1.0)];
        gauge_family(
            &mut enc,
            "plex_sharing_web_info",
            "The exporter's public base URL (for report links in alerts); always 1.",
            &web,
        )?;
        self.encode_service(&mut enc)
    }
}

impl Exporter {
    fn encode_service(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.service;
        let open = [(Vec::new(), s.open_connections.load(Ordering::Relaxed) as f64)];
        gauge_family(
            enc,
            "plex_sharing_web_connections",
            "HTTP connections open now (at most --web.max-connections).",
            &open,
        )?;
        let m = enc.encode_descriptor(
            "plex_sharing_web_connections_rejected",
            "Connections turned away because --web.max-connections were open (they still answer /-/healthy and /-/ready).",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(s.rejected_connections.load(Ordering::Relaxed)).encode(m)?;
        let (ok, at) = s.last_reload();
        gauge_family(
            enc,
            "plex_sharing_config_last_reload_successful",
            "1 if the last load of --config.file and --web.config.file (at start, SIGHUP or POST /-/reload) succeeded.",
            &[(Vec::new(), f64::from(u8::from(ok)))],
        )?;
        gauge_family(
            enc,
            "plex_sharing_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load.",
            &[(Vec::new(), at)],
        )?;
        Ok(())
    }
}

/// One rendered exposition, shared by every scrape until it is stale.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Content type of `body`.
    pub content_type: &'static str,
    /// The exposition.
    pub body: Bytes,
    /// `body` gzip-compressed, made on the first scrape that accepts gzip.
    gzip: Option<Bytes>,
    at: Instant,
    version: u64,
}

impl Rendered {
    /// The body compressed with gzip.
    pub fn gzip(&mut self) -> Bytes {
        if let Some(gz) = &self.gzip {
            return gz.clone();
        }
        let mut enc =
            flate2::write::GzEncoder::new(Vec::with_capacity(self.body.len() / 8), flate2::Compression::fast());
        let gz = match enc.write_all(&self.body).and_then(|_| enc.finish()) {
            Ok(v) => Bytes::from(v),
            Err(_) => self.body.clone(),
        };
        self.gzip = Some(gz.clone());
        gz
    }
}

/// How long a rendered exposition is served before counters are read again. User
/// values only change with a refresh (which re-renders at once); this bounds how stale
/// request counters can be while a refresh is running.
const MAX_AGE: Duration = Duration::from_secs(1);

/// The registry holding the exporter's collector, and the last rendering per format.
/// Rendering 1000 users takes milliseconds; serving the cached bytes takes microseconds,
/// so many concurrent scrapers cost one rendering per refresh (or per second).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    exporter: Arc<Exporter>,
    cache: Mutex<[Option<Rendered>; 2]>,
}

impl Metrics {
    /// Register `exporter`.
    pub fn new(exporter: Arc<Exporter>) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(exporter.clone()));
        Metrics {
            registry,
            exporter,
            cache: Mutex::new([None, None]),
        }
    }

    /// The exposition for a scraper whose `Accept` header is `accept` (OpenMetrics when
    /// asked for, else text 0.0.4), re-rendered when a refresh changed anything or the
    /// cached one is older than a second.
    pub fn render(&self, accept: &str) -> Rendered {
        let openmetrics = accept.contains("application/openmetrics-text");
        let version = self.exporter.fleet.stamp();
        let Ok(mut cache) = self.cache.lock() else {
            return self.encode(openmetrics, version);
        };
        let slot = &mut cache[usize::from(openmetrics)];
        match slot {
            Some(r) if r.version == version && r.at.elapsed() < MAX_AGE => r.clone(),
            _ => {
                let r = self.encode(openmetrics, version);
                *slot = Some(r.clone());
                r
            }
        }
    }

    /// Gzip the cached exposition in place (so later scrapes reuse it) and return it.
    pub fn gzip(&self, rendered: &Rendered) -> Bytes {
        let openmetrics = rendered.content_type == OPENMETRICS;
        if let Ok(mut cache) = self.cache.lock() {
            if let Some(r) = cache[usize::from(openmetrics)].as_mut().filter(|r| r.at == rendered.at) {
                return r.gzip();
            }
        }
        rendered.clone().gzip()
    }

    fn encode(&self, openmetrics: bool, version: u64) -> Rendered {
        let mut body = String::with_capacity(256 * 1024);
        let content_type = if openmetrics {
            let _ = prometheus_client::encoding::text::encode(&mut body, &self.registry);
            OPENMETRICS
        } else {
            let _ = prometheus_client::encoding::prometheus_text::encode(&mut body, &self.registry);
            TEXT_004
        };
        Rendered {
            content_type,
            body: Bytes::from(body),
            gzip: None,
            at: Instant::now(),
            version,
        }
    }
}
