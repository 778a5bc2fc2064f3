//! plex-sharing-exporter: finds Plex account sharing in Tautulli's history.
//!
//! # Layout
//! Each module imports only modules listed above it; sources (Tautulli, GeoIP) and sinks
//! (terminal, JSON, metrics, pages) are thin adapters around one data path:
//! fetch → window → locate → analyse → snapshot.
//!
//! - [`untrusted`]: terminal and bidirectional controls in outside text, neutralised
//!   before the terminal report or a page shows it. Imports nothing from the crate.
//! - [`format`](mod@format): how times and durations are written, for every sink. Imports nothing
//!   from the crate.
//! - [`detect`]: pure detection over plain data (sessions, rules, networks, households,
//!   concurrency, impossible travel, score, ranking). No I/O, no async, no clock.
//! - [`tautulli`]: the Tautulli API v2 client: key and URL, calls and retries, paging,
//!   lenient decoding.
//! - [`geo`]: where an address is: local `.mmdb`, Tautulli's lookup, a moka cache.
//! - [`simulator`]: a simulated Tautulli HTTP server (demo and tests).
//! - [`report`]: the terminal and JSON reports of the `report` command.
//! - [`window`]: the rolling history window and its incremental refresh.
//! - [`memory`]: returning freed heap memory to the OS after big loads.
//! - [`snapshot`]: what a refresh produces and everyone reads: snapshots, health,
//!   the per-server state.
//! - [`accounts`]: the account view across servers: every snapshot's kept sessions
//!   joined by user id, for the accounts seen on two or more servers.
//! - [`refresh`]: one refresh of one server (fetch, window, locate, analyse) and its
//!   loop; `report` runs it once, `serve` on a timer.
//! - [`fleet`]: the watched servers and their refresh loops, one shared handle.
//! - [`metrics`]: the `/metrics` collector over the snapshots.
//! - [`web`]: landing page, drill-down reports (HTML, SVG, JSON), `/metrics`, health,
//!   `/runbook`; the HTTP server and its limits; basic auth, bearer tokens and TLS from
//!   `--web.config.file`.
//! - [`config`]: command-line flags and the configuration file, validated into the
//!   option structs of the layers above.
//! - [`reload`]: SIGHUP and `POST /-/reload`: the configuration files read again.
//! - [`app`]: the commands, wiring sources, detection and sinks together.
#![deny(missing_docs)]
#![recursion_limit = "256"]

pub mod accounts;
pub mod app;
pub mod config;
pub mod detect;
pub mod fleet;
pub mod format;
pub mod geo;
pub mod memory;
pub mod metrics;
pub mod refresh;
pub mod reload;
pub mod report;
pub mod simulator;
pub mod snapshot;
pub mod tautulli;
pub mod untrusted;
pub mod web;
pub mod window;
