//! Serving a node on a listener until shutdown, with its expiry sweeper.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use super::routes::{Node, app};
use crate::limits::{Admission, serve_connection};

/// Serves `node` on `listener` until `shutdown` resolves, then drains: health checks answer 503,
/// in-flight requests finish, and after the node's drain timeout it returns regardless. Each
/// connection is held to the node's client limits (timeouts, and the connection cap).
pub async fn run(
    listener: TcpListener,
    node: Arc<Node>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep(node.clone()));
    let router = app(node.clone());
    let limits = Arc::new(node.config.limits.clone());
    let admission = Admission::new(limits.max_connections);
    let (stop_tx, stop_rx) = watch::channel(());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // At the cap: closed at once, so the client fails fast.
                    let Some(permit) = admission.admit() else { continue };
                    let (router, limits, stop) = (router.clone(), limits.clone(), stop_rx.clone());
                    connections.spawn(async move {
                        let handle = move |req| {
                            let mut router = router.clone();
                            async move {
                                match router.call(req).await {
                                    Ok(response) => response,
                                    Err(never) => match never {},
                                }
                            }
                        };
                        serve_connection(stream, &limits, handle, stop).await;
                        drop(permit);
                    });
                }
                // Out of file descriptors and the like: back off rather than spin.
                Err(e) => {
                    eprintln!("node {}: accept failed: {e}", node.config.id);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    node.start_draining();
    drop(listener);
    let _ = stop_tx.send(());
    let drain_timeout = node.config.drain_timeout;
    let drained = tokio::time::timeout(drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "node {}: drain timeout ({drain_timeout:?}) reached, exiting",
            node.config.id
        );
    }
    connections.abort_all();
    sweeper.abort();
    Ok(())
}

/// Removes idle sessions on a fixed interval, so expiry does not wait for a read.
async fn sweep(node: Arc<Node>) {
    let mut tick = tokio::time::interval(node.config.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = node.store.expire_idle().await {
            eprintln!("node {}: expiry sweep failed: {e}", node.config.id);
        }
    }
}
