//! Fault proxies on a target's links, placed only when its suite has network faults: one in
//! front of each node for the load balancer, one between each node and a standalone Redis,
//! and one for each node's replication link to each peer. They run inside the harness (no process to supervise), on loopback ports of their
//! own, and forward untouched until a `partition` or `latency` fault sets them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sessionbench_targets::proxy::{Direction, Faults, Proxy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use sessionbench_model::plan::Link;

/// A running proxy: its state, its address, and its accept loop.
type Placed = (Arc<Proxy>, SocketAddr, JoinHandle<std::io::Result<()>>);

/// Which proxy: the node, its link, and for a peer link the peer it leads to.
type Hop = (String, Link, Option<String>);

#[derive(Debug, Default)]
pub struct Links {
    proxies: BTreeMap<Hop, Placed>,
}

impl Links {
    /// The address that reaches `upstream` through node `node`'s proxy on `link` (to `peer`,
    /// for a peer link), made on first use (a restarted node keeps its port, so the proxy
    /// stays valid).
    pub async fn through(
        &mut self,
        node: &str,
        link: Link,
        peer: Option<&str>,
        upstream: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        let hop = (node.to_string(), link, peer.map(String::from));
        if let Some((_, addr, _)) = self.proxies.get(&hop) {
            return Ok(*addr);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let proxy = Proxy::new(upstream);
        let task = tokio::spawn(proxy.clone().run(listener));
        self.proxies.insert(hop, (proxy, addr, task));
        Ok(addr)
    }

    /// Cuts the link both ways (connections stay open, nothing passes).
    pub fn partition(&self, node: &str, link: Link) {
        let cut = Direction {
            blackhole: true,
            ..Direction::default()
        };
        self.set(node, link, cut);
    }

    /// Adds `latency_ms` (and up to `jitter_ms` more) each way.
    pub fn delay(&self, node: &str, link: Link, latency_ms: u64, jitter_ms: u64) {
        let slow = Direction {
            latency_ms,
            jitter_ms,
            ..Direction::default()
        };
        self.set(node, link, slow);
    }

    /// Traffic flows untouched again.
    pub fn heal(&self, node: &str, link: Link) {
        self.set(node, link, Direction::default());
    }

    /// Sets the node's proxies on `link`; for peer links, the peers' proxies towards it too.
    fn set(&self, node: &str, link: Link, both: Direction) {
        let on_link = self
            .proxies
            .iter()
            .filter(|((n, l, peer), _)| *l == link && (n == node || peer.as_deref() == Some(node)));
        for (_, (proxy, _, _)) in on_link {
            proxy.set(Faults {
                upstream: both,
                downstream: both,
                ..Faults::default()
            });
        }
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        for (_, _, task) in self.proxies.values() {
            task.abort();
        }
    }
}
