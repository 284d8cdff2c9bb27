//! A `network = "netns"` target's network faults, made by the kernel: partitions between
//! groups of its processes or one way, a node's link cut as the proxies would cut it, and a
//! process's cable pulled (`link-down`).

use super::Topology;
use crate::topology::netns::{Cut, Script};
use crate::topology::process::StartError;
use sessionbench_model::plan::{FaultKind, FaultPlan, Link};

impl Topology {
    /// Puts `fault` in force (`on`) or lifts it, if it is one the kernel makes here; `false`
    /// when it is not (the target is on loopback, or the fault is of another kind).
    pub async fn kernel_fault(&mut self, fault: &FaultPlan, on: bool) -> Result<bool, StartError> {
        let cuts = match (&self.net, fault.kind) {
            (Some(_), FaultKind::Partition) => self.cuts(fault),
            _ => None,
        };
        let Some(net) = self.net.as_mut() else {
            return Ok(false);
        };
        let key = format!("{}@{}ms", fault.node, fault.at.as_millis());
        let script: Script = match (fault.kind, cuts) {
            (FaultKind::Partition, Some(cuts)) if on => net.cut(&key, cuts)?,
            (FaultKind::Partition, Some(_)) => net.heal(&key),
            (FaultKind::LinkDown, _) => net.link(&fault.node, !on)?,
            _ => return Ok(false),
        };
        script.run_async().await?;
        Ok(true)
    }

    /// The cuts a partition makes: its groups, its one-way cut, or its node's link (from the
    /// LB, from the store's processes, from the other nodes) cut both ways.
    fn cuts(&self, fault: &FaultPlan) -> Option<Vec<Cut>> {
        if !fault.groups.is_empty() {
            return Some(Cut::groups(&fault.groups));
        }
        if !fault.from.is_empty() {
            return Some(vec![Cut {
                from: fault.from.clone(),
                to: fault.to.clone(),
            }]);
        }
        let others: Vec<String> = match fault.link? {
            Link::Lb => vec!["lb".into()],
            Link::Store => self.stores.iter().map(|s| s.name.clone()).collect(),
            Link::Peers => self
                .nodes
                .iter()
                .map(|n| n.name.clone())
                .filter(|n| *n != fault.node)
                .collect(),
        };
        Some(Cut::groups(&[vec![fault.node.clone()], others]))
    }
}
