//! sessionbench's results model and its renderers. It knows nothing about processes or HTTP:
//! it turns checked results into text (terminal tables, Markdown, JSON).

mod model;
mod render;

pub use model::{
    ExpectationResult, FORMAT_VERSION, FaultWindow, Latency, Ops, Phase, Replication, Results,
    Sessions, TargetResult, Verdict, Violation,
};
pub use render::{markdown, table};
