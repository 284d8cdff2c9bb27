//! A run's targets in turn: each one's processes started, its load and faults side by side, and everything stopped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{resources, usage};
use crate::faults;
use crate::history::{FORMAT_VERSION, FaultEvent, FaultPhase, Record};
use crate::load::{Client, LoadContext, run_load};
use crate::protocol::Protocol;
use crate::run_dir::RunDir;
use crate::topology::{StartError, Topology};
use sessionbench_model::plan::{FaultKind, FaultPlan, Plan, Run, window};

/// A shard's target ready this long after the agreed start of the load is late: the other
/// shards have been loading it without a ready stack.
pub(super) const LATE_START: Duration = Duration::from_millis(100);

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("target `{target}`: {source}")]
    Start {
        target: String,
        #[source]
        source: StartError,
    },
    /// Only for a plan not made by validation (validation reports these at their line).
    #[error("target `{target}`: its request templates are invalid: {detail}")]
    Api { target: String, detail: String },
    #[error("cannot create {dir}: {source}")]
    Dir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs every target of `plan` in turn. Returns `true` if `cancel` cut the run short.
pub async fn run(
    plan: &Plan,
    run_dir: &RunDir,
    events: mpsc::UnboundedSender<Record>,
    mut cancel: watch::Receiver<bool>,
) -> Result<bool, DriverError> {
    let logs = run_dir.logs();
    std::fs::create_dir_all(&logs).map_err(|source| DriverError::Dir {
        dir: logs.display().to_string(),
        source,
    })?;
    let _ = events.send(Record::Header {
        format_version: FORMAT_VERSION,
        suite: plan.name.clone(),
        seed: plan.seed,
    });
    for (k, run) in plan.runs().iter().enumerate() {
        if *cancel.borrow() {
            return Ok(true);
        }
        if run_target(plan, k, run, &logs, &events, &mut cancel).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Waits until the wall-clock instant `at` (a shard's agreed window); `true` if cancelled.
pub(super) async fn wait_for_wall_clock(
    at: SystemTime,
    cancel: &mut watch::Receiver<bool>,
) -> bool {
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::select! {
        () = crate::timer::sleep_until(Instant::now() + left) => false,
        _ = cancel.wait_for(|c| *c) => true,
    }
}

/// One run: a target under one fault schedule. Its processes log to `logs/<run>-<process>`
/// (a scenario's run under `logs/<target>/`). A shard opens run `k`'s window and starts its
/// load at the instants every shard agrees on ([`window`]).
pub(super) async fn run_target(
    plan: &Plan,
    k: usize,
    run: &Run<'_>,
    logs: &Path,
    events: &mpsc::UnboundedSender<Record>,
    cancel: &mut watch::Receiver<bool>,
) -> Result<bool, DriverError> {
    let mut target = run.target.clone();
    target.name.clone_from(&run.name);
    target.proxied_links = run.proxied();
    if run.scenario.is_some() {
        let dir = logs.join(&run.target.name);
        std::fs::create_dir_all(&dir).map_err(|source| DriverError::Dir {
            dir: dir.display().to_string(),
            source,
        })?;
    }
    let target = &target;
    let protocol = Protocol::for_target(target).map_err(|detail| DriverError::Api {
        target: target.name.clone(),
        detail,
    })?;
    // Relative to the working directory, as the suite file was given.
    let suite = std::path::absolute(&plan.source).unwrap_or_else(|_| plan.source.clone().into());
    let suite_dir = suite.parent().unwrap_or(Path::new("/"));
    let shard = plan.shard.map(|s| (s, window(plan, &s, k)));
    if let Some((shard, (open, load_at))) = shard {
        // The process with the commands starts the target when the window opens; the others
        // reach it when the load starts.
        let until = if shard.faults { open } else { load_at };
        if wait_for_wall_clock(until, cancel).await {
            return Ok(true);
        }
    }
    let topology = Topology::start(target, logs, suite_dir)
        .await
        .map_err(|source| DriverError::Start {
            target: target.name.clone(),
            source,
        })?;
    if let Some((_, window)) = shard {
        if let Some(outcome) = meet_the_load(&target.name, window, cancel).await {
            topology.stop().await;
            return outcome;
        }
    }
    let t0 = Instant::now();
    let _ = events.send(Record::TargetStart {
        target: target.name.clone(),
        nodes: topology.addresses(),
        lb: topology.lb.as_ref().map(|lb| lb.addr().to_string()),
        started_unix_us: Some(unix_us(SystemTime::now())),
    });
    let endpoint = Arc::new(topology.endpoint());
    let ctx = Arc::new(LoadContext {
        target: target.name.clone(),
        endpoint,
        protocol,
        workload: run.workload.clone(),
        seed: plan.seed,
        t0,
        deadline: t0 + plan.duration,
        shard: plan.shard,
        events: events.clone(),
        turned_away: Default::default(),
    });
    let sampler = tokio::spawn(usage::sample_every_second(ctx.clone()));
    let topology = Arc::new(tokio::sync::Mutex::new(topology));
    let watcher = tokio::spawn(resources::sample_every(ctx.clone(), topology.clone()));
    let active = Arc::new(Mutex::new(BTreeMap::new()));
    let schedule = Schedule {
        target: target.name.clone(),
        t0,
        events: events.clone(),
        topology: topology.clone(),
        active: active.clone(),
    };
    let mut faults = JoinSet::new();
    for (index, fault) in run.faults.iter().enumerate() {
        faults.spawn(schedule.clone().run(index, fault.clone()));
    }
    let interrupted = load_until_done_or_cancelled(ctx.clone(), cancel).await;
    faults.abort_all();
    while faults.join_next().await.is_some() {}
    sampler.abort();
    let _ = sampler.await;
    watcher.abort();
    let _ = watcher.await;
    let ended = Instant::now();
    let _ = events.send(usage::sample(&ctx, ended));
    let _ = events.send(resources::sample(&ctx, &topology).await);
    let end_us = us(t0, ended);
    schedule.end_unfinished(run.faults, end_us);
    collect_metrics(&target.name, &topology, events, None).await;
    let _ = events.send(Record::TargetEnd {
        target: target.name.clone(),
        at_us: end_us,
        interrupted,
    });
    drop(schedule);
    match Arc::try_unwrap(topology) {
        Ok(topology) => topology.into_inner().stop().await,
        // Unreachable once every task is joined; if not, Drop still kills every process.
        Err(shared) => drop(shared),
    }
    Ok(interrupted)
}

/// A shard's target must be ready when the shards' load starts (`window`: when it opened,
/// when the load starts): waits for that instant. `Some` ends the run: an error if it was
/// late, `Ok(true)` if cancelled.
async fn meet_the_load(
    target: &str,
    (open, load_at): (SystemTime, SystemTime),
    cancel: &mut watch::Receiver<bool>,
) -> Option<Result<bool, DriverError>> {
    if SystemTime::now() > load_at + LATE_START {
        let budget = load_at.duration_since(open).unwrap_or_default();
        return Some(Err(DriverError::Start {
            target: target.to_string(),
            source: StartError::Plan(format!(
                "it was not ready when the shards' load was to start, {} (its `timeout`) after its window opened",
                humantime::format_duration(budget)
            )),
        }));
    }
    wait_for_wall_clock(load_at, cancel)
        .await
        .then_some(Ok(true))
}

/// Runs the load to its end; `true` if `cancel` cut it short.
async fn load_until_done_or_cancelled(
    ctx: Arc<LoadContext>,
    cancel: &mut watch::Receiver<bool>,
) -> bool {
    let mut load = tokio::spawn(run_load(ctx));
    tokio::select! {
        _ = &mut load => false,
        _ = cancel.wait_for(|c| *c) => {
            load.abort();
            let _ = load.await;
            true
        }
    }
}

/// Records the `/metrics` of every running node, or of `only` (a node that is down is
/// skipped). Counters restart with a node, so results add up every record.
pub(super) async fn collect_metrics(
    target: &str,
    topology: &tokio::sync::Mutex<Topology>,
    events: &mpsc::UnboundedSender<Record>,
    only: Option<&str>,
) {
    let nodes: Vec<(String, std::net::SocketAddr)> = topology
        .lock()
        .await
        .nodes
        .iter()
        .filter(|n| only.is_none_or(|o| n.name == o))
        .map(|n| (n.name.clone(), n.addr()))
        .collect();
    for (node, addr) in nodes {
        let mut client = Client::new(std::net::IpAddr::from([127, 0, 0, 1]), addr);
        let fetched = tokio::time::timeout(
            Duration::from_secs(2),
            client.send(hyper::Method::GET, "/metrics", None),
        )
        .await;
        if let Ok(Ok(reply)) = fetched {
            if let Ok(metrics) = serde_json::from_slice(&reply.body) {
                let _ = events.send(Record::NodeMetrics {
                    target: target.into(),
                    node,
                    metrics,
                });
            }
        }
    }
}

/// Microseconds since the Unix epoch.
pub(super) fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

pub(super) fn us(t0: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(t0).as_micros()).unwrap_or(u64::MAX)
}

/// How a fault's step went, for its history record.
pub(super) enum Applied {
    Yes,
    /// Applied, with something worth saying.
    Note(String),
    /// Could not be applied: the run did not test what the suite asked.
    Failed(String),
}

/// What a fault task needs.
#[derive(Clone)]
pub(super) struct Schedule {
    target: String,
    t0: Instant,
    events: mpsc::UnboundedSender<Record>,
    topology: Arc<tokio::sync::Mutex<Topology>>,
    /// Faults started and not yet over, by how far they got.
    active: Arc<Mutex<BTreeMap<usize, Stage>>>,
}

/// How far a started fault got.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stage {
    /// Its injection has not returned (a restart or scale-out waits for the node to serve).
    Applying,
    /// Injected; waiting for its heal or the load's end.
    InForce,
}

impl Schedule {
    /// A fault without a heal, or whose heal was still pending, ends with the load. One still
    /// being applied (a scale-out whose node was not serving yet) was never in force.
    fn end_unfinished(&self, faults: &[FaultPlan], end_us: u64) {
        let unfinished: Vec<(usize, Stage)> = self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(i, s)| (*i, *s))
            .collect();
        for (index, stage) in unfinished {
            let outcome = match stage {
                Stage::Applying => Applied::Failed(
                    "still being applied when the load ended: lengthen the run or inject it earlier"
                        .into(),
                ),
                Stage::InForce => Applied::Note("not healed before the load ended".into()),
            };
            self.event(index, &faults[index], FaultPhase::End, end_us, outcome);
        }
    }

    /// Restarts every node in turn, waiting `interval` after each is serving again. The
    /// topology is locked per node only, so other faults and the load go on in between.
    pub(super) async fn rolling_restart(&self, interval: Duration) -> Result<(), StartError> {
        let nodes: Vec<String> = self
            .topology
            .lock()
            .await
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect();
        for (i, node) in nodes.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(interval).await;
            }
            collect_metrics(&self.target, &self.topology, &self.events, Some(node)).await;
            faults::restart(node, &mut *self.topology.lock().await).await?;
        }
        Ok(())
    }

    pub(super) fn event(
        &self,
        index: usize,
        fault: &FaultPlan,
        phase: FaultPhase,
        at_us: u64,
        outcome: Applied,
    ) {
        let (detail, failed) = match outcome {
            Applied::Yes => (None, false),
            Applied::Note(note) => (Some(note), false),
            Applied::Failed(why) => (Some(why), true),
        };
        let _ = self.events.send(Record::Fault(FaultEvent {
            target: self.target.clone(),
            fault: index,
            kind: fault.kind.name().into(),
            node: fault.node.clone(),
            phase,
            at_us,
            detail,
            failed,
        }));
    }

    pub(super) fn set_stage(&self, index: usize, stage: Option<Stage>) {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        match stage {
            Some(stage) => active.insert(index, stage),
            None => active.remove(&index),
        };
    }

    pub(super) async fn run(self, index: usize, fault: FaultPlan) {
        crate::timer::sleep_until(self.t0 + fault.at).await;
        self.event(
            index,
            &fault,
            FaultPhase::Start,
            us(self.t0, Instant::now()),
            Applied::Yes,
        );
        self.set_stage(index, Some(Stage::Applying));
        // A graceful stop ends the node's counters: keep what it counted so far.
        if fault.kind.ends_node_gracefully() {
            collect_metrics(
                &self.target,
                &self.topology,
                &self.events,
                Some(&fault.node),
            )
            .await;
        }
        let injected = if fault.kind == FaultKind::RollingRestart {
            self.rolling_restart(fault.interval.unwrap_or_default())
                .await
        } else {
            faults::inject(&fault, &mut *self.topology.lock().await).await
        };
        if let Err(e) = injected {
            self.event(
                index,
                &fault,
                FaultPhase::End,
                us(self.t0, Instant::now()),
                Applied::Failed(format!("inject failed: {e}")),
            );
            self.set_stage(index, None);
            return;
        }
        self.set_stage(index, Some(Stage::InForce));
        let healed = if fault.heals_itself() {
            Ok(())
        } else {
            let Some(after) = fault.heal_after else {
                return; // Lasts until the load ends.
            };
            crate::timer::sleep_until(self.t0 + fault.at + after).await;
            faults::heal(&fault, &mut *self.topology.lock().await).await
        };
        let outcome = match healed {
            Ok(()) => Applied::Yes,
            Err(e) => Applied::Failed(format!("heal failed: {e}")),
        };
        self.event(
            index,
            &fault,
            FaultPhase::End,
            us(self.t0, Instant::now()),
            outcome,
        );
        self.set_stage(index, None);
    }
}
