//! From a plan and its history to [`Results`](sessionbench_model::results::Results): the checkers' findings per session, throughput
//! and latency per phase (before, during, after the faults), and a verdict per target. It
//! reads nothing but the plan and the history, so `sessionbench check` reproduces it offline.
//!
//! An [`Analysis`] takes records one at a time, as a run makes them or as a stored history
//! is read, so memory grows with the sessions alive, not with the run's length, and a run's
//! results are ready when its load ends.

mod analysis;
mod continuity;
mod coverage;
mod driver;
mod kinds;
mod known;
mod phases;
mod recovery;
mod segments;
mod story;
mod target;
mod thresholds;
mod timeline;
mod traffic;
mod units;
mod verdict;
mod windows;

pub use analysis::*;
