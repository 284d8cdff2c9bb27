//! The driver owns a run: for each target in turn it starts the processes, runs the load and
//! the fault schedule side by side, and tears everything down whatever happens. It never
//! prints: everything it does is a [`Record`](crate::history::Record) sent to whoever listens (history, progress).

mod resources;
mod runs;
mod usage;

pub use runs::*;
