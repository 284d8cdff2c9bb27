//! Reference implementations that sessionbench runs and measures: the session node
//! ([`app`]), its session stores ([`store`]), the load balancer ([`lb`]) and the inline HTTP/1.1
//! client ([`http1`]) that the balancer and sessionbench's load driver share.
//!
//! Everything here runs as a subcommand of the one `sessionbench` binary, so each node is a
//! real process that a fault can kill. The harness never links these into its own process
//! except in component tests.

pub mod app;
pub mod cluster;
pub mod codec;
pub mod durations;
pub mod error_chain;
pub mod http1;
pub mod lb;
pub mod limits;
pub mod local_only;
pub mod names;
pub mod proxy;
pub mod readiness;
pub mod secret;
pub mod session;
pub mod shutdown;
pub mod spec;
pub mod store;
