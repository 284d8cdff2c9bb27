//! What a target must survive (`expect`) and the performance it must keep (`thresholds`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// `p99-latency`: a bound on every operation (`"50ms"`), or a table of bounds by request kind
/// (`{ all = "50ms", login = "300ms" }`, or `p99-latency.login = "300ms"`).
#[derive(Debug, Clone)]
pub enum LatencyBoundRaw {
    All(String),
    ByKind(BTreeMap<String, String>),
}

impl<'de> Deserialize<'de> for LatencyBoundRaw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bound;
        impl<'de> serde::de::Visitor<'de> for Bound {
            type Value = LatencyBoundRaw;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration, or a table of durations by request kind")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LatencyBoundRaw::All(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut by_kind = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    by_kind.insert(k, v);
                }
                Ok(LatencyBoundRaw::ByKind(by_kind))
            }
        }
        d.deserialize_any(Bound)
    }
}

/// Performance thresholds of a target: a miss exits 4.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ThresholdsRaw {
    pub p99_latency: Option<LatencyBoundRaw>,
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
