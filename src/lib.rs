//! plex-sharing-exporter: finds Plex account sharing in Tautulli's history.
//!
//! # Layout
//! - [`untrusted`]: terminal and bidirectional controls in outside text, neutralised
//!   before the terminal report or a page shows it. Imports nothing from the crate.
//! - [`format`]: how times and durations are written, for every sink. Imports nothing
//!   from the crate.
//! - [`detect`]: pure detection over plain data (networks, devices, concurrency,
//!   impossible travel, score). No I/O, no async, no clock.
//! - [`tautulli`]: the Tautulli API v2 client: paging, lenient decoding, retries,
//!   API-key redaction.
//! - [`geo`]: where an address is: local `.mmdb`, Tautulli's lookup, a moka cache.
//! - [`report`]: the terminal and JSON reports of the `report` command.
//! - [`window`]: the rolling history window and its incremental refresh.
//! - [`snapshot`]: what a refresh produces and everyone reads: snapshots, health,
//!   the per-server state.
//! - [`refresh`]: the refresh of one server (fetch, locate, analyse) and its loop.
//! - [`fleet`]: the watched servers and their refresh loops, one shared handle.
//! - [`memory`]: returning freed heap memory to the OS after big loads.
//! - [`metrics`]: the `/metrics` collector over the snapshots.
//! - [`web`]: landing page, drill-down reports (HTML, SVG, JSON), `/metrics`, health;
//!   basic auth, bearer tokens and TLS from `--web.config.file`.
//! - [`config`]: command-line flags and their validation.
//! - [`simulator`]: a simulated Tautulli HTTP server (demo and tests).
//! - [`reload`]: SIGHUP and `POST /-/reload`: the configuration files read again.
//! - [`app`]: the commands, wiring sources, detection and sinks together.
#![deny(missing_docs)]
#![recursion_limit = "256"]

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
