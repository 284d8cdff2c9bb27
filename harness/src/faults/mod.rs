//! Faults on a target's nodes: what each kind does when injected and how it heals.

use std::time::Duration;

use crate::plan::FaultKind;
use crate::topology::{Process, StartError};

/// How long a stopped node may take to drain before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Whether a fault is over as soon as it was injected (a restart, a scale-out) or waits for
/// its heal.
pub fn heals_itself(kind: FaultKind) -> bool {
    matches!(kind, FaultKind::Restart | FaultKind::AddNode)
}

/// Breaks `node`. A restart also brings it back (it is over once the node is ready).
/// `add-node` acts on the topology, not on a node: see `Topology::add_node`.
pub async fn inject(kind: FaultKind, node: &mut Process) -> Result<(), StartError> {
    match kind {
        FaultKind::AddNode => {}
        FaultKind::Kill => node.kill().await,
        FaultKind::Stop => node.terminate(STOP_GRACE).await,
        FaultKind::Restart => {
            node.terminate(STOP_GRACE).await;
            node.restart().await?;
        }
    }
    Ok(())
}

/// Undoes a kill or stop: the node starts again on its port, with empty memory.
pub async fn heal(node: &mut Process) -> Result<(), StartError> {
    node.restart().await
}
