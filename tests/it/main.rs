//! Integration tests: the real binary against a simulated Tautulli served over HTTP.

mod helpers;
mod parity;
mod report;
