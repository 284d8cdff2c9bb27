//! The [`Analysis`]: records in, one target's results out as each one's load ends.

use std::collections::HashMap;

use sessionbench_model::results::{FORMAT_VERSION, Results, Sessions, TargetResult};

use super::target::TargetAnalysis;
use super::units::{micros, us_to_ms};
use crate::history::Record;
use sessionbench_model::plan::{Plan, Run};

/// A run's results, built as its records arrive.
#[derive(Debug)]
pub struct Analysis<'p> {
    plan: &'p Plan,
    runs: Vec<Run<'p>>,
    /// By run name: its index in `runs`.
    index: HashMap<String, usize>,
    live: HashMap<usize, TargetAnalysis>,
    done: Vec<Option<TargetResult>>,
}

impl<'p> Analysis<'p> {
    pub fn new(plan: &'p Plan) -> Self {
        let runs = plan.runs();
        let index = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i))
            .collect();
        let done = runs.iter().map(|_| None).collect();
        Self {
            plan,
            runs,
            index,
            live: HashMap::new(),
            done,
        }
    }

    /// Takes the next record of the history; returns its run's index (none for the header,
    /// or a target the plan does not have).
    pub fn observe(&mut self, record: Record) -> Option<usize> {
        let &i = target_of(&record).and_then(|t| self.index.get(t))?;
        let (plan, run) = (self.plan, &self.runs[i]);
        let analysis = self
            .live
            .entry(i)
            .or_insert_with(|| TargetAnalysis::new(plan, run));
        let may_fail = |fault: usize| run.faults.get(fault).is_some_and(|p| p.may_fail);
        if analysis.observe(record, may_fail) {
            if let Some(done) = self.live.remove(&i) {
                self.done[i] = Some(done.finish(plan, run));
            }
        }
        Some(i)
    }

    /// Run `i`'s name, and what the checks have counted so far in its sessions: a running
    /// target's count grows as its records arrive; a finished one's is its results'.
    pub fn sessions_of(&self, i: usize) -> (&str, Sessions) {
        let sessions = match &self.done[i] {
            Some(done) => done.sessions,
            None => self
                .live
                .get(&i)
                .map(TargetAnalysis::sessions)
                .unwrap_or_default(),
        };
        (&self.runs[i].name, sessions)
    }

    /// Run `i`'s results, once its load has ended.
    pub fn finished(&self, i: usize) -> Option<&TargetResult> {
        self.done[i].as_ref()
    }

    /// The checks took `record` `age_us` after the moment it records, with `queued` more
    /// waiting: how far they ran behind the load (a live run's).
    pub fn behind(&mut self, record: &Record, age_us: u64, queued: u64) {
        let Some(&i) = target_of(record).and_then(|t| self.index.get(t)) else {
            return;
        };
        if let Some(analysis) = self.live.get_mut(&i) {
            analysis.lags.behind(age_us, queued);
        }
    }

    /// Every target's results: a target whose end the history lacks is finished with what
    /// it holds (and marked interrupted); one it never mentions, as never started.
    pub fn finish(mut self) -> Results {
        let plan = self.plan;
        let targets = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, run)| match self.done[i].take() {
                Some(done) => done,
                None => self
                    .live
                    .remove(&i)
                    .unwrap_or_else(|| TargetAnalysis::new(plan, run))
                    .finish(plan, run),
            })
            .collect();
        let mut results = Results {
            format_version: FORMAT_VERSION,
            suite: plan.name.clone(),
            source: plan.source.clone(),
            seed: plan.seed,
            targets,
            reference: plan.reference.clone(),
            warm_up_ms: us_to_ms(micros(plan.warm_up)),
        };
        results.apply_thresholds();
        results
    }
}

/// The results of a whole history.
pub fn build(plan: &Plan, history: impl IntoIterator<Item = Record>) -> Results {
    let mut analysis = Analysis::new(plan);
    for record in history {
        analysis.observe(record);
    }
    analysis.finish()
}

pub(super) fn target_of(record: &Record) -> Option<&str> {
    match record {
        Record::Header { .. } => None,
        Record::Op(op) => Some(&op.target),
        Record::Fault(f) => Some(&f.target),
        Record::TargetStart { target, .. }
        | Record::NodeMetrics { target, .. }
        | Record::DriverSample { target, .. }
        | Record::SessionEnd { target, .. }
        | Record::SessionCookie { target, .. }
        | Record::Resources { target, .. }
        | Record::TargetEnd { target, .. } => Some(target),
    }
}
