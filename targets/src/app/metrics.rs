//! Counters a node exposes at `/metrics`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::store::StoreStats;

/// Request counters, updated lock-free on the hot path.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    requests: AtomicU64,
    logins: AtomicU64,
    logouts: AtomicU64,
    status_2xx: AtomicU64,
    status_4xx: AtomicU64,
    status_5xx: AtomicU64,
    /// How long each request took from its parsed head to its response, in nanoseconds: the
    /// node's side of the latency the client reports.
    handling: Mutex<Option<Histogram<u64>>>,
    /// Whole-locked saves: requests that found their session locked, and their waits in all.
    lock_waits: AtomicU64,
    lock_wait_ns: AtomicU64,
}

impl NodeMetrics {
    pub(super) fn record(&self, status: StatusCode, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        let mut handling = self.handling.lock().unwrap_or_else(|p| p.into_inner());
        handling
            .get_or_insert_with(Handling::histogram)
            .saturating_record(ns);
        drop(handling);
        let class = match status.as_u16() {
            200..=299 => &self.status_2xx,
            400..=499 => &self.status_4xx,
            500..=599 => &self.status_5xx,
            _ => return,
        };
        class.fetch_add(1, Ordering::Relaxed);
    }

    /// A request that waited `took` for its session's lock (whether it got it or not).
    pub(super) fn lock_waited(&self, took: Duration) {
        self.lock_waits.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.lock_wait_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub(super) fn login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn logout(&self) {
        self.logouts.fetch_add(1, Ordering::Relaxed);
    }

    /// The `/metrics` document; `locking` when the node locks sessions (whole-locked saves).
    pub fn snapshot(
        &self,
        node: &str,
        store: &'static str,
        stats: StoreStats,
        locking: bool,
    ) -> MetricsView {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsView {
            node: node.to_string(),
            store: store.to_string(),
            sessions: stats.sessions,
            sessions_expired: stats.expired,
            session_copies: stats.copies,
            requests: get(&self.requests),
            logins: get(&self.logins),
            logouts: get(&self.logouts),
            responses_2xx: get(&self.status_2xx),
            responses_4xx: get(&self.status_4xx),
            responses_5xx: get(&self.status_5xx),
            replication: stats.replication,
            store_traffic: stats.traffic,
            handling: self.handling(),
            lock_waits: locking.then(|| LockWaits {
                requests: get(&self.lock_waits),
                waited_ns: get(&self.lock_wait_ns),
            }),
        }
    }

    fn handling(&self) -> Handling {
        let handling = self.handling.lock().unwrap_or_else(|p| p.into_inner());
        let Some(h) = handling.as_ref() else {
            return Handling::default();
        };
        Handling {
            requests: h.len(),
            buckets: h
                .iter_recorded()
                .map(|v| [v.value_iterated_to(), v.count_at_value()])
                .collect(),
        }
    }
}

/// Request handling times as a histogram a reader can merge with other nodes'.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Handling {
    pub requests: u64,
    /// `[nanoseconds, count]` for every recorded bucket, by the bucket's highest value.
    pub buckets: Vec<[u64; 2]>,
}

impl Handling {
    /// The histogram a node records into and a reader merges into: 1 ns to an hour, two
    /// significant digits (1% resolution is plenty next to a client's view, and keeps the
    /// bucket list in /metrics short).
    pub fn histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 3_600_000_000_000, 2).expect("static bounds")
    }

    /// Adds these buckets to `into`.
    pub fn merge_into(&self, into: &mut Histogram<u64>) {
        for &[ns, count] in &self.buckets {
            let _ = into.record_n(ns.max(1), count);
        }
    }
}

/// Requests of a node that locks sessions that found their session locked, and how long they
/// waited in all: the cost of the lock, apart from the rest of the handling time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct LockWaits {
    pub requests: u64,
    pub waited_ns: u64,
}

/// What `/metrics` returns; the counters cover requests answered before this one. The node
/// writes it and the harness reads it back (fields a node did not send take their defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct MetricsView {
    pub node: String,
    pub store: String,
    pub sessions: u64,
    pub sessions_expired: u64,
    /// Copies of sessions another node serves, held here as their backup (`backup` store).
    pub session_copies: u64,
    pub requests: u64,
    pub logins: u64,
    pub logouts: u64,
    pub responses_2xx: u64,
    pub responses_4xx: u64,
    pub responses_5xx: u64,
    /// Replication traffic, for clustered stores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<crate::cluster::ClusterStatsView>,
    /// Traffic to a shared store (Redis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_traffic: Option<crate::store::StoreTraffic>,
    /// Requests answered before this one, by how long the node took.
    pub handling: Handling,
    /// Only on a node that locks sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_waits: Option<LockWaits>,
}
