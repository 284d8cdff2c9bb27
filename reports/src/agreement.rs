//! Real against model: each target whose suite names a `model` (real Tomcat against the
//! reference delta it is modelled on) beside that model's run in the same scenario, and
//! where the two disagree, named.

use sessionbench_model::results::{Results, TargetResult};

/// Loss percentages further apart than this disagree: two runs of one target differ by a few
/// points on a two-core machine.
const LOST_POINTS: f64 = 5.0;

/// The model's run for `real`: the run of the named target in the same scenario, if any.
fn model_of<'a>(results: &'a Results, real: &TargetResult) -> Option<&'a TargetResult> {
    let model = real.model.as_deref()?;
    results
        .targets
        .iter()
        .find(|t| match (&t.run_of, &real.run_of) {
            (Some(m), Some(r)) => m.target == model && m.scenario == r.scenario,
            _ => t.name == model,
        })
}

fn lost_percent(t: &TargetResult) -> f64 {
    if t.sessions.started == 0 {
        0.0
    } else {
        100.0 * t.sessions.lost as f64 / t.sessions.started as f64
    }
}

/// What the two disagree on: loss more than [`LOST_POINTS`] apart, and any of stale reads,
/// monotonic violations and resurrections seen on one side only.
pub(crate) fn disagreements(real: &TargetResult, model: &TargetResult) -> Vec<String> {
    let mut out = Vec::new();
    let (r, m) = (lost_percent(real), lost_percent(model));
    if (r - m).abs() > LOST_POINTS {
        out.push(format!("sessions lost ({r:.1}% against {m:.1}%)"));
    }
    let (rs, ms) = (&real.sessions, &model.sessions);
    for (what, real_n, model_n) in [
        ("stale reads", rs.stale_reads, ms.stale_reads),
        (
            "monotonic violations",
            rs.monotonic_violations,
            ms.monotonic_violations,
        ),
        ("resurrections", rs.resurrections, ms.resurrections),
    ] {
        if (real_n > 0) != (model_n > 0) {
            out.push(format!("{what} ({real_n} against {model_n})"));
        }
    }
    out
}

/// The table: one row per real target with a model; `None` when no target names one.
pub(crate) fn agreement(results: &Results) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let rows: Vec<Vec<String>> = results
        .targets
        .iter()
        .filter_map(|real| Some((real, model_of(results, real)?)))
        .map(|(real, model)| {
            let side = |t: &TargetResult| {
                format!(
                    "{:.1}% lost, {} stale, {} resurrected, {:.0} ops/s, p99 {}",
                    lost_percent(t),
                    t.sessions.stale_reads,
                    t.sessions.resurrections,
                    t.throughput_ops_per_s,
                    t.latency_ms
                        .as_ref()
                        .map_or("-".to_string(), |l| format!("{:.2} ms", l.p99))
                )
            };
            let differ = disagreements(real, model);
            vec![
                real.name.clone(),
                side(real),
                model.name.clone(),
                side(model),
                if differ.is_empty() {
                    "agree".to_string()
                } else {
                    format!("**disagree**: {}", differ.join("; "))
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let header = ["real", "measured", "model", "measured", "verdict"]
        .map(String::from)
        .to_vec();
    Some((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{results, run};

    /// A run of `target` in `scenario` that lost `lost` of its 100 sessions.
    fn losing(target: &str, scenario: &str, lost: u64) -> TargetResult {
        let mut t = run(target, scenario, None, (0, 0, 0), (300.0, 5.0));
        t.sessions.lost = lost;
        t
    }

    #[test]
    fn a_real_target_meets_its_model_in_the_same_scenario_and_differences_are_named() {
        let mut real = losing("tomcat", "restart", 24);
        real.model = Some("delta".into());
        real.sessions.stale_reads = 176;
        let all = results(vec![
            losing("delta", "failure", 30),
            real,
            losing("delta", "restart", 0),
        ]);
        let (_, rows) = agreement(&all).expect("a pair");
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0][2], "delta/restart",
            "the model's run in the same scenario"
        );
        assert!(
            rows[0][4].contains("sessions lost (24.0% against 0.0%)")
                && rows[0][4].contains("stale reads (176 against 0)"),
            "{:?}",
            rows[0]
        );
        let mut close = losing("tomcat", "restart", 3);
        close.model = Some("delta".into());
        assert!(
            disagreements(&close, &losing("delta", "restart", 0)).is_empty(),
            "3 points apart agree"
        );
        assert!(agreement(&results(vec![losing("delta", "restart", 0)])).is_none());
    }
}
