//! The run's history: every operation, fault and sample of a run as a [`Record`], streamed
//! while the run goes so an interrupted or crashed run keeps what happened. The checkers read
//! nothing else. Runs write the compact file ([`file`](mod@file)); older runs' JSON lines ([`jsonl`])
//! are still read, and `sessionbench history export` writes them for people's own tools.

pub mod file;
pub mod jsonl;
pub mod merge;
mod open;
mod wire;

pub use open::*;
/// The records' types are the data contract's; the rest of the harness names them from here.
pub use sessionbench_model::history::*;
