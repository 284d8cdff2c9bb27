//! A fault as a run saw it: when it struck and healed, what it cost, and how the target
//! came back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FaultWindow {
    pub kind: String,
    pub node: String,
    pub start_ms: f64,
    pub end_ms: Option<f64>,
    pub detail: Option<String>,
    /// Sessions found lost from this fault's start until the next fault's (or the end): what
    /// this fault cost, when faults are spaced apart.
    #[serde(default)]
    pub sessions_lost_after: u64,
    /// Sessions lost per second before the first fault (after the warm-up), where any were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_per_s_before: Option<f64>,
    /// Of `sessions_lost_after`, those beyond what that rate would have lost in the same span:
    /// the fault's own, for a strategy that loses sessions without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_lost_beyond: Option<u64>,
    /// Updates found lost (acknowledged, then undone) in the same span.
    #[serde(default)]
    pub updates_lost_after: u64,
    /// How the target came back from this fault (until the next fault starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
    /// It could not be applied (`detail` says why): unless `may-fail`, the run did not test
    /// what the suite asked, and its verdict is unknown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_fail: bool,
}

impl FaultWindow {
    /// `sessions lost after it: N`, and how many beyond the rate lost before the faults.
    pub fn lost_line(&self) -> String {
        match (self.sessions_lost_beyond, self.lost_per_s_before) {
            (Some(beyond), Some(rate)) => format!(
                "sessions lost after it: {} ({beyond} beyond the {rate:.1}/s lost before the faults)",
                self.sessions_lost_after
            ),
            _ => format!("sessions lost after it: {}", self.sessions_lost_after),
        }
    }

    /// `; N updates lost after it` when there were any, for the lines that name the fault.
    pub fn updates_lost(&self) -> String {
        if self.updates_lost_after == 0 {
            String::new()
        } else {
            format!("; updates lost after it: {}", self.updates_lost_after)
        }
    }

    /// One line naming the fault and when it struck.
    pub fn label(&self) -> String {
        format!(
            "the {} fault on {} at {:.1} s",
            self.kind,
            self.node,
            self.start_ms / 1000.0
        )
    }
}

/// What a fault cost until the target recovered, from its start to the next fault's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Recovery {
    /// Operations that failed or got no answer.
    pub errors: u64,
    /// From the first of them to the last: how long the errors went on.
    pub error_burst_ms: f64,
    /// Sessions with at least one of those errors that made another request after it.
    pub sessions_affected: u64,
    /// Of those, the ones served successfully again afterwards.
    pub sessions_recovered: u64,
    /// From the fault's start until the last of them was served again.
    pub recovered_within_ms: Option<f64>,
    /// From the fault's start to the last stale or non-monotonic read.
    pub stale_reads_until_ms: Option<f64>,
}
