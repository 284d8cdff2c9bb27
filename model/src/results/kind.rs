//! One kind of request's share of a run (login, read, write, counter, logout): a slow login
//! and a fast read are not averaged into one latency.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Latency, Ops};

/// The operations of one kind after the warm-up (the harness's own checks left out, as in
/// the run's totals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct KindResult {
    /// `login`, `read`, `write`, `counter` or `logout`.
    pub kind: String,
    pub ops: Ops,
    /// Successful operations of this kind per second after the warm-up.
    pub throughput_ops_per_s: f64,
    /// Latency of the successful ones, from their intended start.
    pub latency_ms: Option<Latency>,
}

impl KindResult {
    /// Failed and unanswered operations, as a percentage of all.
    pub fn error_rate(&self) -> f64 {
        if self.ops.total == 0 {
            return 0.0;
        }
        (self.ops.fail + self.ops.indeterminate) as f64 * 100.0 / self.ops.total as f64
    }
}
