//! sessionbench: measures how web tiers keep or lose user sessions under load and failure.
//!
//! This crate is the CLI and the engine. The reference targets it starts (session node, load
//! balancer) live in `sessionbench-targets` and run as subcommands of this same binary, so
//! every node is a real process that a fault can kill.

pub mod cli;
