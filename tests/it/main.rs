//! Integration tests: the real binary against a simulated Tautulli served over HTTP.

mod accounts;
mod browser;
mod cli;
mod config_errors;
mod faults;
mod helpers;
mod hostile_geo;
mod layering;
mod operators;
mod pages;
mod parity;
mod prometheus_e2e;
mod reload;
mod report;
mod runbook;
mod secrets;
mod serve;
mod web_limits;
