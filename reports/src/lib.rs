//! sessionbench's results model and its renderers. It knows nothing about processes or HTTP:
//! it turns checked results into text (terminal tables, Markdown, JSON, JUnit XML, HTML) and
//! compares two runs.

mod agreement;
mod codecs;
mod compare;
mod comparison;
mod coverage;
mod details;
mod fault;
#[cfg(test)]
mod fixtures;
mod guarantees;
mod html;
mod junit;
mod markup;
mod model;
mod render;
mod timing;
mod units;

pub use codecs::{
    CodecReport, CodecResult, Compatibility, EvolutionRow, NodeDeployRow, ShapeReport, Timing,
    codecs_markdown, codecs_table,
};
pub use compare::{Change, CompareOptions, Comparison, MetricChange, compare, compare_markdown};
pub use html::html;
pub use junit::junit;
pub use model::{
    CheckCoverage, ChecksBehind, Continuity, CpuPercent, Driver, ExpectationResult, FORMAT_VERSION,
    FaultWindow, Judged, Latency, LockWaits, Ops, Phase, Recovery, Replication, Resources, Results,
    RunOf, Second, SendLag, ServerLatency, Sessions, StoreTraffic, TargetResult, Verdict,
    Violation, Window,
};
pub use render::{markdown, table};
