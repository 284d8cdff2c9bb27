//! `results.json`: what a run measured and concluded, per target. The analysis writes it;
//! `check`, `compare`, `merge` and the reports read it.

mod coverage;
mod fault;
mod kind;
mod results_of_run;
mod timing;

pub use coverage::{CheckCoverage, Judged};
pub use fault::{FaultWindow, Recovery};
pub use kind::KindResult;
pub use results_of_run::*;
pub use timing::{ChecksBehind, CpuPercent, Driver, LockWaits, SendLag, ServerLatency};
