//! Faults on a target: what each kind does when injected and how it heals.

use std::time::Duration;

use crate::plan::FaultKind;
use crate::topology::{StartError, Topology, flush};

/// How long a stopped node may take to drain before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Whether a fault is over as soon as it was injected (a restart, a scale-out) or waits for
/// its heal.
pub fn heals_itself(kind: FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::Restart
            | FaultKind::Deploy
            | FaultKind::AddNode
            | FaultKind::StoreRestart
            | FaultKind::StoreFlush
    )
}

/// Injects `kind` on node `id`. A restart also brings the node back and a scale-out starts a
/// new one: both are over when this returns.
pub async fn inject(kind: FaultKind, id: &str, topology: &mut Topology) -> Result<(), StartError> {
    if kind == FaultKind::AddNode {
        return topology.add_node(id).await;
    }
    if kind.on_store() {
        return inject_on_store(kind, id, topology).await;
    }
    // Validation guarantees the node exists.
    let Some(node) = topology.node_mut(id) else {
        return Ok(());
    };
    match kind {
        FaultKind::Kill => node.kill().await,
        FaultKind::Stop => node.terminate(STOP_GRACE).await,
        FaultKind::Restart => {
            node.terminate(STOP_GRACE).await;
            node.restart().await?;
        }
        FaultKind::Deploy => {
            node.terminate(STOP_GRACE).await;
            node.set_arg("--session-schema", "2");
            node.restart().await?;
        }
        _ => {}
    }
    Ok(())
}

async fn inject_on_store(
    kind: FaultKind,
    id: &str,
    topology: &mut Topology,
) -> Result<(), StartError> {
    let Some(store) = topology.store_mut(id) else {
        return Ok(());
    };
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

/// Undoes a kill or stop (node `id` starts again on its port, with empty memory), a store
/// kill (likewise) or a store pause (SIGCONT).
pub async fn heal(kind: FaultKind, id: &str, topology: &mut Topology) -> Result<(), StartError> {
    if kind == FaultKind::StorePause {
        if let Some(store) = topology.store_mut(id) {
            store.resume();
        }
        return Ok(());
    }
    let process = if kind.on_store() {
        topology.store_mut(id)
    } else {
        topology.node_mut(id)
    };
    match process {
        Some(p) => p.restart().await,
        None => Ok(()),
    }
}
