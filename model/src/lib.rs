//! The data contract between sessionbench's parts, kept apart from all of them: the plan of a
//! run ([`plan`], `plan.json`), the history's records ([`history`], `history.bin` and its JSON
//! lines export) and what the analysis concluded ([`results`], `results.json`). The harness
//! writes them, `check`, `merge` and `compare` read them back, and the reports render them;
//! each format carries its version, and `docs/schema/` holds a JSON Schema of each.

pub mod history;
pub mod plan;
pub mod results;
pub mod schema;
