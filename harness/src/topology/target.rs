//! The processes of one target: its nodes and, unless it is `direct`, a load balancer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::process::{Process, StartError};
use crate::plan::TargetPlan;

/// How often the LB checks its backends during a run.
const HEALTH_INTERVAL: &str = "500ms";

#[derive(Debug)]
pub struct Topology {
    pub nodes: Vec<Process>,
    pub lb: Option<Process>,
}

impl Topology {
    /// Starts the nodes one after another (each ready before the next), then the LB.
    pub async fn start(target: &TargetPlan, logs: &Path) -> Result<Self, StartError> {
        let mut nodes = Vec::new();
        // Replication links of this run authenticate with a secret of its own.
        let secret = sessionbench_targets::session::SessionId::generate().to_string();
        for id in target.node_ids() {
            let mut args: Vec<String> = [
                "node",
                "--id",
                &id,
                "--listen",
                "127.0.0.1:0",
                "--threads",
                "1",
                "--cookie",
                &target.cookie,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend([
                "--max-inactive".into(),
                humantime::format_duration(target.max_inactive).to_string(),
            ]);
            args.extend(["--padding-bytes".into(), target.padding_bytes.to_string()]);
            if target.route_suffix {
                args.push("--route-suffix".into());
            }
            if let Some(replication) = &target.replication {
                args.extend(
                    [
                        "--store",
                        "delta",
                        "--replication",
                        replication,
                        "--cluster-listen",
                        "127.0.0.1:0",
                    ]
                    .map(String::from),
                );
                args.extend(["--cluster-secret".into(), secret.clone()]);
                // Each node knows the ones started before it; they learn of it from its hello.
                args.extend(
                    nodes
                        .iter()
                        .flat_map(|n: &Process| ["--peer".to_string(), peer(n)]),
                );
            }
            let log = logs.join(format!("{}-{id}.log", target.name));
            let mut node = Process::start(&id, args, &log).await?;
            node.pin_ports();
            nodes.push(node);
        }
        if target.replication.is_some() {
            // From now on every node names every other, so a restarted one rejoins all.
            let all: Vec<(String, String)> =
                nodes.iter().map(|n| (n.name.clone(), peer(n))).collect();
            for n in &mut nodes {
                let others: Vec<String> = all
                    .iter()
                    .filter(|(name, _)| *name != n.name)
                    .map(|(_, p)| p.clone())
                    .collect();
                n.set_repeated("--peer", &others);
            }
        }
        let lb = match &target.lb_policy {
            None => None,
            Some(policy) => {
                let mut args: Vec<String> = [
                    "lb",
                    "--listen",
                    "127.0.0.1:0",
                    "--threads",
                    "1",
                    "--health-interval",
                    HEALTH_INTERVAL,
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                args.extend([
                    "--policy".into(),
                    policy.clone(),
                    "--cookie".into(),
                    target.cookie.clone(),
                ]);
                for n in &nodes {
                    args.extend(["--backend".into(), format!("{}={}", n.name, n.addr())]);
                }
                let log = logs.join(format!("{}-lb.log", target.name));
                Some(Process::start("lb", args, &log).await?)
            }
        };
        Ok(Self { nodes, lb })
    }

    /// Where clients connect: the LB, or the only node.
    pub fn entry(&self) -> SocketAddr {
        self.lb
            .as_ref()
            .map_or_else(|| self.nodes[0].addr(), Process::addr)
    }

    pub fn node_mut(&mut self, id: &str) -> Option<&mut Process> {
        self.nodes.iter_mut().find(|n| n.name == id)
    }

    pub fn addresses(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr().to_string()))
            .collect()
    }

    /// Stops everything: the LB first, so no request lands on a node that is going away.
    pub async fn stop(mut self) {
        if let Some(lb) = self.lb.as_mut() {
            lb.terminate(Duration::from_secs(2)).await;
        }
        for n in &mut self.nodes {
            n.terminate(Duration::from_secs(2)).await;
        }
    }
}

/// `NAME=CLUSTER_ADDR` for a clustered node's `--peer` argument.
fn peer(node: &Process) -> String {
    let addr = node
        .ready
        .cluster
        .map(|a| a.to_string())
        .unwrap_or_default();
    format!("{}={addr}", node.name)
}
