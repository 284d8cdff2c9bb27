//! From a plan and its history to [`Results`]: the checkers' findings per session, throughput
//! and latency per phase (before, during, after the faults), and a verdict per target. It
//! reads nothing but the plan and the history, so `sessionbench check` reproduces it offline.

mod continuity;
mod driver;
mod recovery;
mod thresholds;
mod timeline;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use sessionbench_reports::{
    ExpectationResult, FORMAT_VERSION, FaultWindow, Latency, Ops, Phase, Replication, Results,
    RunOf, ServerLatency, Sessions, StoreTraffic, TargetResult, Verdict, Violation,
};
use sessionbench_targets::app::{Handling, MetricsView};

use crate::checkers::{self, Finding, Kind};
use crate::history::{FaultPhase, Op, OpKind, Outcome, Record};
use crate::plan::{LossExpectation, Plan, Run, TargetPlan};

pub fn build(plan: &Plan, history: &[Record]) -> Results {
    let targets = plan
        .runs()
        .iter()
        .map(|run| target(plan, run, history))
        .collect();
    Results {
        format_version: FORMAT_VERSION,
        suite: plan.name.clone(),
        source: plan.source.clone(),
        seed: plan.seed,
        targets,
        reference: plan.reference.clone(),
        warm_up_ms: us_to_ms(micros(plan.warm_up)),
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// What a target's nodes counted themselves, summed over every `/metrics` record (a node's
/// counters restart with it, so each record adds).
#[derive(Debug, Default)]
struct NodeCounters {
    /// Replication bytes and messages sent.
    replication: Option<(u64, u64)>,
    /// Bytes written to and read from a shared store.
    store: Option<(u64, u64)>,
    undecodable: u64,
    /// Request handling time as the nodes measured it, in nanoseconds.
    handling: Option<Histogram<u64>>,
}

impl NodeCounters {
    fn add(&mut self, metrics: &serde_json::Value) {
        // A record the node did not write as /metrics (a hand-edited history) adds nothing.
        let Ok(m) = serde_json::from_value::<MetricsView>(metrics.clone()) else {
            return;
        };
        if let Some(r) = &m.replication {
            let (bytes, messages) = self.replication.unwrap_or_default();
            self.replication = Some((bytes + r.bytes_sent, messages + r.messages_sent));
            self.undecodable += r.sessions_undecodable;
        }
        if let Some(s) = &m.store_traffic {
            let (written, read) = self.store.unwrap_or_default();
            self.store = Some((written + s.bytes_written, read + s.bytes_read));
            self.undecodable += s.sessions_undecodable;
        }
        if !m.handling.buckets.is_empty() {
            m.handling
                .merge_into(self.handling.get_or_insert_with(Handling::histogram));
        }
    }

    fn server_latency(&self) -> Option<ServerLatency> {
        let h = self.handling.as_ref().filter(|h| !h.is_empty())?;
        let ms = |ns: u64| ns as f64 / 1e6;
        Some(ServerLatency {
            requests: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        })
    }
}

fn target(plan: &Plan, run: &Run<'_>, history: &[Record]) -> TargetResult {
    let t = run.target;
    let name = run.name.as_str();
    let mut sessions: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    // By fault index: the window as reported, and its span in µs for the phases.
    let mut faults: BTreeMap<usize, (FaultWindow, u64, Option<u64>)> = BTreeMap::new();
    let mut end_us: Option<u64> = None;
    let mut interrupted = false;
    let mut started = false;
    let mut counters = NodeCounters::default();
    let mut samples = Vec::new();
    for record in history {
        match record {
            Record::DriverSample { target, .. } if target == name => {
                samples.extend(driver::Sample::of(record));
            }
            Record::TargetStart { target, .. } if target == name => started = true,
            Record::Op(op) if op.target == name => {
                sessions.entry(&op.session).or_default().push(op)
            }
            Record::Fault(f) if f.target == name => match f.phase {
                FaultPhase::Start => {
                    let window = FaultWindow {
                        kind: f.kind.clone(),
                        node: f.node.clone(),
                        start_ms: us_to_ms(f.at_us),
                        end_ms: None,
                        detail: f.detail.clone(),
                        sessions_lost_after: 0,
                        recovery: None,
                        failed: f.failed,
                        may_fail: run.faults.get(f.fault).is_some_and(|p| p.may_fail),
                    };
                    faults.insert(f.fault, (window, f.at_us, None));
                }
                FaultPhase::End => {
                    if let Some((w, _, end)) = faults.get_mut(&f.fault) {
                        w.end_ms = Some(us_to_ms(f.at_us));
                        w.detail = f.detail.clone().or(w.detail.take());
                        w.failed |= f.failed;
                        *end = Some(f.at_us);
                    }
                }
            },
            Record::NodeMetrics {
                target, metrics, ..
            } if target == name => counters.add(metrics),
            Record::TargetEnd {
                target,
                at_us,
                interrupted: cut,
            } if target == name => {
                end_us = Some(*at_us);
                interrupted |= *cut;
            }
            _ => {}
        }
    }
    // A history without the target's end was cut by a crash: what it holds is still checked.
    interrupted |= started && end_us.is_none();
    let mut findings: Vec<Finding> = Vec::new();
    let mut counts = Sessions::default();
    for ops in sessions.values_mut() {
        ops.sort_by_key(|op| op.start_us);
        let check = checkers::check_session(ops);
        counts.started += u64::from(check.established);
        counts.lost += u64::from(check.lost());
        findings.extend(check.findings);
    }
    for f in &findings {
        match f.kind {
            Kind::StaleRead => counts.stale_reads += 1,
            Kind::MonotonicRead => counts.monotonic_violations += 1,
            Kind::Resurrection => counts.resurrections += 1,
            Kind::SessionLost => {}
        }
    }
    findings.sort_by_key(|f| f.at_us);
    // Probes (reads with a logged-out cookie) are checks, not workload: they are meant to fail.
    let all_ops: Vec<&Op> = sessions
        .values()
        .flatten()
        .copied()
        .filter(|o| o.kind != OpKind::Probe)
        .collect();
    let warm_up = micros(plan.warm_up);
    let end = end_us.unwrap_or_else(|| all_ops.iter().map(|o| o.end_us).max().unwrap_or(0));
    let measured: Vec<&Op> = all_ops
        .iter()
        .copied()
        .filter(|o| o.start_us >= warm_up)
        .collect();
    let spans: Vec<(u64, Option<u64>)> = faults
        .values()
        .map(|(_, start, end)| (*start, *end))
        .collect();
    let mut faults: Vec<FaultWindow> = faults.into_values().map(|(w, _, _)| w).collect();
    attribute_losses(&mut faults, &spans, &findings);
    for (i, window) in faults.iter_mut().enumerate() {
        let from = spans[i].0;
        let until = spans
            .iter()
            .map(|(start, _)| *start)
            .filter(|&s| s > from)
            .min()
            .unwrap_or(end);
        window.recovery = Some(recovery::measure(from, until, &sessions, &findings));
    }
    let continuity = spans
        .iter()
        .map(|(start, _)| *start)
        .min()
        .map(|from| continuity::measure(from, &sessions, &findings));
    let phases = phases(&spans, warm_up, end)
        .into_iter()
        .map(|(name, from, to)| {
            let ops: Vec<&Op> = measured
                .iter()
                .copied()
                .filter(|o| o.start_us >= from && o.start_us < to)
                .collect();
            let in_phase = |k: Kind| {
                findings
                    .iter()
                    .filter(|f| f.kind == k && f.at_us >= from && f.at_us < to)
                    .count() as u64
            };
            Phase {
                name: name.into(),
                start_ms: us_to_ms(from),
                end_ms: us_to_ms(to),
                ops: tally(&ops),
                throughput_ops_per_s: throughput(&ops, to.saturating_sub(from)),
                latency_ms: latency(&ops),
                sessions_lost: in_phase(Kind::SessionLost),
                stale_reads: in_phase(Kind::StaleRead),
            }
        })
        .collect();
    let unchecked = unchecked(t);
    let expectations = expectations(t, &counts, &unchecked);
    let measured_ops = tally(&measured);
    let throughput_ops_per_s = throughput(&measured, end.saturating_sub(warm_up));
    let latency_ms = latency(&measured);
    let thresholds = thresholds::check(
        &t.thresholds,
        &thresholds::Measured {
            ops: measured_ops,
            throughput: throughput_ops_per_s,
            latency: latency_ms,
            sessions_lost: counts.lost,
        },
    );
    let mut timeline = timeline::seconds(&all_ops, end);
    let driver = driver::measure(
        &sessions,
        &samples,
        warm_up,
        plan.driver_limits,
        &mut timeline,
    );
    // Numbers that describe the harness are no evidence about the target either way.
    let saturated = driver.as_ref().is_some_and(|d| d.saturated);
    let thresholds = thresholds
        .into_iter()
        .map(|mut c| {
            c.unsure = saturated;
            c
        })
        .collect();
    let mut reasons: Vec<String> = expectations
        .iter()
        .filter(|e| !e.passed)
        .map(|e| format!("expected {} {}, measured {}", e.name, e.expected, e.actual))
        .collect();
    let mut verdict = if reasons.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    if verdict == Verdict::Pass && (interrupted || !started) {
        verdict = Verdict::Unknown;
        reasons.push(if started {
            "the load was interrupted: the history is incomplete".into()
        } else {
            "the target never started".into()
        });
    }
    // A fault that could not be applied leaves the run untested against it: no pass.
    for w in faults.iter().filter(|w| w.failed && !w.may_fail) {
        if verdict == Verdict::Pass {
            verdict = Verdict::Unknown;
        }
        reasons.push(format!(
            "{} could not be applied ({}): the run did not test what the suite asked \
             (`may-fail = true` on the fault accepts that)",
            w.label(),
            w.detail.as_deref().unwrap_or("no detail")
        ));
    }
    if verdict == Verdict::Pass && counts.started == 0 {
        verdict = Verdict::Unknown;
        reasons.push("no session was established, so nothing could be checked".into());
    }
    TargetResult {
        name: run.name.clone(),
        run_of: run.scenario.map(|s| RunOf {
            target: t.name.clone(),
            scenario: s.into(),
        }),
        processes: t.processes(),
        strategy: t.strategy_label(),
        lb_policy: t.lb_policy.clone(),
        codec: t.codec.clone(),
        verdict,
        reasons,
        expectations,
        thresholds,
        sessions: counts,
        ops: tally(&all_ops),
        throughput_ops_per_s,
        latency_ms,
        phases,
        timeline,
        faults,
        continuity,
        store_traffic: counters.store.map(|(bytes_written, bytes_read)| {
            let ops = all_ops.iter().filter(|o| o.outcome == Outcome::Ok).count() as u64;
            StoreTraffic {
                bytes_written,
                bytes_read,
                ops,
                bytes_per_op: if ops == 0 {
                    0.0
                } else {
                    (bytes_written + bytes_read) as f64 / ops as f64
                },
            }
        }),
        sessions_undecodable: counters.undecodable,
        unchecked: unchecked.iter().map(|c| c.name().to_string()).collect(),
        replication: counters.replication.map(|(bytes_sent, messages_sent)| {
            let writes = all_ops
                .iter()
                .filter(|o| {
                    o.outcome == Outcome::Ok && !matches!(o.kind, OpKind::Read | OpKind::Probe)
                })
                .count() as u64;
            Replication {
                bytes_sent,
                messages_sent,
                writes,
                bytes_per_write: if writes == 0 {
                    0.0
                } else {
                    bytes_sent as f64 / writes as f64
                },
            }
        }),
        violations: findings
            .into_iter()
            .map(|f| Violation {
                kind: f.kind.name().into(),
                session: f.session,
                at_ms: us_to_ms(f.at_us),
                nodes: f.nodes,
                detail: f.detail,
            })
            .collect(),
        interrupted,
        driver,
        server_latency_ms: counters.server_latency(),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Counts each lost session against the last fault that started before the answer that
/// showed the loss (an operation sent just before a fault can see its effect).
fn attribute_losses(
    faults: &mut [FaultWindow],
    spans: &[(u64, Option<u64>)],
    findings: &[Finding],
) {
    for f in findings.iter().filter(|f| f.kind == Kind::SessionLost) {
        let latest = (0..spans.len())
            .filter(|&i| spans[i].0 <= f.answered_us)
            .max_by_key(|&i| spans[i].0);
        if let Some(i) = latest {
            faults[i].sessions_lost_after += 1;
        }
    }
}

/// Splits `[warm_up, end)` around the fault windows: `before`, `during` (first fault start to
/// last fault end), `after`; or one `steady` phase when there was no fault.
fn phases(spans: &[(u64, Option<u64>)], warm_up: u64, end: u64) -> Vec<(&'static str, u64, u64)> {
    let first = spans.iter().map(|(start, _)| *start).min();
    let last = spans.iter().map(|(_, stop)| stop.unwrap_or(end)).max();
    match (first, last) {
        (Some(first), Some(last)) => [
            ("before", warm_up, first.max(warm_up)),
            ("during", first.max(warm_up), last.min(end)),
            ("after", last.min(end), end),
        ]
        .into_iter()
        .filter(|(_, from, to)| to > from)
        .collect(),
        _ => vec![("steady", warm_up, end)],
    }
}

fn tally(ops: &[&Op]) -> Ops {
    let count = |o: Outcome| ops.iter().filter(|op| op.outcome == o).count() as u64;
    Ops {
        total: ops.len() as u64,
        ok: count(Outcome::Ok),
        fail: count(Outcome::Fail),
        indeterminate: count(Outcome::Indeterminate),
    }
}

fn throughput(ops: &[&Op], window_us: u64) -> f64 {
    if window_us == 0 {
        return 0.0;
    }
    ops.iter().filter(|o| o.outcome == Outcome::Ok).count() as f64 / (window_us as f64 / 1e6)
}

/// Percentiles of successful operations, measured from their intended start.
fn latency(ops: &[&Op]) -> Option<Latency> {
    let mut h =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds are valid");
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        h.saturating_record(op.end_us.saturating_sub(op.intended_us).max(1));
    }
    if h.is_empty() {
        return None;
    }
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    Some(Latency {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: h.max() as f64 / 1000.0,
    })
}

/// The checks a target's answers cannot support: an application's API whose reads show no
/// value or counter cannot show a stale read.
fn unchecked(t: &TargetPlan) -> Vec<Kind> {
    let Some(api) = t.external.as_ref().and_then(|e| e.api.as_ref()) else {
        return Vec::new();
    };
    let mut kinds = Vec::new();
    if !api.shows_state() {
        kinds.push(Kind::StaleRead);
    }
    if !api.shows_order() {
        kinds.push(Kind::MonotonicRead);
    }
    kinds
}

/// `unchecked`: the checks the target cannot support, whose bounds are not judged.
fn expectations(t: &TargetPlan, s: &Sessions, unchecked: &[Kind]) -> Vec<ExpectationResult> {
    let e = &t.expect;
    let mut out = Vec::new();
    let mut push = |name: &str, expected: String, actual: String, passed: bool| {
        out.push(ExpectationResult::new(name, expected, actual, passed));
    };
    match e.sessions_lost {
        LossExpectation::None => push(
            "sessions-lost",
            "none".into(),
            s.lost.to_string(),
            s.lost == 0,
        ),
        LossExpectation::Some => push(
            "sessions-lost",
            "some (negative control)".into(),
            s.lost.to_string(),
            s.lost > 0,
        ),
        LossExpectation::Any => {}
    }
    if let Some(max) = e.max_sessions_lost_percent {
        let pct = if s.started == 0 {
            0.0
        } else {
            s.lost as f64 * 100.0 / s.started as f64
        };
        push(
            "sessions-lost-percent",
            format!("<= {max}"),
            format!("{pct:.1}"),
            pct <= max,
        );
    }
    if !unchecked.contains(&Kind::StaleRead) {
        push(
            "stale-reads",
            format!("<= {}", e.max_stale_reads),
            s.stale_reads.to_string(),
            s.stale_reads <= e.max_stale_reads,
        );
    }
    if !unchecked.contains(&Kind::MonotonicRead) {
        push(
            "monotonic-violations",
            format!("<= {}", e.max_monotonic_violations),
            s.monotonic_violations.to_string(),
            s.monotonic_violations <= e.max_monotonic_violations,
        );
    }
    push(
        "resurrections",
        format!("<= {}", e.max_resurrections),
        s.resurrections.to_string(),
        s.resurrections <= e.max_resurrections,
    );
    out
}
