//! Command-line interface: parsing, dispatch, and exit codes.

#[macro_use]
mod stdout;
mod args;
mod behind;
mod check;
mod clean;
mod codecs;
mod compare;
mod dispatch;
mod exec;
mod exit;
mod history;
mod import;
mod k8s;
mod lb;
mod merge;
mod node;
mod probe;
mod progress;
mod proxy;
mod run;
mod schema;
mod validate;

pub use dispatch::*;
pub use exit::ExitCode;
