//! From a suite file's text to a [`Plan`](sessionbench_model::plan::Plan): parse, merge the defaults, check every value, and
//! report every problem at once with its file, line, column and key path.

mod api;
mod errors;
mod expect;
mod faults;
mod lb;
mod network;
mod probe;
mod scenario;
mod section;
mod structure;
mod targets;
mod thresholds;
mod validator;
mod workload;

pub use errors::{SuiteError, SuiteErrors};
pub use validator::*;
