//! What a target's nodes counted themselves (replication and store traffic, undecodable
//! sessions, their own handling time), read from the `/metrics` records of the history.

use hdrhistogram::Histogram;
use serde::Deserialize;
use sessionbench_model::results::{LockWaits, Replication, ServerLatency, StoreTraffic};
use sessionbench_targets::app::{Handling, MetricsView};

use crate::history::{Op, OpKind, Outcome};

/// A successful operation that changes the session (what replication carries).
pub(super) fn is_write(op: &Op) -> bool {
    op.outcome == Outcome::Ok
        && !matches!(op.kind, OpKind::Read | OpKind::Probe | OpKind::FinalRead)
}

/// What a target's nodes counted themselves, summed over every `/metrics` record (a node's
/// counters restart with it, so each record adds).
#[derive(Debug, Default)]
pub(super) struct NodeCounters {
    /// Replication bytes and messages sent.
    replication: Option<(u64, u64)>,
    /// Bytes written to and read from a shared store.
    store: Option<(u64, u64)>,
    pub(super) undecodable: u64,
    /// Request handling time as the nodes measured it, in nanoseconds.
    handling: Option<Histogram<u64>>,
    /// Requests that waited for their session's lock, and the nanoseconds they waited.
    lock_waits: Option<(u64, u64)>,
}

impl NodeCounters {
    pub(super) fn add(&mut self, metrics: &serde_json::Value) {
        // A record the node did not write as /metrics (a hand-edited history) adds nothing.
        let Ok(m) = MetricsView::deserialize(metrics) else {
            return;
        };
        if let Some(r) = &m.replication {
            let (bytes, messages) = self.replication.unwrap_or_default();
            self.replication = Some((bytes + r.bytes_sent, messages + r.messages_sent));
            self.undecodable += r.sessions_undecodable;
        }
        if let Some(s) = &m.store_traffic {
            let (written, read) = self.store.unwrap_or_default();
            self.store = Some((written + s.bytes_written, read + s.bytes_read));
            self.undecodable += s.sessions_undecodable;
        }
        if let Some(l) = &m.lock_waits {
            let (requests, ns) = self.lock_waits.unwrap_or_default();
            self.lock_waits = Some((requests + l.requests, ns + l.waited_ns));
        }
        if !m.handling.buckets.is_empty() {
            m.handling
                .merge_into(self.handling.get_or_insert_with(Handling::histogram));
        }
    }

    pub(super) fn server_latency(&self) -> Option<ServerLatency> {
        let h = self.handling.as_ref().filter(|h| !h.is_empty())?;
        let ms = |ns: u64| ns as f64 / 1e6;
        Some(ServerLatency {
            requests: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            lock_waits: self.lock_waits.map(|(requests, ns)| LockWaits {
                requests,
                total_ms: ms(ns),
                mean_ms: if requests == 0 {
                    0.0
                } else {
                    ms(ns) / requests as f64
                },
            }),
        })
    }

    /// Bytes to and from a shared store per successful operation (`ok` of them).
    pub(super) fn store_traffic(&self, ok: u64) -> Option<StoreTraffic> {
        self.store.map(|(bytes_written, bytes_read)| StoreTraffic {
            bytes_written,
            bytes_read,
            ops: ok,
            bytes_per_op: if ok == 0 {
                0.0
            } else {
                (bytes_written + bytes_read) as f64 / ok as f64
            },
        })
    }

    /// Replication bytes per successful write (`writes` of them).
    pub(super) fn replication(&self, writes: u64) -> Option<Replication> {
        self.replication
            .map(|(bytes_sent, messages_sent)| Replication {
                bytes_sent,
                messages_sent,
                writes,
                bytes_per_write: if writes == 0 {
                    0.0
                } else {
                    bytes_sent as f64 / writes as f64
                },
            })
    }
}
