//! From a plan and its history to [`Results`]: the checkers' findings per session, throughput
//! and latency per phase (before, during, after the faults), and a verdict per target. It
//! reads nothing but the plan and the history, so `sessionbench check` reproduces it offline.

mod collect;
mod continuity;
mod driver;
mod recovery;
mod thresholds;
mod timeline;
mod traffic;
mod verdict;

use std::time::Duration;

use hdrhistogram::Histogram;
use sessionbench_reports::{
    FORMAT_VERSION, FaultWindow, Latency, Ops, Phase, Results, RunOf, Sessions, TargetResult,
    Violation,
};

use self::collect::Collected;
use crate::checkers::{self, Finding, Kind};
use crate::history::{Op, OpKind, Outcome, Record};
use crate::plan::{Plan, Run};

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

fn target(plan: &Plan, run: &Run<'_>, history: &[Record]) -> TargetResult {
    let t = run.target;
    let Collected {
        mut sessions,
        faults,
        end_us,
        interrupted,
        started,
        counters,
        samples,
    } = collect::collect(run, history);
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
    let unchecked = verdict::unchecked(t);
    let expectations = verdict::expectations(t, &counts, &unchecked);
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
    let (verdict, reasons) = verdict::judge(&expectations, interrupted, started, &faults, &counts);
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
        store_traffic: counters.store_traffic(&all_ops),
        sessions_undecodable: counters.undecodable,
        unchecked: unchecked.iter().map(|c| c.name().to_string()).collect(),
        replication: counters.replication(&all_ops),
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
