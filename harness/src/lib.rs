//! sessionbench: measures how web tiers keep or lose user sessions under load and failure.
//!
//! This crate is the CLI and the engine: suite → plan → topology + driver (load, faults) →
//! history → checkers → results. The reference targets it starts (session node, load balancer)
//! live in `sessionbench-targets` and run as subcommands of this same binary, so every node is
//! a real process that a fault can kill.

pub mod checkers;
pub mod cli;
pub mod codecs;
pub mod driver;
pub mod faults;
pub mod history;
pub mod import;
pub mod load;
pub mod metrics;
pub mod pem;
pub mod protocol;
pub mod results;
pub mod run_dir;
pub mod shards;
pub mod shell;
pub mod suite;
pub mod timer;
pub mod topology;
