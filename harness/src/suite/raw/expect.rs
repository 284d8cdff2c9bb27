//! What a target must survive (`expect`) and the performance it must keep (`thresholds`).

use serde::Deserialize;

/// Performance thresholds of a target: a miss exits 4.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ThresholdsRaw {
    pub p99_latency: Option<String>,
    pub max_error_rate: Option<f64>,
    pub min_throughput: Option<f64>,
    pub max_sessions_lost: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExpectRaw {
    pub sessions_lost: Option<String>,
    pub max_sessions_lost_percent: Option<f64>,
    pub max_stale_reads: Option<u64>,
    pub max_monotonic_violations: Option<u64>,
    pub max_resurrections: Option<u64>,
    pub lost_updates: Option<String>,
    pub max_lost_updates: Option<u64>,
    pub max_monotonic_writes: Option<u64>,
    pub known_losses: Option<Vec<KnownLossRaw>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KnownLossRaw {
    pub after: Option<String>,
    pub from: Option<String>,
    pub within: Option<String>,
    pub max_sessions: Option<u64>,
    pub cause: Option<String>,
}
