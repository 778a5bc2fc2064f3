//! Integration tests: the real binary against a simulated Tautulli served over HTTP.

mod cli;
mod config_errors;
mod faults;
mod helpers;
mod parity;
mod report;
mod secrets;
mod serve;
