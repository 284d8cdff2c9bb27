//! Active health checks: `GET /healthz` on every backend, every interval.

use std::sync::Arc;

use http::header::{HOST, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use tokio::task::JoinSet;

use super::backends::{Backend, Backends};
use super::config::LbConfig;
use super::pool::{Outgoing, Pool};

/// Checks every backend (including ones added at run time) until the task is aborted.
pub(super) async fn check_forever(backends: Arc<Backends>, config: Arc<LbConfig>) {
    let pool = Arc::new(Pool::new(config.connect_timeout, 64 * 1024));
    let mut tick = tokio::time::interval(config.health_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut checks = JoinSet::new();
        for backend in backends.snapshot().iter() {
            let (pool, backend) = (pool.clone(), backend.clone());
            let (timeout, fall, rise) = (config.health_timeout, config.fall, config.rise);
            checks.spawn(async move {
                let passed = check(&pool, &backend, timeout).await;
                backend.health_result(passed, fall, rise);
            });
        }
        while checks.join_next().await.is_some() {}
    }
}

async fn check(pool: &Pool, backend: &Backend, timeout: std::time::Duration) -> bool {
    let mut headers = HeaderMap::new();
    if let Ok(host) = HeaderValue::try_from(backend.addr.to_string()) {
        headers.insert(HOST, host);
    }
    let out = Outgoing {
        method: &Method::GET,
        path: "/healthz",
        headers: &headers,
        body: &[],
        idempotent: true,
    };
    matches!(
        tokio::time::timeout(timeout, pool.exchange(backend.addr, out)).await,
        Ok(Ok(answer)) if answer.status == StatusCode::OK
    )
}
