//! What the harness and the nodes measured of time: the driver's lateness and CPU, and
//! which caused it; the nodes' own handling time and waits for a session's lock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The load driver measured by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Driver {
    /// How late operations started after they became due (their intended start, or the end
    /// of the session's previous operation if that came later): the driver's own lateness,
    /// not the target's. After the warm-up.
    pub send_lag_ms: SendLag,
    /// Share of the cores the driver may use (100 = all of them busy), per second of load
    /// after the warm-up: the harness process as a whole (driver, history, in-process proxies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<CpuPercent>,
    /// Cores the driver can keep busy: its worker threads (`run --driver-threads`), at most
    /// the cores it may run on (its affinity and cgroup limits).
    pub cores: u32,
    /// The harness's CPU time per operation over the whole load, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_op: Option<f64>,
    /// Operations (after the warm-up) that started later than the send-lag limit.
    pub late_ops: u64,
    /// Open model: arrivals turned away at `max-sessions-in-flight`, never started.
    #[serde(default)]
    pub sessions_turned_away: u64,
    /// The limits judged: send-lag p99 and CPU share.
    pub send_lag_limit_ms: f64,
    pub cpu_limit_percent: f64,
    /// The share of the time the harness's threads were ready to run that they spent waiting
    /// for a core, per second after the warm-up, and the share past which a late second
    /// counts as the machine's: what tells a busy machine from a saturated driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_wait_percent: Option<CpuPercent>,
    #[serde(default)]
    pub cpu_wait_limit_percent: f64,
    /// Share of the machine's cores that other processes (the target's among them) kept busy,
    /// per second of load after the warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others_cpu_percent: Option<CpuPercent>,
    /// A limit was passed through the driver's doing (its CPU, or late starts with no busy
    /// machine to blame): latency and throughput describe the harness, not the target.
    pub saturated: bool,
    /// Operations started late because the machine was busy: the driver's threads were
    /// ready and waited for a core. Latency includes that wait; the remedy is a quieter
    /// machine, not a faster driver.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub machine_busy: bool,
    /// How far the checks, which run as the records arrive, fell behind the load (a live
    /// run's: `check` of a stored history has no load to fall behind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_behind: Option<ChecksBehind>,
    /// Which limits were passed, one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// How old operations' records were when the checks took them (from the operation's end), and
/// how many records waited for them. Past the limit the checks competed with the load for the
/// harness's cores: the run's numbers are the harness's, as a saturated driver's are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ChecksBehind {
    pub max_ms: f64,
    /// The last operation timed.
    pub end_ms: f64,
    pub queued_max: u64,
    pub limit_ms: f64,
}

impl Driver {
    /// Why the run's numbers are unsure, if they are: "a saturated driver", "a busy
    /// machine", or "checks that fell behind the load".
    pub fn behind(&self) -> Option<&'static str> {
        if self.saturated {
            Some("a saturated driver")
        } else if self.machine_busy {
            Some("a busy machine")
        } else if self.checks_behind.is_some_and(|c| c.max_ms > c.limit_ms) {
            Some("checks that fell behind the load")
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SendLag {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuPercent {
    pub mean: f64,
    pub max: f64,
}

/// Request handling time as the nodes measured it (parsed request to response), over every
/// node's life: a node killed before its counters were read is left out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerLatency {
    pub requests: u64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// Nodes that lock sessions (whole-locked saves): the requests that waited for the lock.
    #[serde(
        default,
        rename = "lock-waits",
        skip_serializing_if = "Option::is_none"
    )]
    pub lock_waits: Option<LockWaits>,
}

/// Requests that found their session locked by another request of it, and how long they
/// waited: what the lock costs, apart from the rest of the handling time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LockWaits {
    pub requests: u64,
    pub total_ms: f64,
    pub mean_ms: f64,
}
