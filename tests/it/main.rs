//! Integration tests: the real binary against a simulated Tautulli served over HTTP.

mod cli;
mod helpers;
mod parity;
mod prometheus_e2e;
mod report;
mod serve;
