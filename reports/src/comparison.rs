//! The strategy comparison of a suite with scenarios: one column per target, one row per
//! feature, in the shape of the background chapter's table, every cell measured in this run.

use sessionbench_model::results::{Continuity, Results, TargetResult};

/// One target's runs, scenario by scenario.
struct Column<'a> {
    target: &'a str,
    runs: Vec<(&'a str, &'a TargetResult)>,
}

impl<'a> Column<'a> {
    fn run(&self, scenario: &str) -> Option<&'a TargetResult> {
        self.runs
            .iter()
            .find(|(s, _)| *s == scenario)
            .map(|(_, r)| *r)
    }
}

/// The comparison as a header and rows; `None` when the results have no scenarios.
pub(crate) fn comparison(results: &Results) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let (columns, scenarios) = columns_of(results);
    if columns.is_empty() {
        return None;
    }
    let mut header = vec!["".to_string()];
    header.extend(columns.iter().map(|c| c.target.to_string()));
    let mut rows = Vec::new();
    let row = |label: String, cell: &dyn Fn(&Column<'_>) -> String| row(&columns, label, cell);
    rows.push(row("Strategy".into(), &|c| {
        c.runs.first().map_or(String::new(), |(_, r)| strategy(r))
    }));
    rows.extend(scenario_rows(&columns, &scenarios));
    rows.push(row("Stale reads (all scenarios)".into(), &|c| {
        c.runs
            .iter()
            .map(|(_, r)| r.sessions.stale_reads)
            .sum::<u64>()
            .to_string()
    }));
    rows.extend(speed_rows(results, &columns, &scenarios));
    // The speed rows mean something only where the driver kept up.
    rows.push(row("Driver kept up (all scenarios)".into(), &|c| {
        let behind: Vec<String> = c
            .runs
            .iter()
            .filter_map(|(s, r)| {
                let why = r.driver.as_ref()?.behind()?;
                Some(format!("{s}: {why}"))
            })
            .collect();
        if behind.is_empty() {
            "yes".into()
        } else {
            format!("no ({})", behind.join(", "))
        }
    }));
    rows.push(row("Processes to operate".into(), &|c| {
        c.runs
            .first()
            .map_or(String::new(), |(_, r)| r.processes.to_string())
    }));
    // Each guarantee held in every run, broken in one (its violations summed), or judged
    // in none.
    rows.push(row("Guarantees held (all scenarios)".into(), &|c| {
        let runs: Vec<&TargetResult> = c.runs.iter().map(|(_, r)| *r).collect();
        crate::guarantees::across(&runs)
    }));
    rows.push(row("Verdict (worst of its runs)".into(), &|c| {
        c.runs
            .iter()
            .map(|(_, r)| r.verdict)
            .max()
            .map_or(String::new(), |v| v.name().to_string())
    }));
    Some((header, rows))
}

/// The targets that ran in scenarios, each with its runs, and the scenarios in order.
fn columns_of(results: &Results) -> (Vec<Column<'_>>, Vec<&str>) {
    let mut columns: Vec<Column<'_>> = Vec::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for r in &results.targets {
        let Some(of) = &r.run_of else { continue };
        if !scenarios.contains(&of.scenario.as_str()) {
            scenarios.push(&of.scenario);
        }
        match columns.iter_mut().find(|c| c.target == of.target) {
            Some(c) => c.runs.push((&of.scenario, r)),
            None => columns.push(Column {
                target: &of.target,
                runs: vec![(&of.scenario, r)],
            }),
        }
    }
    (columns, scenarios)
}

/// A row: its label, then each target's cell.
fn row(columns: &[Column<'_>], label: String, cell: &dyn Fn(&Column<'_>) -> String) -> Vec<String> {
    let mut r = vec![label];
    r.extend(columns.iter().map(cell));
    r
}

/// Whether any target's run of scenario `s` had faults.
fn faulted(columns: &[Column<'_>], s: &str) -> bool {
    columns
        .iter()
        .filter_map(|c| c.run(s))
        .any(|r| !r.faults.is_empty())
}

/// Per scenario: what a fault left of the sessions in use (kept, moved on a scale-out), and
/// the updates lost where sessions sent requests side by side.
fn scenario_rows(columns: &[Column<'_>], scenarios: &[&str]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    // A scenario whose runs had faults: what the sessions in use then became.
    for &s in scenarios.iter().filter(|s| faulted(columns, s)) {
        rows.push(row(columns, format!("Sessions kept on {s} (%)"), &|c| {
            share(c.run(s), |c| c.kept)
        }));
        let scales_out = columns
            .iter()
            .filter_map(|c| c.run(s))
            .any(|r| r.faults.iter().any(|f| f.kind == "add-node"));
        if scales_out {
            rows.push(row(
                columns,
                format!("Sessions moved to another node on {s} (%)"),
                &|c| share(c.run(s), |c| c.moved),
            ));
        }
    }
    // A scenario whose sessions sent requests side by side: updates their saves undid.
    for &s in scenarios {
        let parallel = columns
            .iter()
            .filter_map(|c| c.run(s))
            .map(|r| r.parallel)
            .max()
            .unwrap_or(1);
        if parallel > 1 {
            rows.push(row(
                columns,
                format!("Lost updates under {parallel} parallel requests ({s})"),
                &|c| {
                    c.run(s)
                        .map_or(String::new(), |r| r.sessions.lost_updates.to_string())
                },
            ));
        }
    }
    rows
}

/// Latency, throughput and bytes per request against the reference target, from the
/// scenario without faults (or else the first).
fn speed_rows(results: &Results, columns: &[Column<'_>], scenarios: &[&str]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let steady = scenarios
        .iter()
        .copied()
        .find(|s| !faulted(columns, s))
        .unwrap_or(scenarios[0]);
    let reference = results
        .reference
        .as_deref()
        .and_then(|name| columns.iter().find(|c| c.target == name))
        .unwrap_or(&columns[0]);
    let base = reference.run(steady);
    rows.push(row(
        columns,
        format!("p99 latency vs {} ({steady})", reference.target),
        &|c| {
            let p99 = |r: Option<&TargetResult>| r.and_then(|r| r.latency_ms).map(|l| l.p99);
            relative(p99(c.run(steady)), p99(base), |v| format!("{v:.1} ms"))
        },
    ));
    rows.push(row(
        columns,
        format!("Throughput vs {} ({steady})", reference.target),
        &|c| {
            let ops = |r: Option<&TargetResult>| r.map(|r| r.throughput_ops_per_s);
            relative(ops(c.run(steady)), ops(base), |v| format!("{v:.0} ops/s"))
        },
    ));
    rows.push(row(
        columns,
        format!("Replication or store bytes per request ({steady})"),
        &|c| c.run(steady).map_or("not run".into(), bytes_per_request),
    ));
    rows
}

fn strategy(r: &TargetResult) -> String {
    match &r.lb_policy {
        Some(p) if p != &r.strategy && r.strategy == "sticky" => format!("sticky ({p})"),
        _ => r.strategy.clone(),
    }
}

/// `part` of the sessions at risk when the run's first fault struck, as "% (part/at risk)".
fn share(r: Option<&TargetResult>, part: fn(&Continuity) -> u64) -> String {
    let Some(r) = r else {
        return "not run".into();
    };
    match &r.continuity {
        Some(c) if c.at_risk > 0 => {
            let n = part(c);
            format!(
                "{:.0} ({n}/{})",
                n as f64 * 100.0 / c.at_risk as f64,
                c.at_risk
            )
        }
        _ => "none at risk".into(),
    }
}

/// `value` as a multiple of `base`, with the value itself.
fn relative(value: Option<f64>, base: Option<f64>, show: impl Fn(f64) -> String) -> String {
    match (value, base) {
        (Some(v), Some(b)) if b > 0.0 => format!("{:.2}× ({})", v / b, show(v)),
        (Some(v), _) => show(v),
        (None, _) => "not measured".into(),
    }
}

/// Bytes sent to peers or to and from the store, per successful request.
fn bytes_per_request(r: &TargetResult) -> String {
    let bytes = r.replication.map_or(0, |x| x.bytes_sent)
        + r.store_traffic
            .map_or(0, |s| s.bytes_written + s.bytes_read);
    if r.ops.ok == 0 {
        return "no request served".into();
    }
    format!("{:.0}", bytes as f64 / r.ops.ok as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{results, run};

    #[test]
    fn one_column_per_target_one_row_per_feature() {
        let mut targets = Vec::new();
        for (t, speed, kill, add) in [
            ("sticky", (1_000.0, 4.0), (27, 40, 13), (40, 40, 0)),
            ("redis", (900.0, 5.0), (40, 40, 30), (40, 40, 29)),
        ] {
            targets.push(run(t, "capacity", None, (0, 0, 0), speed));
            targets.push(run(t, "failure", Some("kill"), kill, speed));
            targets.push(run(t, "scale-out", Some("add-node"), add, speed));
        }
        // A run cut short before any session was at risk.
        targets[5].continuity = Some(Continuity {
            from_ms: 2_000.0,
            at_risk: 0,
            kept: 0,
            moved: 0,
        });
        targets[3].driver = Some(crate::fixtures::driver(true));
        targets[0].driver = Some(crate::fixtures::driver(false));
        let mut results = results(targets);
        results.reference = Some("sticky".into());
        let (header, rows) = comparison(&results).expect("scenarios");
        let mut out = String::new();
        crate::render::md_table(&mut out, header, rows);
        insta::assert_snapshot!(out);
    }

    #[test]
    fn results_without_scenarios_have_no_comparison() {
        let mut r = run("sticky", "failure", None, (0, 0, 0), (1.0, 1.0));
        r.run_of = None;
        assert!(comparison(&results(vec![r])).is_none());
    }
}
