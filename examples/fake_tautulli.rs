//! The test suite's simulated Tautulli, served on its own for benchmarks (`benches/read.sh`
//! with `FAKE=own`). Unlike `../shared/bench/fake_tautulli.py` it sorts history as asked,
//! as Tautulli does, and `--lookup-delay-ms` makes each `get_geoip_lookup` take as long as
//! plex.tv answering across the internet. `--history-cost MS,US,US` makes each
//! `get_history` answer cost what it costs Tautulli, one answer at a time: milliseconds
//! per request, then microseconds per row the filters match and per row returned (see
//! [`HistoryCost`]; `docs/performance.md` says how the figures were chosen).
//!
//! ```text
//! cargo run --release --example fake_tautulli -- PORT DATASET.json --api-key KEY
//!     [--rebase-now] [--lookup-delay-ms N] [--history-cost MS,US,US]
//! ```
//!
//! `DATASET.json` is `gen_bench_data.py`'s format (`users`, `history`, `geo`, `meta.now`).
//! Prints `READY http://127.0.0.1:PORT ...` on stdout once listening, and on SIGTERM or
//! Ctrl-C `fake_tautulli: N request(s): cmd=n, ...` on stderr, as the Python fake does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use plex_sharing_exporter::simulator::{Dataset, FakeTautulli, HistoryCost};
use serde_json::Value;

struct Args {
    port: u16,
    dataset: String,
    api_key: String,
    rebase_now: bool,
    lookup_delay: Duration,
    history_cost: HistoryCost,
}

/// A non-negative number of `unit`s as a duration.
fn duration(text: &str, unit: f64) -> Option<Duration> {
    let n: f64 = text.trim().parse().ok()?;
    Duration::try_from_secs_f64(n * unit).ok()
}

/// `MS,US,US`: per request, per row matched, per row returned.
fn history_cost(text: &str) -> Option<HistoryCost> {
    let parts: Vec<&str> = text.split(',').collect();
    let [request, filtered, returned] = parts.as_slice() else {
        return None;
    };
    Some(HistoryCost {
        per_request: duration(request, 1e-3)?,
        per_filtered_row: duration(filtered, 1e-6)?,
        per_returned_row: duration(returned, 1e-6)?,
    })
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let (mut api_key, mut rebase_now, mut lookup_delay) = (None, false, Duration::ZERO);
    let mut cost = HistoryCost::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--api-key" => api_key = it.next(),
            "--rebase-now" => rebase_now = true,
            "--lookup-delay-ms" => {
                lookup_delay = (it.next().and_then(|v| duration(&v, 1e-3)))
                    .ok_or("--lookup-delay-ms: not a number of milliseconds")?;
            }
            "--history-cost" => {
                cost = (it.next().and_then(|v| history_cost(&v)))
                    .ok_or("--history-cost: expected MS,US,US (per request, per row matched, per row returned)")?;
            }
            _ => positional.push(arg),
        }
    }
    let [port, dataset] = <[String; 2]>::try_from(positional).map_err(|_| "expected PORT DATASET.json")?;
    Ok(Args {
        port: port.parse().map_err(|_| format!("PORT: not a port: {port}"))?,
        dataset,
        api_key: api_key.ok_or("--api-key KEY is required")?,
        rebase_now,
        lookup_delay,
        history_cost: cost,
    })
}

/// The dataset file as `gen_bench_data.py` writes it; with `rebase_now`, history moves by
/// whole days so that the newest play is recent again (times of day unchanged; users'
/// `last_seen`, which the exporter does not read, stays).
fn load(path: &str, rebase_now: bool) -> Result<Dataset, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut raw: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let take_list = |raw: &mut Value, key: &str| match raw.get_mut(key).map(Value::take) {
        Some(Value::Array(rows)) => rows,
        _ => Vec::new(),
    };
    let geo = match raw.get_mut("geo").map(Value::take) {
        Some(Value::Object(map)) => map.into_iter().collect(),
        _ => Default::default(),
    };
    let mut dataset = Dataset {
        users: take_list(&mut raw, "users"),
        history: take_list(&mut raw, "history"),
        geo,
        activity: Vec::new(),
    };
    let then = raw.pointer("/meta/now").and_then(Value::as_i64);
    if let (true, Some(then)) = (rebase_now, then) {
        let now = jiff::Timestamp::now().as_second();
        dataset.shift_history((now - then).div_euclid(86_400) * 86_400);
    }
    Ok(dataset)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fake_tautulli: {e}");
            return ExitCode::from(2);
        }
    };
    let dataset = match load(&args.dataset, args.rebase_now) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("fake_tautulli: {e}");
            return ExitCode::from(2);
        }
    };
    let (users, history, geo) = (dataset.users.len(), dataset.history.len(), dataset.geo.len());
    let fake = FakeTautulli::new(dataset, &args.api_key, jiff::tz::TimeZone::system());
    fake.set_lookup_delay(args.lookup_delay);
    fake.set_history_cost(args.history_cost);
    let addr = match fake.spawn(SocketAddr::from(([127, 0, 0, 1], args.port)), "").await {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("fake_tautulli: cannot listen on port {}: {e}", args.port);
            return ExitCode::from(1);
        }
    };
    println!(
        "READY http://{addr} apikey={} users={users} history={history} geo={geo}",
        args.api_key
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fake_tautulli: {e}");
            return ExitCode::from(1);
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in fake.requests() {
        *counts.entry(r.cmd).or_default() += 1;
    }
    let total: usize = counts.values().sum();
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!("fake_tautulli: {total} request(s): {}", summary.join(", "));
    ExitCode::SUCCESS
}
