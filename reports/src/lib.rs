//! sessionbench's results model and its renderers. It knows nothing about processes or HTTP:
//! it turns checked results into text (terminal tables, Markdown, JSON).

mod codecs;
mod comparison;
mod model;
mod render;

pub use codecs::{
    CodecReport, CodecResult, Compatibility, EvolutionRow, NodeDeployRow, ShapeReport, Timing,
    codecs_markdown, codecs_table,
};
pub use model::{
    Continuity, ExpectationResult, FORMAT_VERSION, FaultWindow, Latency, Ops, Phase, Recovery,
    Replication, Results, RunOf, Sessions, StoreTraffic, TargetResult, Verdict, Violation,
};
pub use render::{markdown, table};
