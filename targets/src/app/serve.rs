//! Serving a node on a listener until shutdown, with its expiry sweeper.

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::routes::{Node, app};

/// Serves `node` on `listener` until `shutdown` resolves, then drains: health checks answer 503,
/// in-flight requests finish, and after the node's drain timeout it returns regardless.
pub async fn run(
    listener: TcpListener,
    node: Arc<Node>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep(node.clone()));
    let (draining_tx, draining_rx) = oneshot::channel();
    let draining_node = node.clone();
    let signal = async move {
        shutdown.await;
        draining_node.start_draining();
        let _ = draining_tx.send(());
    };
    // Session requests are small request/response pairs: Nagle would add 40 ms stalls.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let serve = axum::serve(listener, app(node.clone())).with_graceful_shutdown(signal);
    let drain_timeout = node.config.drain_timeout;
    let result = tokio::select! {
        result = serve => result,
        () = async {
            if draining_rx.await.is_ok() {
                tokio::time::sleep(drain_timeout).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            eprintln!("node {}: drain timeout ({drain_timeout:?}) reached, exiting", node.config.id);
            Ok(())
        }
    };
    sweeper.abort();
    result
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
