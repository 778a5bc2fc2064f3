//! The commands: wire a source (Tautulli, GeoIP) through detection into a sink.

use std::io::{IsTerminal, Write};

use jiff::Timestamp;

use crate::config::{self, ConfigError, Format, ReportArgs};
use crate::detect::{Rules, UserFinding};
use crate::geo::{self, CacheOptions, Locator, MmdbProvider, Provider};
use crate::refresh::{RefreshError, Refresher, Scope};
use crate::report::{json, text, Context};
use crate::tautulli::{self, Client, HistoryFetch};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad configuration (exit status 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Tautulli could not be read.
    #[error(transparent)]
    Tautulli(#[from] tautulli::Error),
    /// GeoIP could not be set up.
    #[error(transparent)]
    Geo(#[from] geo::GeoError),
    /// `--user` named nobody.
    #[error("user {0:?} not found in Tautulli's users table")]
    UnknownUser(String),
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    Output(#[from] std::io::Error),
}

impl AppError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// A progress line on stderr, drawn only when stderr is a terminal.
#[derive(Clone, Copy)]
struct Progress {
    enabled: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn update(&self, f: &HistoryFetch) {
        if self.enabled {
            let done = f.days_done;
            let width = 30usize;
            let filled = (done * width).checked_div(f.days).unwrap_or(width).min(width);
            eprint!(
                "\rFetching history [{}{}] {done}/{} days, {} rows ",
                "#".repeat(filled),
                " ".repeat(width - filled),
                f.days,
                f.rows
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

/// `report`: one refresh, as `serve` runs it (narrowed to `--user`, without live
/// streams, with a progress line), then the terminal or JSON report of its snapshot.
pub async fn run_report(args: ReportArgs, out: &mut dyn Write) -> Result<(), AppError> {
    if args.config_file.is_some() {
        return run_report_servers(args, out).await;
    }
    let opts = args.tautulli.resolve(std::env::var("TAUTULLI_HOST").ok())?;
    let rules: Rules = args.detect.resolve()?;
    let tz = config::time_zone(&args.timezone)?;
    let client = Client::new(opts)?;
    let providers = geo_providers(args.geoip_db.as_deref(), args.geo.then_some(&client))?;
    let cache = CacheOptions {
        concurrency: config::geoip_concurrency(args.geoip_concurrency)?,
        ..CacheOptions::default()
    };
    let overrides = config::parse_overrides("--geoip-override", &args.geoip_override)?;
    let mut locator = Locator::new(providers, cache);
    locator.set_overrides(overrides);
    if let Some(path) = &args.asn_db {
        locator.set_asn_db(Some(crate::geo::AsnDb::open(path).map_err(|e| ConfigError {
            flag: "--asn-db".into(),
            problem: e.to_string(),
        })?));
    }
    if let Some(path) = &args.geoip_cache_file {
        locator = locator.with_cache_file(path.clone()).await;
    }
    let refresh = config::RefreshArgs::default().resolve(args.detect.days, rules.clone())?;
    let now = args.now.unwrap_or_else(|| Timestamp::now().as_second());

    let progress = Progress::new();
    let mut refresher = Refresher::scoped(Scope {
        user: args.user.clone(),
        skip_live: true,
        progress: Some(Box::new(move |f| progress.update(f))),
    });
    let result = refresher.refresh("report", &client, &locator, &refresh, now).await;
    progress.finish();
    locator.save().await;
    let snapshot = match result {
        Ok(s) => s,
        Err(RefreshError::UnknownUser(name)) => return Err(AppError::UnknownUser(name)),
        Err(RefreshError::Tautulli(e)) => return Err(AppError::Tautulli(e)),
    };
    if !snapshot.read.is_clean() {
        tracing::warn!(
            skipped = ?snapshot.read.skipped,
            repaired = ?snapshot.read.repaired,
            count_mismatches = snapshot.read.count_mismatches,
            "some history rows were skipped or repaired"
        );
    }
    let findings = &snapshot.findings;
    let ctx = Context {
        tz,
        locations: snapshot.locations.clone(),
        window: snapshot.window,
        generated_at: Timestamp::now().as_second(),
    };
    match args.format {
        Format::Json => {
            let doc = json::document(
                findings,
                &ctx,
                &rules.scoring,
                rules.min_score,
                source(&client, &snapshot),
            );
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Text => text_report(out, findings, &ctx, &args, &rules)?,
    }
    tracing::debug!(requests = client.stats().total(), "done");
    Ok(())
}

/// The terminal report of one server's findings: the flagged users' devices, and the
/// timeline and address usage when asked for.
fn text_report(
    out: &mut dyn Write,
    findings: &[std::sync::Arc<UserFinding>],
    ctx: &Context,
    args: &ReportArgs,
    rules: &Rules,
) -> Result<(), AppError> {
    let flagged: Vec<&UserFinding> = findings.iter().map(|f| &**f).filter(|f| f.flagged).collect();
    if flagged.is_empty() {
        writeln!(out, "{}", text::NOBODY_FLAGGED)?;
    } else {
        text::device_report(out, &flagged, ctx, rules.travel.max_speed_kmh)?;
        if args.timeline {
            text::timeline_report(out, &flagged, ctx)?;
        }
    }
    if args.top_ips {
        let all: Vec<&UserFinding> = findings.iter().map(|f| &**f).collect();
        text::ip_report(out, &all, ctx)?;
    }
    Ok(())
}

/// `report --config.file`: one refresh of each server, each reported as `report` reports
/// one, then the accounts seen on two or more servers, their sessions analysed
/// together. `--user` narrows every server that knows the user (and fails only when
/// none does); a server that cannot be read fails the report.
async fn run_report_servers(args: ReportArgs, out: &mut dyn Write) -> Result<(), AppError> {
    let config::Loaded {
        servers,
        overrides,
        asn_db,
        geoip_cache_file,
    } = args.server_source().load()?;
    let rules: Rules = args.detect.resolve()?;
    let tz = config::time_zone(&args.timezone)?;
    let clients: Vec<(String, Client)> = servers
        .into_iter()
        .map(|s| Client::new(s.client).map(|c| (s.name, c)))
        .collect::<Result<_, _>>()?;
    let fallback = clients.first().map(|(_, c)| c).filter(|_| args.geo);
    let providers = geo_providers(args.geoip_db.as_deref(), fallback)?;
    let cache = CacheOptions {
        concurrency: config::geoip_concurrency(args.geoip_concurrency)?,
        ..CacheOptions::default()
    };
    let mut locator = Locator::new(providers, cache);
    locator.set_overrides(overrides);
    locator.set_asn_db(asn_db);
    if let Some(path) = geoip_cache_file {
        locator = locator.with_cache_file(path).await;
    }
    let mut refresh = config::RefreshArgs::default().resolve(args.detect.days, rules.clone())?;
    refresh.keep_sessions = true;
    let now = args.now.unwrap_or_else(|| Timestamp::now().as_second());

    let mut reports = Vec::new();
    for (name, client) in &clients {
        let progress = Progress::new();
        let mut refresher = Refresher::scoped(Scope {
            user: args.user.clone(),
            skip_live: true,
            progress: Some(Box::new(move |f| progress.update(f))),
        });
        let result = refresher.refresh(name, client, &locator, &refresh, now).await;
        progress.finish();
        match result {
            Ok(snapshot) => reports.push((name.as_str(), client, snapshot)),
            // The user is on another server.
            Err(RefreshError::UnknownUser(_)) => {}
            Err(RefreshError::Tautulli(e)) => return Err(AppError::Tautulli(e)),
        }
    }
    locator.save().await;
    if let (true, Some(user)) = (reports.is_empty(), &args.user) {
        return Err(AppError::UnknownUser(user.clone()));
    }
    let parts: Vec<crate::accounts::Part> = reports.iter().map(|(n, _, s)| (*n, s, false)).collect();
    let accounts = crate::accounts::assemble(&parts, &rules, &Default::default());
    let generated_at = Timestamp::now().as_second();
    let context = |locations: &std::collections::HashMap<std::net::IpAddr, String>, window| Context {
        tz: tz.clone(),
        locations: locations.clone(),
        window,
        generated_at,
    };
    let across = context(&accounts.view.locations, accounts.view.window);
    match args.format {
        Format::Json => {
            let mut servers = Vec::new();
            for (name, client, snapshot) in &reports {
                let source = source(client, snapshot);
                let ctx = context(&snapshot.locations, snapshot.window);
                servers.push(json::ServerDocument {
                    server: name,
                    document: json::document(&snapshot.findings, &ctx, &rules.scoring, rules.min_score, source),
                });
            }
            let doc = json::ServersDocument {
                generated_at: crate::format::rfc3339(generated_at),
                servers,
                accounts: json::accounts(&accounts.accounts, &across),
            };
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Text => {
            for (name, _, snapshot) in &reports {
                writeln!(out, "\n### Server {}", crate::untrusted::Shown(name))?;
                let ctx = context(&snapshot.locations, snapshot.window);
                text_report(out, &snapshot.findings, &ctx, &args, &rules)?;
            }
            text::across_servers_report(out, &accounts.accounts, &across)?;
        }
    }
    Ok(())
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Bind the web listener, naming the flag if it fails.
pub async fn bind(web: &config::Web) -> Result<tokio::net::TcpListener, AppError> {
    tokio::net::TcpListener::bind(web.listen).await.map_err(|e| {
        AppError::Config(ConfigError {
            flag: "--web.listen-address".into(),
            problem: format!("cannot listen on {}: {e}", web.listen),
        })
    })
}

/// Run the exporter on `listener` until `shutdown` resolves: one refresh loop per server,
/// and the web routes. The servers stay as given; SIGHUP and `POST /-/reload` re-read
/// `--web.config.file` only.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    servers: Vec<std::sync::Arc<crate::snapshot::ServerState>>,
    locator: Locator,
    opts: crate::refresh::RefreshOptions,
    web: config::Web,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    serve_with(listener, servers, None, locator, opts, web, shutdown).await
}

/// [`serve_on`], with the servers read again from `source` on every reload.
async fn serve_with(
    listener: tokio::net::TcpListener,
    servers: Vec<std::sync::Arc<crate::snapshot::ServerState>>,
    source: Option<config::ServerSource>,
    locator: Locator,
    opts: crate::refresh::RefreshOptions,
    web: config::Web,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    use std::sync::Arc;
    // From here on SIGHUP reloads instead of ending the process.
    let hangups = crate::reload::Hangups::install();
    let (min_score, max_speed_kmh) = (opts.rules.min_score, opts.rules.travel.max_speed_kmh);
    let fleet = Arc::new(crate::fleet::Fleet::start(servers, locator, Arc::new(opts)));
    fleet.keep_accounts_fresh();
    let service = Arc::new(crate::metrics::ServiceStats::default());
    let shared = Arc::new(crate::web::auth::Shared::new(web.config.clone()));
    let reloader = Arc::new(crate::reload::Reloader::new(
        source,
        web.config_file.clone(),
        fleet.clone(),
        shared.clone(),
        service.clone(),
    ));
    let sighup = tokio::spawn(hangups.reload_on_each(reloader.clone()));
    let exporter = Arc::new(crate::metrics::Exporter {
        fleet: fleet.clone(),
        external_url: web.external_url.clone(),
        service: service.clone(),
    });
    let state = Arc::new(crate::web::Web {
        metrics: crate::metrics::Metrics::new(exporter),
        fleet: fleet.clone(),
        telemetry_path: web.telemetry_path.clone(),
        external_url: web.external_url.clone(),
        pages: crate::web::pages::Settings {
            prefix: web.route_prefix.clone(),
            telemetry_path: web.telemetry_path.clone(),
            ips: crate::web::mask::IpView { mask: web.mask_ips },
            min_score,
            max_speed_kmh,
        },
        config: shared.clone(),
        reload: reloader,
        cache: Default::default(),
    });
    let app = crate::web::router(state, &web.route_prefix);
    let address = listener.local_addr().map_err(AppError::Output)?;
    tracing::info!(
        address = %address,
        external_url = %web.external_url,
        servers = fleet.servers().len(),
        "listening"
    );
    if !address.ip().is_loopback() && web.config.auth.is_none() {
        tracing::warn!(
            address = %address,
            "the reports show viewers' addresses and places to anyone who can reach this port; \
             require credentials with --web.config.file or listen on 127.0.0.1"
        );
    }
    crate::web::server::serve(listener, app, shared, web.limits, service, shutdown).await;
    sighup.abort();
    let _ = sighup.await;
    // Stop the refresh loops and wait for them, so none is mid-poll when the runtime
    // shuts down.
    fleet.stop().await;
    Ok(())
}

/// What the JSON report says about where `snapshot`'s data came from.
fn source(client: &Client, snapshot: &crate::snapshot::Snapshot) -> json::Source {
    json::Source {
        tautulli_url: client.url().to_string(),
        api_requests: client.stats().total(),
        rows_received: snapshot.received,
        sessions: snapshot.rows as u64,
        rows_skipped: snapshot.read.skipped.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        count_mismatches: snapshot.count_mismatches.clone(),
    }
}

/// The GeoIP chain: the local database first, then Tautulli's lookup when asked for.
fn geo_providers(geoip_db: Option<&std::path::Path>, tautulli: Option<&Client>) -> Result<Vec<Provider>, AppError> {
    let mut providers = Vec::new();
    if let Some(path) = geoip_db {
        providers.push(Provider::Mmdb(MmdbProvider::open(path).map_err(|e| ConfigError {
            flag: "--geoip-db".into(),
            problem: e.to_string(),
        })?));
    }
    if let Some(c) = tautulli {
        providers.push(Provider::Tautulli(c.clone()));
    }
    Ok(providers)
}

/// `serve`: watch the configured Tautulli servers and serve metrics and reports.
pub async fn run_serve(args: config::ServeArgs) -> Result<(), AppError> {
    let config::Loaded {
        servers,
        overrides,
        asn_db,
        geoip_cache_file,
    } = args.server_source().load()?;
    let rules = args.detect.resolve()?;
    let mut opts = args.refresh.resolve(args.detect.days, rules)?;
    // Several servers (or a file that may list several after a reload): keep each
    // snapshot's sessions for the account view.
    opts.keep_sessions = servers.len() > 1 || args.config_file.is_some();
    let web = args.web.resolve()?;
    let states: Vec<_> = servers
        .into_iter()
        .map(|s| Client::new(s.client).map(|c| std::sync::Arc::new(crate::snapshot::ServerState::new(&s.name, c))))
        .collect::<Result<_, _>>()?;
    let fallback = states.first().map(|s| &s.client).filter(|_| args.geo.geo);
    let providers = geo_providers(args.geo.geoip_db.as_deref(), fallback)?;
    let locator = Locator::new(
        providers,
        CacheOptions {
            ttl: args.geo.cache_ttl,
            failure_ttl: args.geo.failure_ttl,
            capacity: args.geo.cache_capacity,
            concurrency: config::geoip_concurrency(args.geo.concurrency)?,
        },
    );
    locator.set_overrides(overrides);
    locator.set_asn_db(asn_db);
    if args.config_check {
        println!(
            "configuration OK: {} server(s): {}",
            states.len(),
            states.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        return Ok(());
    }
    let listener = bind(&web).await?;
    let source = Some(args.server_source());
    let locator = match geoip_cache_file {
        Some(path) => locator.with_cache_file(path).await,
        None => locator,
    };
    serve_with(listener, states, source, locator.clone(), opts, web, shutdown_signal()).await?;
    locator.save().await;
    Ok(())
}

/// The API key of the demo's simulated Tautulli.
pub const DEMO_API_KEY: &str = "demo0000000000000000000000000000";

/// `demo`: the exporter against two simulated Tautulli servers with a month of planted
/// behaviour; the second shares two accounts with the first (the account view).
pub async fn run_demo(args: config::DemoArgs) -> Result<(), AppError> {
    use std::sync::Arc;
    let rules = args.detect.resolve()?;
    let web = args.web.resolve()?;
    let refresh = config::RefreshArgs {
        interval: args.refresh_interval,
        ..config::RefreshArgs::default()
    };
    let mut opts = refresh.resolve(args.detect.days, rules)?;
    opts.keep_sessions = true;
    let now = Timestamp::now().as_second();
    let scenario = crate::simulator::scenario::demo(now, args.seed);
    let users = scenario.dataset.users.len();
    let rows = scenario.dataset.history.len() + scenario.second.history.len();
    let mut states = Vec::new();
    let mut urls = Vec::new();
    for (name, dataset) in [
        ("demo", scenario.dataset),
        (crate::simulator::scenario::SECOND_SERVER, scenario.second),
    ] {
        let fake = crate::simulator::FakeTautulli::new(dataset, DEMO_API_KEY, jiff::tz::TimeZone::UTC);
        let fake_addr = fake
            .spawn(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), "")
            .await
            .map_err(AppError::Output)?;
        let url = tautulli::TautulliUrl::parse(&format!("http://{fake_addr}")).map_err(|p| ConfigError {
            flag: "demo".into(),
            problem: p.to_string(),
        })?;
        let client = Client::new(tautulli::ClientOptions::new(url, tautulli::ApiKey::new(DEMO_API_KEY)))?;
        states.push(Arc::new(crate::snapshot::ServerState::new(name, client)));
        urls.push(format!("http://{fake_addr}"));
    }
    let locator = Locator::new(
        vec![Provider::Table(Arc::new(scenario.places))],
        CacheOptions::default(),
    );
    let listener = bind(&web).await?;
    let addr = listener.local_addr().map_err(AppError::Output)?;
    tracing::info!(
        simulated_tautulli = %urls.join(", "),
        users,
        history_rows = rows,
        "demo: simulated Tautulli servers started"
    );
    eprintln!(
        "plex-sharing-exporter demo: open {}/ (metrics at {}{}, listening on {addr}); Ctrl-C to stop",
        web.external_url, web.external_url, web.telemetry_path
    );
    serve_on(listener, states, locator, opts, web, shutdown_signal()).await
}
