//! Accepting client connections and serving them on worker threads until shutdown.
//!
//! One acceptor hands each connection to a worker thread in turn. A worker runs a
//! single-threaded runtime and its own upstream pool, so a request, its upstream exchange and
//! the response never wake another thread: nginx's worker model, which measured about 1.5x
//! the throughput of one work-stealing runtime on 2 cores (docs/benchmarks.md).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::admin::{self, Admin};
use super::backends::Backends;
use super::config::LbConfig;
use super::health;
use super::policy::Chooser;
use super::proxy::{Client, LbStats, Proxy};
use crate::limits::{self, Admission};

/// What every worker shares.
#[derive(Debug, Clone)]
struct Shared {
    config: Arc<LbConfig>,
    backends: Arc<Backends>,
    chooser: Arc<Chooser>,
    stats: Arc<LbStats>,
}

/// Balances connections accepted on `listener` over the configured backends and serves the
/// admin API on `admin`, until `shutdown` resolves; then stops accepting, lets open connections
/// finish their current request (up to the drain timeout) and returns.
pub async fn run(
    listener: TcpListener,
    admin: TcpListener,
    config: LbConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let shared = Shared {
        backends: Arc::new(Backends::new(&config.backends)),
        chooser: Arc::new(Chooser::new(config.policy, config.redispatch)),
        stats: Arc::new(LbStats::default()),
        config: Arc::new(config),
    };
    let mut background = JoinSet::new();
    background.spawn(health::check_forever(
        shared.backends.clone(),
        shared.config.clone(),
    ));
    let admin_app = admin::router(Admin {
        backends: shared.backends.clone(),
        stats: shared.stats.clone(),
    });
    background.spawn(async move {
        if let Err(e) = axum::serve(admin, admin_app).await {
            eprintln!("lb: admin API stopped: {e}");
        }
    });

    let (stop_tx, stop_rx) = watch::channel(());
    let mut workers = Vec::new();
    let mut inboxes = Vec::new();
    for i in 0..shared.config.workers.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (shared, stop) = (shared.clone(), stop_rx.clone());
        let worker = std::thread::Builder::new()
            .name(format!("lb-worker-{i}"))
            .spawn(move || worker(rx, shared, stop))?;
        workers.push(worker);
        inboxes.push(tx);
    }

    tokio::pin!(shutdown);
    let mut next = 0;
    let admission = Admission::new(shared.config.limits.max_connections);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted.and_then(|(s, peer)| Ok((s.into_std()?, peer))) {
                Ok((stream, peer)) => {
                    // At the cap: closed at once, so the client fails fast.
                    let Some(permit) = admission.admit() else { continue };
                    // A worker that is gone has panicked; the others keep serving.
                    let _ = inboxes[next].send((stream, peer, permit));
                    next = (next + 1) % inboxes.len();
                }
                // Out of file descriptors and the like: back off rather than spin.
                Err(e) => {
                    eprintln!("lb: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    drop(inboxes);
    let _ = stop_tx.send(());
    for w in workers {
        let _ = tokio::task::spawn_blocking(move || w.join()).await;
    }
    background.abort_all();
    Ok(())
}

/// A connection handed to a worker, with its place under the connection cap.
type Handed = (
    std::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
);

/// A worker thread: serves the connections it is handed until told to stop, then drains.
fn worker(
    mut inbox: mpsc::UnboundedReceiver<Handed>,
    shared: Shared,
    mut stop: watch::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return eprintln!("lb: cannot start a worker runtime: {e}"),
    };
    runtime.block_on(async {
        let proxy = Arc::new(Proxy::new(shared.config.clone(), shared.backends, shared.chooser, shared.stats));
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                handed = inbox.recv() => match handed {
                    Some((stream, peer, permit)) => match TcpStream::from_std(stream) {
                        Ok(stream) => {
                            let served = serve_connection(stream, peer, proxy.clone(), stop.clone());
                            connections.spawn(async move {
                                served.await;
                                drop(permit);
                            });
                        }
                        Err(e) => eprintln!("lb: cannot adopt a connection: {e}"),
                    },
                    None => break,
                },
                _ = stop.changed() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        let drain = shared.config.drain_timeout;
        let drained = tokio::time::timeout(drain, async { while connections.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            eprintln!("lb: drain timeout reached with {} connections open", connections.len());
        }
        connections.abort_all();
    });
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    proxy: Arc<Proxy>,
    stop: watch::Receiver<()>,
) {
    let client = Arc::new(Client::new(peer.ip()));
    let limits = proxy.limits().clone();
    let handle = move |req| {
        let (proxy, client) = (proxy.clone(), client.clone());
        async move { proxy.handle(req, &client).await }
    };
    limits::serve_connection(stream, &limits, handle, stop).await;
}
