//! Live metrics for Prometheus (`run --metrics-listen`): what the run has done and found so
//! far, from the same records the history file and the checks get, served as text on
//! loopback.

mod scrapers;
mod serve;
mod state;

pub use serve::{Metrics, bind};
pub use state::State;
