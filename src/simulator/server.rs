//! The simulated Tautulli itself ([`FakeTautulli`]): its state, the switches tests
//! turn, and serving it over HTTP ([`FakeServer`] stops and restarts on one address).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use jiff::tz::TimeZone;

use super::api::handle;
use super::dataset::{Dataset, Indexed};
use super::fault::Fault;

/// One request the server received (without the API key).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The `cmd` parameter.
    pub cmd: String,
    /// All other parameters.
    pub params: HashMap<String, String>,
}

/// The simulated Tautulli.
pub struct FakeTautulli {
    pub(super) data: RwLock<Indexed>,
    pub(super) api_key: String,
    pub(super) tz: TimeZone,
    pub(super) fault: Mutex<Option<Fault>>,
    pub(super) log: Mutex<Vec<Request>>,
    /// How long `get_geoip_lookup` takes: Tautulli asks plex.tv, across the internet.
    pub(super) lookup_delay: Mutex<Duration>,
    /// What each `get_history` answer costs, and the one interpreter that pays it.
    pub(super) history_cost: Mutex<HistoryCost>,
    pub(super) interpreter: tokio::sync::Mutex<()>,
}

/// What a `get_history` answer costs Tautulli, so that benchmarks weigh request plans as
/// Tautulli would: each request scans the table (`per_request`), each one rebuilds the
/// whole filtered result however little of it the page returns (`per_filtered_row`),
/// and each row returned is formatted (`per_returned_row`). Answers pay it one at a
/// time, as Tautulli's one Python interpreter does. Zero by default.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HistoryCost {
    /// Paid by every request, even one that matches no row.
    pub per_request: Duration,
    /// Paid for every row the date and user filters match.
    pub per_filtered_row: Duration,
    /// Paid for every row of the page returned.
    pub per_returned_row: Duration,
}

impl HistoryCost {
    /// The time an answer that matched `filtered` rows and returned `returned` takes.
    pub fn of(&self, filtered: usize, returned: usize) -> Duration {
        let rows = |per: Duration, n: usize| per.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        self.per_request
            .saturating_add(rows(self.per_filtered_row, filtered))
            .saturating_add(rows(self.per_returned_row, returned))
    }
}

impl FakeTautulli {
    /// A server with `dataset`, accepting `api_key`, whose local time zone is `tz`.
    pub fn new(dataset: Dataset, api_key: &str, tz: TimeZone) -> Arc<FakeTautulli> {
        Arc::new(FakeTautulli {
            data: RwLock::new(Indexed::new(dataset, &tz)),
            api_key: api_key.to_string(),
            tz,
            fault: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            lookup_delay: Mutex::new(Duration::ZERO),
            history_cost: Mutex::new(HistoryCost::default()),
            interpreter: tokio::sync::Mutex::new(()),
        })
    }

    /// Make every `get_geoip_lookup` take `delay`, as plex.tv answering over the internet.
    pub fn set_lookup_delay(&self, delay: Duration) {
        if let Ok(mut d) = self.lookup_delay.lock() {
            *d = delay;
        }
    }

    /// Make every `get_history` answer cost what `cost` says, one answer at a time.
    pub fn set_history_cost(&self, cost: HistoryCost) {
        if let Ok(mut c) = self.history_cost.lock() {
            *c = cost;
        }
    }

    /// Hold the interpreter for what an answer that matched `filtered` rows and returned
    /// `returned` costs.
    pub(super) async fn charge(&self, filtered: usize, returned: usize) {
        let cost = self
            .history_cost
            .lock()
            .map(|c| c.of(filtered, returned))
            .unwrap_or_default();
        if !cost.is_zero() {
            let _busy = self.interpreter.lock().await;
            tokio::time::sleep(cost).await;
        }
    }

    /// Replace the dataset (simulates Tautulli recording new plays).
    pub fn set_dataset(&self, dataset: Dataset) {
        if let Ok(mut d) = self.data.write() {
            *d = Indexed::new(dataset, &self.tz);
        }
    }

    /// Change the dataset in place.
    pub fn update(&self, f: impl FnOnce(&mut Dataset)) {
        if let Ok(mut d) = self.data.write() {
            let mut ds = std::mem::take(&mut d.dataset);
            f(&mut ds);
            *d = Indexed::new(ds, &self.tz);
        }
    }

    /// Switch a fault on (`Some`) or off (`None`).
    pub fn set_fault(&self, fault: Option<Fault>) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Requests received for `cmd`.
    pub fn count(&self, cmd: &str) -> usize {
        self.requests().iter().filter(|r| r.cmd == cmd).count()
    }

    /// The HTTP routes, with the API under `{root}/api/v2`.
    pub fn router(self: &Arc<Self>, root: &str) -> Router {
        let path = format!("{}/api/v2", root.trim_end_matches('/'));
        Router::new().route(&path, get(handle)).with_state(self.clone())
    }

    /// Serve on `addr` (port 0 picks one) in the background; returns the bound address.
    pub async fn spawn(self: &Arc<Self>, addr: SocketAddr, root: &str) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let app = self.router(root);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(bound)
    }
}

/// A running simulated Tautulli that can stop listening and listen again on the same
/// address, to simulate "connection refused" and recovery.
pub struct FakeServer {
    fake: Arc<FakeTautulli>,
    addr: SocketAddr,
    root: String,
    running: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl FakeTautulli {
    /// Serve on `addr` (port 0 picks one) and return a handle that can stop and restart.
    pub async fn serve(self: &Arc<Self>, addr: SocketAddr, root: &str) -> std::io::Result<FakeServer> {
        let mut server = FakeServer {
            fake: self.clone(),
            addr,
            root: root.to_string(),
            running: None,
        };
        server.restart().await?;
        Ok(server)
    }
}

impl FakeServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop listening and close open connections: new connections are refused.
    pub async fn stop(&mut self) {
        if let Some((tx, task)) = self.running.take() {
            let _ = tx.send(());
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Listen again on the same address (no-op while running).
    pub async fn restart(&mut self) -> std::io::Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        self.addr = listener.local_addr()?;
        let app = self.fake.router(&self.root);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        self.running = Some((tx, task));
        Ok(())
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some((tx, _)) = self.running.take() {
            let _ = tx.send(());
        }
    }
}
