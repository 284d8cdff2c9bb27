//! Forwarding one connection, both directions, through the faults in force.
//!
//! Each direction reads into a queue of chunks stamped with when they may leave (now plus the
//! latency, never before the chunk ahead: order is kept) and writes them out when due, no
//! faster than the bandwidth allows. Faults are read per chunk, so a change applies to open
//! connections at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use super::Proxy;

/// Bytes a direction holds before it stops reading (backpressure under latency).
const QUEUE_LIMIT: usize = 4 << 20;
const CHUNK: usize = 16 * 1024;

/// Closes `stream` with a TCP reset (SO_LINGER 0) instead of a FIN.
pub fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// When a connection last carried a byte, either way.
#[derive(Debug)]
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// Returns once nothing has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let until = self.last() + idle;
            if until <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(until).await;
        }
    }
}

/// Forwards until both directions end, or resets both sockets when told to; a connection
/// idle both ways for the proxy's idle timeout is closed.
pub async fn forward(proxy: Arc<Proxy>, client: TcpStream, upstream: TcpStream) {
    let (client_rd, client_wr) = client.into_split();
    let (upstream_rd, upstream_wr) = upstream.into_split();
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    let idle = proxy.idle_timeout;
    let mut up = tokio::spawn(direction(
        proxy.clone(),
        client_rd,
        upstream_wr,
        true,
        activity.clone(),
    ));
    let mut down = tokio::spawn(direction(
        proxy,
        upstream_rd,
        client_wr,
        false,
        activity.clone(),
    ));
    let ended = tokio::select! {
        ended = async { ((&mut up).await, (&mut down).await) } => ended,
        () = activity.idle_for(idle) => {
            // Dropping both halves of both sockets closes them.
            up.abort();
            down.abort();
            return;
        }
    };
    let (Ok((client_rd, upstream_wr, reset_up)), Ok((upstream_rd, client_wr, reset_down))) = ended
    else {
        return;
    };
    if reset_up || reset_down {
        if let Ok(client) = client_rd.reunite(client_wr) {
            reset(client);
        }
        if let Ok(upstream) = upstream_rd.reunite(upstream_wr) {
            reset(upstream);
        }
    }
}

/// One direction; returns its halves, and whether it stopped for a reset.
async fn direction(
    proxy: Arc<Proxy>,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    upstream: bool,
    activity: Arc<Activity>,
) -> (OwnedReadHalf, OwnedWriteHalf, bool) {
    let mut resets = proxy.resets.subscribe();
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut queued = 0;
    let mut reading = true;
    // The earliest the next chunk may leave: after the one ahead, and after the bandwidth
    // spent on it.
    let mut not_before = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    loop {
        if !reading && queue.is_empty() {
            let _ = to.shutdown().await;
            return (from, to, false);
        }
        // A chunk that is due leaves now: going through the timer would cost a tick (1 ms).
        if queue.front().is_some_and(|(at, _)| *at <= Instant::now()) {
            let Some((_, chunk)) = queue.pop_front() else {
                continue;
            };
            queued -= chunk.len();
            if to.write_all(&chunk).await.is_err() {
                return (from, to, false);
            }
            let rate = proxy.faults().direction(upstream).bandwidth_bytes_per_s;
            if rate > 0 {
                let spent = Duration::from_secs_f64(chunk.len() as f64 / rate as f64);
                not_before = not_before.max(Instant::now() + spent);
                if let Some((at, _)) = queue.front_mut() {
                    *at = (*at).max(not_before);
                }
            }
            continue;
        }
        let due = queue.front().map(|(at, _)| *at);
        tokio::select! {
            _ = resets.changed() => return (from, to, true),
            n = from.read(&mut buf), if reading && queued < QUEUE_LIMIT => match n {
                Ok(0) | Err(_) => reading = false,
                Ok(n) => {
                    activity.touch();
                    let d = proxy.faults().direction(upstream);
                    if d.blackhole {
                        continue;
                    }
                    let now = Instant::now();
                    let at = (now + d.delay()).max(not_before);
                    if queue.is_empty() && at <= now && d.bandwidth_bytes_per_s == 0 {
                        // Nothing ahead, nothing to wait for: straight through, uncopied.
                        if to.write_all(&buf[..n]).await.is_err() {
                            return (from, to, false);
                        }
                        continue;
                    }
                    not_before = at;
                    queue.push_back((at, buf[..n].to_vec()));
                    queued += n;
                }
            },
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {}
        }
    }
}
