//! Reference implementations that sessionbench runs and measures: the session node
//! ([`app`]), its session stores ([`store`]) and the load balancer ([`lb`]). What they share
//! with the harness (names, the HTTP/1.1 codec, secrets, durations) is `sessionbench-common`'s.
//!
//! Everything here runs as a subcommand of the one `sessionbench` binary, so each node is a
//! real process that a fault can kill. The harness never links these into its own process
//! except in component tests.

pub mod app;
pub mod cluster;
pub mod codec;
pub mod error_chain;
pub mod lb;
pub mod limits;
pub mod local_only;
pub mod proxy;
pub mod session;
pub mod shutdown;
pub mod spec;
pub mod store;

// Shared with the harness; `crate::names` and the like read as they did.
use sessionbench_common::{durations, http1, names, secret};
