//! Which checks a run could judge: a check whose input no answer showed did not run, and
//! says so instead of counting as zero.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether a check ran, and on how many of the sessions that needed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CheckCoverage {
    /// `stale-read`, `lost-update`, ...
    pub check: String,
    /// What of it, where a check has parts fed by different answers (`writes`, `counter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    pub judged: Judged,
    /// Sessions that needed it (made a write, an increment, a logout, ...).
    pub sessions: u64,
    /// Of those, the sessions whose answers fed it.
    pub fed: u64,
    /// Why it was not judged for every session, and what would feed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CheckCoverage {
    /// `lost-update (increments)`.
    pub fn label(&self) -> String {
        match &self.part {
            Some(part) => format!("{} ({part})", self.check),
            None => self.check.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Judged {
    /// For every session that needed it.
    Judged,
    /// For some: its counts are of those sessions.
    Partly,
    /// For none: its counts say nothing, and an expectation on it leaves the verdict unknown.
    NotJudged,
}
