//! Scaling a running target out and in, and restarting its balancer: through the reference
//! LB's admin API, or Apache's balancer-manager.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::Method;
use serde_json::json;

use super::Topology;
use crate::load::Client;
use crate::topology::process::{Process, StartError};
use sessionbench_common::names::NamedAddr;
use sessionbench_model::plan::Link;

impl Topology {
    /// Scale-out: starts node `id`, then adds it to the load balancer through its admin API
    /// (and to the LB's arguments or configuration, so an LB restart keeps it).
    pub async fn add_node(&mut self, id: &str) -> Result<(), StartError> {
        self.start_node(id).await?;
        let addr = self.nodes.last().map(Process::addr).expect("just started");
        let addr = self.reach(id, Link::Lb, addr).await?;
        if let Some(real) = self.real_lb.as_mut() {
            let listen = self.lb.as_ref().map(Process::addr).expect("a real LB runs");
            return real.add(id, addr, listen).await;
        }
        if let Some(spec) = self.lb.as_mut().and_then(Process::lb_spec) {
            spec.backends.push(NamedAddr {
                name: id.into(),
                addr,
            });
        }
        self.lb_admin(
            Method::POST,
            "/backends",
            Some(json!({ "name": id, "addr": addr })),
        )
        .await
    }

    /// Scale-in with a drain: the LB drops node `id` (in-flight requests finish), then the
    /// node gets SIGTERM.
    pub async fn remove_node(&mut self, id: &str, grace: Duration) -> Result<(), StartError> {
        if let Some(real) = self.real_lb.as_mut() {
            let listen = self.lb.as_ref().map(Process::addr).expect("a real LB runs");
            real.set_enabled(id, false, listen).await?;
        } else {
            self.lb_admin(Method::DELETE, &format!("/backends/{id}"), None)
                .await?;
        }
        if let Some(node) = self.node_mut(id) {
            node.terminate(grace).await;
        }
        Ok(())
    }

    /// Undoes `remove_node`: the node starts again on its port and the LB gains it back.
    pub async fn restore_node(&mut self, id: &str) -> Result<(), StartError> {
        let Some(node) = self.node_mut(id) else {
            return Ok(());
        };
        node.restart().await?;
        let addr = node.addr();
        if let Some(real) = self.real_lb.as_mut() {
            // Same port, same proxy: the member is there, disabled.
            let listen = self.lb.as_ref().map(Process::addr).expect("a real LB runs");
            return real.set_enabled(id, true, listen).await;
        }
        let addr = self.reach(id, Link::Lb, addr).await?;
        self.lb_admin(
            Method::POST,
            "/backends",
            Some(json!({ "name": id, "addr": addr })),
        )
        .await
    }

    /// SIGTERM to the load balancer, then the same command again on the same port.
    pub async fn restart_lb(&mut self, grace: Duration) -> Result<(), StartError> {
        let Some(lb) = self.lb.as_mut() else {
            return Ok(()); // Validation refuses lb-restart without a load balancer.
        };
        lb.terminate(grace).await;
        lb.restart().await
    }

    /// Where node `id`'s `link` peer reaches `addr`: through a fault proxy when the suite has
    /// network faults, directly otherwise.
    pub(super) async fn reach(
        &mut self,
        id: &str,
        link: Link,
        addr: SocketAddr,
    ) -> Result<SocketAddr, StartError> {
        if !self.target.proxied_links {
            return Ok(addr);
        }
        self.links
            .through(id, link, None, addr)
            .await
            .map_err(|source| StartError::Proxy {
                node: id.into(),
                source,
            })
    }

    /// One call to the LB's admin API; without an LB (refused at validation) nothing to do.
    pub(super) async fn lb_admin(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(), StartError> {
        let Some(admin) = self.lb.as_ref().and_then(|lb| lb.ready.admin) else {
            return Ok(());
        };
        let mut client = Client::new(std::net::IpAddr::from([127, 0, 0, 1]), admin);
        match client.send(method, path, body.as_ref()).await {
            Ok(reply) if reply.status.is_success() => Ok(()),
            Ok(reply) => Err(StartError::Admin {
                detail: format!(
                    "HTTP {}: {}",
                    reply.status,
                    String::from_utf8_lossy(&reply.body)
                ),
            }),
            Err(e) => Err(StartError::Admin {
                detail: format!("{e:?}"),
            }),
        }
    }
}
