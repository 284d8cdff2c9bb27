//! The validated, fully resolved plan of a run: what `validate()` makes of a suite file, what
//! the driver executes, and what `plan.json` stores so a run can be re-checked offline.

mod fault;
mod plan_of_run;
mod redis;
mod shard;
mod target;
mod url;
mod workload;

pub use fault::{CommandPlan, FaultKind, FaultPlan, Link, Probe};
pub use plan_of_run::*;
pub use redis::{AppendFsync, PasswordSource, RedisPlan};
pub use shard::{Shard, window};
pub use target::{
    Body, ExternalPlan, Extract, HttpApi, LbKind, LoggedOut, Network, RequestPlan, Shows, Strategy,
    TargetPlan, Thresholds,
};
pub use url::{ClientAddress, Scheme, TargetUrl, TlsPlan};
pub use workload::{Idle, LoadModel, Mix, Workload};
