//! `kind = "command"`: a fault that is a shell command, and its heal another, so the same
//! suite can kill a process, `docker kill`, `systemctl restart` or `kubectl delete pod`.
//! Each runs as [`shell::run`] does and learns what it acts on from its environment. A
//! readiness probe (a URL and the status it must answer) may follow.

use crate::shell::{self, run};
use crate::topology::{StartError, Topology};
use sessionbench_model::plan::{CommandPlan, FaultPlan};

/// Runs the fault's inject command; with no heal command, also waits for readiness.
pub async fn inject(
    fault: &FaultPlan,
    c: &CommandPlan,
    topology: &Topology,
) -> Result<(), StartError> {
    run("inject", &c.inject, &env(fault, topology), c.timeout).await?;
    if c.heal.is_none() {
        ready(c, topology).await?;
    }
    Ok(())
}

/// Runs the heal command, then waits for readiness.
pub async fn heal(
    fault: &FaultPlan,
    c: &CommandPlan,
    topology: &Topology,
) -> Result<(), StartError> {
    if let Some(heal) = &c.heal {
        run("heal", heal, &env(fault, topology), c.timeout).await?;
    }
    ready(c, topology).await
}

/// What a command learns of the fault: the run, the node it names and, for a node the harness
/// runs, its address and pid; the entry point (the LB, or the only node).
fn env(fault: &FaultPlan, topology: &Topology) -> Vec<(String, String)> {
    let mut env = topology.command_env();
    env.extend([
        ("SESSIONBENCH_NODE".to_string(), fault.node.clone()),
        ("SESSIONBENCH_ENTRY".into(), topology.entry().to_string()),
    ]);
    if let Some(node) = topology.nodes.iter().find(|n| n.name == fault.node) {
        env.push(("SESSIONBENCH_NODE_ADDR".into(), node.addr().to_string()));
        if let Some(pid) = node.pid() {
            env.push(("SESSIONBENCH_NODE_PID".into(), pid.to_string()));
        }
    }
    env
}

async fn ready(c: &CommandPlan, topology: &Topology) -> Result<(), StartError> {
    match &c.ready {
        Some(probe) => Ok(shell::ready(probe, topology.tls(), c.timeout).await?),
        None => Ok(()),
    }
}
