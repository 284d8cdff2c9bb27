//! The reference session node: an axum app speaking sessionbench's HTTP protocol.
//!
//! Every response that has a session carries the whole session view, so the harness judges
//! continuity from data rather than from the id string. docs/processes.md describes the protocol.

mod config;
mod cookie;
mod error;
mod metrics;
mod routes;
mod serve;

pub use config::{NodeConfig, SaveMode};
pub use metrics::{Handling, MetricsView, NodeMetrics};
pub use routes::{NODE_HEADER, Node, app};
pub use serve::run;

#[cfg(test)]
mod tests;
