//! One target's analysis, built as its records arrive. Memory holds the sessions alive, the
//! seconds still open and the last [`REORDER_US`] of operations, not the run: a session is
//! forgotten once its end is recorded, and a second once no answer can still arrive for it.
//!
//! Operations wait [`REORDER_US`] of history time before they are counted, so that a fault
//! recorded a little after an operation it came before (records of concurrent tasks reach
//! the history in the order they were sent, not stamped) still splits the phases and the
//! recovery windows where it happened.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use sessionbench_model::results::{
    Continuity, FaultWindow, RunOf, Sessions, TargetResult, Violation,
};

use super::continuity::SessionContinuity;
use super::coverage::{self, Coverage};
use super::driver::{self, Lags, Sample};
use super::kinds::ByKind;
use super::phases::{attribute_losses, loss_rate_before, mark_seconds, phase_table, recover};
use super::recovery::{SessionRecovery, Windows};
use super::segments::Segments;
use super::story::{Nodes, Story};
use super::timeline::Seconds;
use super::traffic::{self, NodeCounters};
use super::units::{micros, us_to_ms};
use super::windows::{self, Report};
use super::{known, thresholds, verdict};
use crate::checkers::{Checker, Finding, Kind, Mark};
use crate::history::{FaultPhase, Op, OpKind, Record};
use sessionbench_model::plan::{KnownLoss, Plan, Run};

/// Violations listed whole in the results; past them, findings are only counted (a long run
/// of a lossy strategy finds millions).
pub(super) const LISTED: usize = 1_000;

/// How far behind the latest record an operation is counted.
pub(super) const REORDER_US: u64 = 500_000;

/// How long past its request timeout an operation may be answered before its second closes.
const ANSWER_SLACK_US: u64 = 2_000_000;

/// One session while it lives.
#[derive(Debug)]
struct Live {
    checker: Checker,
    /// An operation followed the login.
    used: bool,
    /// Its last operations, told with each finding listed.
    story: Story,
    previous_end: u64,
    recovery: SessionRecovery,
    continuity: SessionContinuity,
}

/// What waits out the reorder window: nearly all operations (boxing would allocate for each).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Pending {
    Op(Op),
    End(String, u64),
    /// A session's cookie as an answer left it.
    Cookie(String, u64, Option<String>),
}

impl Pending {
    fn at(&self) -> u64 {
        match self {
            Self::Op(op) => op.end_us,
            Self::End(_, at) | Self::Cookie(_, at, _) => *at,
        }
    }
}

#[derive(Debug)]
pub(super) struct TargetAnalysis {
    idle_limit: Option<Duration>,
    started: bool,
    end_us: Option<u64>,
    interrupted: bool,
    /// The latest time any record of the target has shown.
    clock: u64,
    pending: VecDeque<Pending>,
    sessions: HashMap<String, Live>,
    segments: Segments,
    by_kind: ByKind,
    seconds: Seconds,
    pub(super) lags: Lags,
    /// By fault index: the window as reported, and its span in µs.
    faults: BTreeMap<usize, (FaultWindow, u64, Option<u64>)>,
    windows: Windows,
    first_fault: Option<u64>,
    continuity: Continuity,
    /// What the sessions' answers fed each check.
    coverage: Coverage,
    /// Every finding, in brief.
    marks: Vec<Mark>,
    /// The first [`LISTED`] findings, whole, each with its session's story and cookie.
    findings: Vec<(Finding, Vec<String>, Option<String>)>,
    nodes: Nodes,
    counts: Sessions,
    counters: NodeCounters,
    samples: Vec<Sample>,
    /// What the processes held, and the run window by window.
    report: Report,
    /// Successful operations and writes (logout probes left out), for traffic per operation.
    ok_ops: u64,
    ok_writes: u64,
    /// The latest operation's end: the end of a load whose end was not recorded.
    last_end: u64,
}

impl TargetAnalysis {
    pub fn new(plan: &Plan, run: &Run<'_>) -> Self {
        let warm_up = micros(plan.warm_up);
        let open_for = micros(run.workload.request_timeout) + ANSWER_SLACK_US + REORDER_US;
        Self {
            idle_limit: (!run.target.max_inactive.is_zero()).then_some(run.target.max_inactive),
            started: false,
            end_us: None,
            interrupted: false,
            clock: 0,
            pending: VecDeque::new(),
            sessions: HashMap::new(),
            segments: Segments::new(warm_up),
            by_kind: ByKind::new(warm_up),
            seconds: Seconds::new(open_for),
            lags: Lags::new(warm_up, plan.driver_limits),
            faults: BTreeMap::new(),
            windows: Windows::new(),
            first_fault: None,
            continuity: Continuity::default(),
            coverage: Coverage::default(),
            marks: Vec::new(),
            findings: Vec::new(),
            nodes: Nodes::default(),
            counts: Sessions::default(),
            counters: NodeCounters::default(),
            samples: Vec::new(),
            report: Report::new(plan.report_window.map(micros), open_for),
            ok_ops: 0,
            ok_writes: 0,
            last_end: 0,
        }
    }

    /// What the checks have counted so far (sessions are `started` as they end).
    pub fn sessions(&self) -> Sessions {
        self.counts
    }

    /// Takes one record of the target. Returns `true` at the target's end.
    pub fn observe(&mut self, record: Record, may_fail: impl Fn(usize) -> bool) -> bool {
        match record {
            Record::Op(op) => {
                self.tick(op.end_us);
                self.pending.push_back(Pending::Op(op));
            }
            Record::SessionEnd { session, at_us, .. } => {
                self.tick(at_us);
                self.pending.push_back(Pending::End(session, at_us));
            }
            Record::SessionCookie {
                session,
                at_us: t,
                value: v,
                ..
            } => self.pending.push_back(Pending::Cookie(session, t, v)),
            Record::Fault(f) => {
                self.tick(f.at_us);
                self.segments.cut(f.at_us);
                match f.phase {
                    FaultPhase::Start => {
                        self.windows.entry(f.at_us).or_default();
                        self.first_fault =
                            Some(self.first_fault.map_or(f.at_us, |t| t.min(f.at_us)));
                        let window = FaultWindow {
                            kind: f.kind,
                            node: f.node,
                            start_ms: us_to_ms(f.at_us),
                            end_ms: None,
                            detail: f.detail,
                            sessions_lost_after: 0,
                            lost_per_s_before: None,
                            sessions_lost_beyond: None,
                            updates_lost_after: 0,
                            recovery: None,
                            failed: f.failed,
                            may_fail: may_fail(f.fault),
                        };
                        self.faults.insert(f.fault, (window, f.at_us, None));
                    }
                    FaultPhase::End => {
                        if let Some((w, _, end)) = self.faults.get_mut(&f.fault) {
                            w.end_ms = Some(us_to_ms(f.at_us));
                            w.detail = f.detail.or(w.detail.take());
                            w.failed |= f.failed;
                            *end = Some(f.at_us);
                        }
                    }
                }
            }
            Record::DriverSample { .. } => {
                if let Some(s) = Sample::of(&record) {
                    self.tick(s.at_us);
                    self.samples.push(s);
                }
            }
            Record::Resources {
                at_us,
                rss,
                redis_used_memory,
                sessions_held,
                harness_peak,
                ..
            } => {
                self.tick(at_us);
                self.report.sample(&windows::Sample {
                    at_us,
                    rss,
                    redis_used_memory,
                    sessions_held,
                    harness_peak,
                });
            }
            Record::TargetStart { .. } => self.started = true,
            Record::NodeMetrics { metrics, .. } => self.counters.add(&metrics),
            Record::TargetEnd {
                at_us, interrupted, ..
            } => {
                self.segments.cut(at_us);
                self.end_us = Some(at_us);
                self.interrupted |= interrupted;
                return true;
            }
            Record::Header { .. } => {}
        }
        self.drain(self.clock.saturating_sub(REORDER_US));
        false
    }

    fn tick(&mut self, at_us: u64) {
        self.clock = self.clock.max(at_us);
    }

    /// Counts what waited long enough (everything up to `until`), and closes the seconds and
    /// windows nothing can arrive for any more.
    fn drain(&mut self, until: u64) {
        self.count_pending(until);
        self.seconds.close_before(until);
        self.report.close_before(until);
    }

    fn count_pending(&mut self, until: u64) {
        while self.pending.front().is_some_and(|p| p.at() <= until) {
            match self.pending.pop_front() {
                Some(Pending::Op(op)) => self.count(&op),
                Some(Pending::End(session, _)) => self.settle(&session),
                Some(Pending::Cookie(session, _, value)) => {
                    if let Some(live) = self.sessions.get_mut(&session) {
                        live.story.cookie = value;
                    }
                }
                None => {}
            }
        }
    }

    fn count(&mut self, op: &Op) {
        if !self.sessions.contains_key(&op.session) {
            let live = Live {
                checker: Checker::new(self.idle_limit),
                used: false,
                story: Story::default(),
                previous_end: 0,
                recovery: SessionRecovery::default(),
                continuity: SessionContinuity::default(),
            };
            self.sessions.insert(op.session.clone(), live);
        }
        let Some(live) = self.sessions.get_mut(&op.session) else {
            return;
        };
        let lag = self.lags.add(op, live.previous_end);
        live.previous_end = op.end_us;
        self.seconds.lag(op.start_us, lag);
        let (established, expired) = (live.checker.established(), live.checker.expired());
        // An operation after the login: the session was used, not only signed in.
        live.used |= established && op.kind != OpKind::Login;
        live.story.see(op, &mut self.nodes);
        live.checker.step(op);
        self.counts.expired += u64::from(!expired && live.checker.expired());
        for f in live.checker.take_findings() {
            match f.kind {
                Kind::SessionLost => {}
                Kind::StaleRead => self.counts.stale_reads += 1,
                Kind::MonotonicRead => self.counts.monotonic_violations += 1,
                Kind::Resurrection => self.counts.resurrections += 1,
                Kind::ExpiredEarly => self.counts.expired_early += 1,
                Kind::Outlived => self.counts.outlived += 1,
                Kind::LogoutFailed => self.counts.logout_failed += 1,
                Kind::LostUpdate => self.counts.lost_updates += f.count,
                Kind::MonotonicWrite => self.counts.monotonic_writes += 1,
            }
            if f.kind.is_loss() {
                self.counts.lost += 1;
                live.continuity.lost_at = Some(f.answered_us);
            }
            self.marks.push(f.mark());
            if self.findings.len() < LISTED {
                let story = live.story.tell(&self.nodes);
                self.findings.push((f, story, live.story.cookie.clone()));
            }
        }
        live.recovery.see(op, &mut self.windows);
        live.continuity.see(op, self.first_fault);
        // Probes and final reads are checks, not workload (probes are meant to fail).
        if !op.kind.is_check() {
            self.segments.add(op);
            self.by_kind.add(op);
            self.seconds.add(op);
            self.report.add(op);
            self.last_end = self.last_end.max(op.end_us);
            self.ok_ops += u64::from(op.outcome == crate::history::Outcome::Ok);
            self.ok_writes += u64::from(traffic::is_write(op));
        }
    }

    fn settle(&mut self, session: &str) {
        let Some(mut live) = self.sessions.remove(session) else {
            return;
        };
        // What only the whole session shows: updates undone for good.
        live.checker.finish();
        // Their operations are in their words: the story (the session's last operations)
        // would tell of its end, not of them.
        for f in live.checker.take_findings() {
            self.counts.lost_updates += f.count;
            self.marks.push(f.mark());
            if self.findings.len() < LISTED {
                self.findings
                    .push((f, Vec::new(), live.story.cookie.clone()));
            }
        }
        // A session signed in as the load ended is counted apart: it would swell `started`
        // and lower every percentage of it.
        if live.checker.established() {
            self.coverage.add(live.checker.fed());
            if live.used {
                self.counts.started += 1;
            } else {
                self.counts.login_only += 1;
            }
        }
        live.recovery.settle(&mut self.windows);
        if let Some(from) = self.first_fault {
            live.continuity.settle(from, &mut self.continuity);
        }
    }

    /// The target's results, once its records are all in.
    pub fn finish(mut self, plan: &Plan, run: &Run<'_>) -> TargetResult {
        // The seconds and windows still open close below, where the end is known.
        self.count_pending(u64::MAX);
        let sessions: Vec<String> = self.sessions.keys().cloned().collect();
        for session in sessions {
            self.settle(&session);
        }
        // A history without the target's end was cut by a crash: what it holds is checked.
        self.interrupted |= self.started && self.end_us.is_none();
        let end = self.end_us.unwrap_or(self.last_end);
        self.segments.cut(end);
        let t = run.target;
        let warm_up = micros(plan.warm_up);
        self.findings.sort_by_key(|(f, _, _)| f.at_us);
        let marks = &self.marks;
        let spans: Vec<(u64, Option<u64>)> =
            self.faults.values().map(|(_, s, e)| (*s, *e)).collect();
        let mut faults: Vec<FaultWindow> = self.faults.into_values().map(|(w, _, _)| w).collect();
        attribute_losses(&mut faults, &spans, marks);
        let before = loss_rate_before(marks, warm_up, self.first_fault);
        recover(&mut faults, &spans, &self.windows, marks, before, end);
        let continuity = self.first_fault.map(|from| Continuity {
            from_ms: us_to_ms(from),
            ..self.continuity
        });
        let phases = phase_table(&spans, warm_up, end, &self.segments, marks);
        let explained = known::explain(&t.expect.known_losses, &faults, &spans, marks);
        let mut counts = self.counts;
        counts.lost_known = explained.sessions;
        let unchecked = verdict::unchecked(t);
        let share = plan.shard.is_some_and(|s| s.count > 1);
        let mut expectations = verdict::expectations(t, &counts, &unchecked, share);
        expectations.extend(verdict::known_losses(&t.expect.known_losses, &explained));
        let measured = self.segments.sum(warm_up, u64::MAX);
        let throughput_ops_per_s = measured.throughput(end.saturating_sub(warm_up));
        let latency_ms = measured.latency();
        let by_kind = self.by_kind.finish(end.saturating_sub(warm_up));
        let thresholds = thresholds::check(
            &t.thresholds,
            &thresholds::Measured {
                ops: measured.ops,
                throughput: throughput_ops_per_s,
                latency: latency_ms,
                by_kind: &by_kind,
                sessions_lost: counts.lost,
            },
        );
        let mut timeline = self.seconds.finish(end);
        mark_seconds(&mut timeline, marks);
        let (resources, windows) = self.report.finish(end);
        let driver = driver::measure(&self.lags, &self.samples, plan.driver_limits, &mut timeline);
        // Numbers that describe the harness are no evidence about the target either way.
        let behind = driver.as_ref().is_some_and(|d| d.behind().is_some());
        let thresholds = thresholds
            .into_iter()
            .map(|mut c| {
                c.unsure = behind;
                c
            })
            .collect();
        let checks = self.coverage.report(t);
        let unjudged: Vec<String> = expectations
            .iter()
            .filter(|e| e.passed)
            .filter_map(|e| coverage::unjudged(&checks, &e.name))
            .collect();
        let (verdict, reasons) = verdict::judge(
            &expectations,
            &unjudged,
            self.interrupted,
            self.started,
            &faults,
            &counts,
        );
        let violations_not_listed = (self.marks.len() - self.findings.len()) as u64;
        let violations = violations(self.findings, &t.expect.known_losses, &faults, &spans);
        TargetResult {
            name: run.name.clone(),
            run_of: run.scenario.map(|s| RunOf {
                target: t.name.clone(),
                scenario: s.into(),
            }),
            processes: t.processes(),
            strategy: t.strategy_label(),
            model: t.model.clone(),
            parallel: run.workload.parallel,
            lb_policy: t.lb_policy.clone(),
            balancer: (t.lb_policy.is_some() && t.external.is_none())
                .then(|| t.lb.program().to_string()),
            codec: t.codec.clone(),
            verdict,
            checks_verdict: None,
            reasons,
            expectations,
            thresholds,
            sessions: counts,
            ops: self.segments.sum(0, u64::MAX).ops,
            throughput_ops_per_s,
            latency_ms,
            by_kind,
            phases,
            timeline,
            faults,
            continuity,
            store_traffic: self.counters.store_traffic(self.ok_ops),
            sessions_undecodable: self.counters.undecodable,
            unchecked: unchecked.iter().map(|c| c.name().to_string()).collect(),
            replication: self.counters.replication(self.ok_writes),
            violations_not_listed,
            checks,
            tls_unverified: t.tls_unverified(),
            violations,
            interrupted: self.interrupted,
            driver,
            server_latency_ms: self.counters.server_latency(),
            resources,
            windows,
        }
    }
}

/// The findings kept whole, as results list them: a loss a known cause explains names it.
fn violations(
    findings: Vec<(Finding, Vec<String>, Option<String>)>,
    known_losses: &[KnownLoss],
    faults: &[FaultWindow],
    spans: &[(u64, Option<u64>)],
) -> Vec<Violation> {
    findings
        .into_iter()
        .map(|(f, story, session_cookie)| Violation {
            cause: f
                .kind
                .is_loss()
                .then(|| known::cause(known_losses, faults, spans, f.answered_us))
                .flatten()
                .map(|(k, _)| known_losses[k].cause.clone()),
            kind: f.kind.name().into(),
            session: f.session,
            at_ms: us_to_ms(f.at_us),
            nodes: f.nodes,
            detail: f.detail,
            story,
            session_cookie,
        })
        .collect()
}
