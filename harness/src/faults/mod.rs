//! Faults on a target: what each kind does when injected and how it heals.

use std::time::Duration;

use crate::plan::FaultKind;
use crate::topology::{StartError, Topology};

/// How long a stopped node may take to drain before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Whether a fault is over as soon as it was injected (a restart, a scale-out) or waits for
/// its heal.
pub fn heals_itself(kind: FaultKind) -> bool {
    matches!(kind, FaultKind::Restart | FaultKind::AddNode)
}

/// Injects `kind` on node `id`. A restart also brings the node back and a scale-out starts a
/// new one: both are over when this returns.
pub async fn inject(kind: FaultKind, id: &str, topology: &mut Topology) -> Result<(), StartError> {
    if kind == FaultKind::AddNode {
        return topology.add_node(id).await;
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
        FaultKind::AddNode => {}
    }
    Ok(())
}

/// Undoes a kill or stop: node `id` starts again on its port, with empty memory.
pub async fn heal(id: &str, topology: &mut Topology) -> Result<(), StartError> {
    match topology.node_mut(id) {
        Some(node) => node.restart().await,
        None => Ok(()),
    }
}
