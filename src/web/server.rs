//! The HTTP server of `serve` and `demo`: HTTP/1.1 over TCP or TLS, with the limits that
//! keep one slow or hostile client from starving everyone else.
//!
//! - **Header-read timeout** (`--web.read-header-timeout`): a connection must send a
//!   request's headers within this time of connecting, or of its previous response; an
//!   idle keep-alive connection is closed when it passes too.
//! - **Idle timeout** (`--web.idle-timeout`): a connection that moves no byte either way
//!   for this long is closed (a client that stops reading its response holds nothing).
//! - **Connection cap** (`--web.max-connections`): a connection beyond it is counted as
//!   rejected and gets one request with a short header timeout, in which `/-/healthy`
//!   and `/-/ready` are answered as usual and anything else gets 503. Beyond a further
//!   [`OVERFLOW`] it is closed at once. Health probes stay outside the cap.
//! - TLS handshakes run in the connection's own task under the header-read timeout, and
//!   take the certificate in force when the connection arrives, so a reload applies to
//!   new connections.
//!
//! HTTP/2 is deliberately not served: Prometheus scrapes over HTTP/1.1, the pages are
//! small, and HTTP/2 would bring limits of its own to get right (streams, resets). TLS
//! offers only `http/1.1` in ALPN, and a cleartext HTTP/2 preface is refused.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::auth::Shared;
use crate::metrics::ServiceStats;

/// Connections beyond `--web.max-connections` that still get their one answer.
pub const OVERFLOW: usize = 64;

/// Header-read timeout of a connection beyond the cap.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// The limits of the web server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed to send a request's headers.
    pub read_header_timeout: Duration,
    /// Time a connection may move no data before it is closed.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// How a connection is served.
#[derive(Clone, Copy)]
enum Mode {
    /// Within the cap: every route, keep-alive.
    Full,
    /// Beyond the cap: health probes only, one request.
    Overflow,
}

/// Serve `app` on `listener` until `shutdown` resolves, then let requests in flight
/// finish (for up to ten seconds).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    web: Arc<Shared>,
    limits: Limits,
    stats: Arc<ServiceStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let overflow_app = app.clone().layer(middleware::from_fn(probes_only));
    let full = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; when all are gone, every connection is.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut accept_failing = false;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Usually out of file descriptors: say so once, wait instead of spinning.
                    if !accept_failing {
                        tracing::warn!(error = %e, "accepting connections fails; retrying");
                        accept_failing = true;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if accept_failing {
            tracing::info!("accepting connections again");
            accept_failing = false;
        }
        let (mode, permit) = match full.clone().try_acquire_owned() {
            Ok(p) => (Mode::Full, p),
            Err(_) => {
                stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
                match overflow.clone().try_acquire_owned() {
                    Ok(p) => (Mode::Overflow, p),
                    Err(_) => {
                        tracing::debug!(%peer, "connection closed: over the connection cap");
                        continue;
                    }
                }
            }
        };
        let conn = Connection {
            app: match mode {
                Mode::Full => app.clone(),
                Mode::Overflow => overflow_app.clone(),
            },
            mode,
            limits,
            stop: stop_rx.clone(),
            _permit: permit,
            _alive: alive_tx.clone(),
            _open: Open::new(stats.clone()),
        };
        let tls = web.get().tls;
        tokio::spawn(conn.run(stream, tls));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    if tokio::time::timeout(DRAIN, alive_rx.recv()).await.is_err() {
        tracing::warn!("requests still running after {DRAIN:?}; closing their connections");
    }
}

/// Answer `/-/healthy` and `/-/ready` as usual; everything else waits for a free slot.
async fn probes_only(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.ends_with("/-/healthy") || path.ends_with("/-/ready") {
        return next.run(req).await;
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1"), (header::CONNECTION, "close")],
        "Too many open connections; try again\n",
    )
        .into_response()
}

/// Counts a connection as open while it lives.
struct Open(Arc<ServiceStats>);

impl Open {
    fn new(stats: Arc<ServiceStats>) -> Open {
        stats.open_connections.fetch_add(1, Ordering::Relaxed);
        Open(stats)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One accepted connection and what it holds until it closes.
struct Connection {
    app: Router,
    mode: Mode,
    limits: Limits,
    stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
    _alive: mpsc::Sender<()>,
    _open: Open,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().ok();
        match tls {
            None => self.http(stream).await,
            Some(config) => {
                let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
                match tokio::time::timeout(self.header_timeout(), accept).await {
                    Ok(Ok(s)) => self.http(s).await,
                    Ok(Err(e)) => tracing::debug!(?peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
                }
            }
        }
    }

    fn header_timeout(&self) -> Duration {
        match self.mode {
            Mode::Full => self.limits.read_header_timeout,
            Mode::Overflow => OVERFLOW_HEADER_TIMEOUT.min(self.limits.read_header_timeout),
        }
    }

    /// Serve HTTP/1.1 on `io` until the client is done, a timeout passes or shutdown.
    async fn http<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(AtomicU64::new(ms_now()));
        let io = Watched {
            inner: io,
            activity: activity.clone(),
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout())
            .keep_alive(matches!(self.mode, Mode::Full));
        let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(self.app.clone()));
        tokio::pin!(conn);
        let idle_ms = u64::try_from(self.limits.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        let mut draining = false;
        loop {
            let quiet_ms = ms_now().saturating_sub(activity.load(Ordering::Relaxed));
            let wait = Duration::from_millis(idle_ms.saturating_sub(quiet_ms));
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = tokio::time::sleep(wait) => {
                    if ms_now().saturating_sub(activity.load(Ordering::Relaxed)) >= idle_ms {
                        tracing::debug!(idle = ?self.limits.idle_timeout, "closing an idle connection");
                        return;
                    }
                }
                r = self.stop.changed(), if !draining => {
                    draining = true;
                    if r.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// Milliseconds on a monotonic clock that starts with the first call.
fn ms_now() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A stream that notes when it last moved a byte.
struct Watched<I> {
    inner: I,
    activity: Arc<AtomicU64>,
}

impl<I> Watched<I> {
    fn moved(&self, n: usize) {
        if n > 0 {
            self.activity.store(ms_now(), Ordering::Relaxed);
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.moved(n);
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = r {
            self.moved(n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let std::task::Poll::Ready(Ok(n)) = r {
            self.moved(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
