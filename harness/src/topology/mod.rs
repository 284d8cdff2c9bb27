//! Starting and supervising a target's processes (store, nodes, load balancer) and always stopping
//! them: on success, on error, on panic (Drop), on Ctrl-C, and even when the harness itself is
//! killed (the children ask the kernel for SIGKILL when their parent dies).

mod balancer_manager;
mod links;
mod liveness;
pub mod netns;
mod preflight;
mod process;
mod real_lb;
mod store;
mod target;
mod tomcat;

pub use links::Links;
pub use liveness::runs;
pub use preflight::missing as missing_programs;
pub use process::{NETNS_ENV, PARENT_DEATH_ENV, Process, StartError};
pub use real_lb::{PrivateDirs, sweep_private_dirs};
pub use store::{flush, redis_memory_and_keys};
pub use target::{Topology, Watched, WatchedKind};
