//! sessionbench's results model and its renderers. It knows nothing about processes or HTTP:
//! it turns checked results into text (terminal tables, Markdown, JSON).

mod codecs;
mod model;
mod render;

pub use codecs::{
    CodecReport, CodecResult, Compatibility, EvolutionRow, NodeDeployRow, ShapeReport, Timing,
    codecs_markdown, codecs_table,
};
pub use model::{
    ExpectationResult, FORMAT_VERSION, FaultWindow, Latency, Ops, Phase, Recovery, Replication,
    Results, Sessions, StoreTraffic, TargetResult, Verdict, Violation,
};
pub use render::{markdown, table};
