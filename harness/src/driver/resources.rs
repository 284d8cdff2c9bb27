//! What a target's processes hold while it is loaded, sampled every few seconds: resident
//! memory from /proc (the harness's own too), each Redis server's `used_memory`, and the
//! sessions each node (or Redis server: its keys, one per session) holds. A long run shows growth (a leak, sessions never expired) in
//! these before it shows in latency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::history::Record;
use crate::load::{Client, LoadContext};
use crate::topology::{Topology, Watched, WatchedKind, redis_memory_and_keys};

/// Often enough for a 5-minute window to hold many samples, rare enough to cost nothing
/// (one `/metrics` per node and one `INFO` per Redis server).
pub const EVERY: Duration = Duration::from_secs(5);

/// Samples every [`EVERY`] from `ctx.t0` until aborted; the caller takes the last one at the
/// end.
pub async fn sample_every(ctx: Arc<LoadContext>, topology: Arc<tokio::sync::Mutex<Topology>>) {
    for k in 0u32.. {
        crate::timer::sleep_until(ctx.t0 + EVERY * k).await;
        let _ = ctx.events.send(sample(&ctx, &topology).await);
    }
}

/// One sample of every process of the target.
pub async fn sample(ctx: &LoadContext, topology: &tokio::sync::Mutex<Topology>) -> Record {
    let watched = topology.lock().await.watched();
    let at_us = ctx.us(Instant::now());
    let mut rss = BTreeMap::new();
    let own = std::process::id();
    if let Some(bytes) = status_kb(own, "VmRSS:") {
        rss.insert("sessionbench".to_string(), bytes);
    }
    let (mut redis_used_memory, mut sessions_held) = (BTreeMap::new(), BTreeMap::new());
    for w in watched {
        let Some(bytes) = w.pid.and_then(|pid| status_kb(pid, "VmRSS:")) else {
            continue; // Down (killed, or between a stop and a start).
        };
        rss.insert(w.name.clone(), bytes);
        match w.kind {
            WatchedKind::Redis => {
                if let Some((used, keys)) = redis_memory_and_keys(w.addr).await {
                    redis_used_memory.insert(w.name.clone(), used);
                    sessions_held.insert(w.name, keys);
                }
            }
            WatchedKind::Node => {
                if let Some(held) = sessions_of(&w).await {
                    sessions_held.insert(w.name, held);
                }
            }
            WatchedKind::Other => {}
        }
    }
    Record::Resources {
        target: ctx.target.clone(),
        at_us,
        rss,
        redis_used_memory,
        sessions_held,
        harness_peak: status_kb(own, "VmHWM:").unwrap_or(0),
    }
}

/// The sessions a node holds, from its `/metrics`.
async fn sessions_of(node: &Watched) -> Option<u64> {
    let mut client = Client::new(std::net::IpAddr::from([127, 0, 0, 1]), node.addr);
    let reply = tokio::time::timeout(
        Duration::from_secs(1),
        client.send(hyper::Method::GET, "/metrics", None),
    )
    .await
    .ok()?
    .ok()?;
    let metrics: sessionbench_targets::app::MetricsView =
        serde_json::from_slice(&reply.body).ok()?;
    Some(metrics.sessions)
}

/// A `… kB` line of /proc/PID/status (`VmRSS:`, `VmHWM:`), in bytes, if `pid` runs.
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harness_reads_its_own_resident_memory() {
        let own = status_kb(std::process::id(), "VmRSS:").expect("this process runs");
        assert!(own > 1 << 20, "{own} bytes");
        let peak = status_kb(std::process::id(), "VmHWM:").expect("this process runs");
        assert!(peak >= own, "{peak} >= {own}");
        assert_eq!(status_kb(u32::MAX, "VmRSS:"), None);
    }
}
