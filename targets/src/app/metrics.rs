//! Counters a node exposes at `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use serde::Serialize;

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
}

impl NodeMetrics {
    pub(super) fn record(&self, status: StatusCode) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = match status.as_u16() {
            200..=299 => &self.status_2xx,
            400..=499 => &self.status_4xx,
            500..=599 => &self.status_5xx,
            _ => return,
        };
        class.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn logout(&self) {
        self.logouts.fetch_add(1, Ordering::Relaxed);
    }

    /// The `/metrics` document.
    pub fn snapshot(&self, node: &str, store: &'static str, stats: StoreStats) -> MetricsView {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsView {
            node: node.to_string(),
            store,
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
        }
    }
}

/// What `/metrics` returns; the counters cover requests answered before this one.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MetricsView {
    pub node: String,
    pub store: &'static str,
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
}
