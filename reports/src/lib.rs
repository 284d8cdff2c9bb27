//! sessionbench's renderers. It knows nothing about processes or HTTP: it turns checked
//! results (`sessionbench_model::results`) into text (terminal tables, Markdown, JUnit XML,
//! HTML) and compares two runs.

mod agreement;
mod cells;
mod codecs;
mod compare;
mod comparison;
mod details;
#[cfg(test)]
mod fixtures;
mod guarantees;
mod html;
mod junit;
mod kinds;
mod markup;
mod render;
mod units;

pub use codecs::{
    CodecReport, CodecResult, Compatibility, EvolutionRow, NodeDeployRow, ShapeReport, Timing,
    codecs_markdown, codecs_table,
};
pub use compare::{Change, CompareOptions, Comparison, MetricChange, compare, compare_markdown};
pub use html::html;
pub use junit::junit;
pub use render::{TERMINAL_COLUMNS, markdown, table};
