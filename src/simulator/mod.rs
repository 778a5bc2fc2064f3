//! A simulated Tautulli: an HTTP server speaking API v2 with Tautulli's envelope,
//! status codes and quirks (date filters on the server-local date of `started`,
//! `length=-1` dropping the last row, every error HTTP 400), serving an in-memory
//! dataset. The `demo` command and the integration tests use it; faults can be switched
//! on to test how clients cope.
//!
//! - [`dataset`]: what the server holds and builders for Tautulli-shaped rows.
//! - [`server`]: the server, its switches, and serving it over HTTP.
//! - `api`: the API v2 answers: commands, paging, date filters.
//! - [`fault`]: the misbehaviours that can be switched on.
//! - [`scenario`]: ready-made worlds for the demo and the tests.
//! - [`rng`]: a small seeded random number generator.

mod api;
pub mod dataset;
pub mod fault;
pub mod rng;
pub mod scenario;
pub mod server;

pub use dataset::{geo_row, user_row, Dataset, SessionSpec};
pub use fault::{Fault, ENDLESS_PAGE_MAX, GHOST_USER};
pub use server::{FakeServer, FakeTautulli, HistoryCost, Request};
