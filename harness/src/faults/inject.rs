//! Injecting and healing each kind of fault on a running topology.

use std::time::Duration;

use sessionbench_targets::codec::Schema;

use super::command;
use crate::topology::{Links, StartError, Topology, flush};
use sessionbench_model::plan::{FaultKind, FaultPlan};

/// How long a stopped node may take to drain before it is killed.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(10);

/// Injects `fault`. A restart also brings the node back and a scale-out starts a new one:
/// both are over when this returns. (A rolling restart is the driver's: it restarts the
/// nodes one by one with [`restart`], letting go of the topology in between.)
pub async fn inject(fault: &FaultPlan, topology: &mut Topology) -> Result<(), StartError> {
    let (kind, id) = (fault.kind, fault.node.as_str());
    if topology.kernel_fault(fault, true).await? {
        return Ok(());
    }
    if fault.link.is_some() {
        network(fault, &topology.links, true);
        return Ok(());
    }
    if let Some(c) = &fault.command {
        return command::inject(fault, c, topology).await;
    }
    if kind == FaultKind::AddNode {
        return topology.add_node(id).await;
    }
    if kind.on_store() {
        return inject_on_store(kind, id, topology).await;
    }
    match kind {
        FaultKind::LbRestart => return topology.restart_lb(STOP_GRACE).await,
        FaultKind::RemoveNode => return topology.remove_node(id, STOP_GRACE).await,
        _ => {}
    }
    // Validation knows the node, but an earlier fault may have removed it: then this one
    // could not be applied, and the run must say so rather than pass.
    let Some(node) = topology.node_mut(id) else {
        return Err(absent(id));
    };
    // Killing, stopping or pausing what is already down would test nothing.
    if matches!(kind, FaultKind::Kill | FaultKind::Stop | FaultKind::Pause) && !node.running() {
        return Err(absent(id));
    }
    match kind {
        FaultKind::Kill => node.kill().await,
        FaultKind::Stop => node.terminate(STOP_GRACE).await,
        FaultKind::Restart => restart(id, topology).await?,
        FaultKind::Pause => node.pause(),
        FaultKind::Deploy => {
            node.terminate(STOP_GRACE).await;
            if let Some(spec) = node.node_spec() {
                // The next release: its session type has a field the last one's has not.
                spec.store.session_schema = Schema::V2;
            }
            node.restart().await?;
        }
        _ => {}
    }
    Ok(())
}

pub(super) async fn inject_on_store(
    kind: FaultKind,
    id: &str,
    topology: &mut Topology,
) -> Result<(), StartError> {
    let Some(store) = topology.store_mut(id) else {
        return Err(absent(id));
    };
    if matches!(kind, FaultKind::StoreKill | FaultKind::StorePause) && !store.running() {
        return Err(absent(id));
    }
    match kind {
        FaultKind::StoreKill => store.kill().await,
        FaultKind::StoreRestart => {
            store.terminate(STOP_GRACE).await;
            store.restart().await?;
        }
        FaultKind::StoreFlush => {
            flush(store.addr())
                .await
                .map_err(|source| StartError::Store {
                    name: id.into(),
                    source,
                })?;
        }
        FaultKind::StorePause => store.pause(),
        _ => {}
    }
    Ok(())
}

/// The fault names a process that is not running: it could not be applied.
pub(super) fn absent(id: &str) -> StartError {
    StartError::Absent { name: id.into() }
}

/// SIGTERM to node `id`, then the same command again on the same port.
pub async fn restart(id: &str, topology: &mut Topology) -> Result<(), StartError> {
    let node = topology.node_mut(id).ok_or_else(|| absent(id))?;
    node.terminate(STOP_GRACE).await;
    node.restart().await
}

/// Sets (`on`) or clears a network fault on the proxy of the node's link.
pub(super) fn network(fault: &FaultPlan, links: &Links, on: bool) {
    let Some(link) = fault.link else {
        return;
    };
    let ms =
        |d: Option<Duration>| d.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match (fault.kind, on) {
        (_, false) => links.heal(&fault.node, link),
        (FaultKind::Partition, true) => links.partition(&fault.node, link),
        (FaultKind::Latency, true) => {
            links.delay(&fault.node, link, ms(fault.latency), ms(fault.jitter));
        }
        _ => {}
    }
}

/// Undoes a kill or stop (node `id` starts again on its port, with empty memory), a store
/// kill (likewise), a pause (SIGCONT) or a removal (the node starts again and the LB gains
/// it back).
pub async fn heal(fault: &FaultPlan, topology: &mut Topology) -> Result<(), StartError> {
    let (kind, id) = (fault.kind, fault.node.as_str());
    if topology.kernel_fault(fault, false).await? {
        return Ok(());
    }
    if fault.link.is_some() {
        network(fault, &topology.links, false);
        return Ok(());
    }
    if let Some(c) = &fault.command {
        return command::heal(fault, c, topology).await;
    }
    match kind {
        FaultKind::StorePause | FaultKind::Pause => {
            let process = if kind.on_store() {
                topology.store_mut(id)
            } else {
                topology.node_mut(id)
            };
            let p = process.ok_or_else(|| absent(id))?;
            p.resume();
            return Ok(());
        }
        FaultKind::RemoveNode => return topology.restore_node(id).await,
        _ => {}
    }
    let process = if kind.on_store() {
        topology.store_mut(id)
    } else {
        topology.node_mut(id)
    };
    match process {
        Some(p) => p.restart().await,
        None => Err(absent(id)),
    }
}
