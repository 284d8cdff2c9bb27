//! Faults on a target: what each kind does when injected and how it heals.

mod command;
mod inject;

pub use inject::*;
