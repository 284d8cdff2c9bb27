//! What the proxy does to traffic: a fault set per direction, switched at run time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Faults on one direction of every connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Direction {
    /// Each chunk is held this long (plus up to `jitter-ms` more) before it is forwarded.
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub jitter_ms: u64,
    /// Forwarded bytes per second at most (0: unlimited).
    #[serde(default)]
    pub bandwidth_bytes_per_s: u64,
    /// Data is read and dropped, never forwarded: the connection stays open and silent (a
    /// partition, as a firewall that drops packets makes it).
    #[serde(default)]
    pub blackhole: bool,
}

impl Direction {
    /// The latency plus a random share of the jitter.
    pub fn delay(&self) -> Duration {
        let jitter = if self.jitter_ms == 0 {
            0
        } else {
            rand::random::<u64>() % (self.jitter_ms * 1000 + 1)
        };
        Duration::from_micros(self.latency_ms * 1000 + jitter)
    }
}

/// The whole fault set; the default forwards everything untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Faults {
    /// Client to upstream.
    #[serde(default)]
    pub upstream: Direction,
    /// Upstream to client.
    #[serde(default)]
    pub downstream: Direction,
    /// Every open connection, and every new one, is closed with a TCP reset.
    #[serde(default)]
    pub reset: bool,
    /// The proxy stops listening: connects are refused.
    #[serde(default)]
    pub refuse: bool,
}

impl Faults {
    pub fn direction(&self, upstream: bool) -> Direction {
        if upstream {
            self.upstream
        } else {
            self.downstream
        }
    }
}
