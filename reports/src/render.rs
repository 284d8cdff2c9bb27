//! Renderers: pure functions from [`Results`] to text.

use std::fmt::Write;

use tabled::Table;
use tabled::builder::Builder;
use tabled::settings::peaker::Priority;
use tabled::settings::{Style, Width};

use crate::agreement::agreement;
use crate::cells::{header, latency_cells, ops_cells};
use crate::comparison::comparison;
use crate::details::{memory, write_details};
use crate::kinds::{all_kind_rows, kind_header};
use crate::units::ms;
use sessionbench_model::results::{CheckCoverage, Judged, Results, TargetResult};

pub(crate) fn summary_header() -> Vec<String> {
    header(
        &[
            "target",
            "strategy",
            "verdict",
            "sessions",
            "lost",
            "stale",
            "lost upd.",
        ],
        &[],
    )
}

pub(crate) fn summary_row(t: &TargetResult) -> Vec<String> {
    // The balancer is named where it is not the reference one.
    let lb = t
        .balancer
        .as_deref()
        .filter(|b| *b != "sessionbench lb")
        .map_or(String::new(), |b| format!(" via {b}"));
    let mut strategy = match &t.lb_policy {
        Some(p) if p != &t.strategy => format!("{} ({p}{lb})", t.strategy),
        _ if !lb.is_empty() => format!("{} ({})", t.strategy, lb.trim_start()),
        _ => t.strategy.clone(),
    };
    if let Some(codec) = &t.codec {
        strategy = format!("{strategy}, {codec}");
    }
    let mut row = vec![
        t.name.clone(),
        strategy,
        t.verdict.name().to_string(),
        t.sessions.started.to_string(),
        t.sessions.lost.to_string(),
        if t.unchecked.iter().any(|c| c == "stale-read") {
            "n/a".into()
        } else {
            t.sessions.stale_reads.to_string()
        },
        lost_updates_cell(t),
    ];
    row.extend(ops_cells(&t.ops));
    row.push(format!("{:.0}", t.throughput_ops_per_s));
    row.extend(latency_cells(t.latency_ms.as_ref()));
    row
}

/// Lost updates, `n/a` where no answer fed the check though sessions needed it, and marked
/// `(partly)` where only some of its parts or sessions were judged.
fn lost_updates_cell(t: &TargetResult) -> String {
    let needed: Vec<&CheckCoverage> = t
        .checks
        .iter()
        .filter(|c| c.check == "lost-update" && c.sessions > 0)
        .collect();
    let n = t.sessions.lost_updates;
    if t.unchecked.iter().any(|c| c == "stale-read")
        || (!needed.is_empty() && needed.iter().all(|c| c.judged == Judged::NotJudged))
    {
        "n/a".into()
    } else if needed.iter().any(|c| c.judged != Judged::Judged) {
        format!("{n} (partly)")
    } else {
        n.to_string()
    }
}

fn phase_rows(t: &TargetResult) -> Vec<Vec<String>> {
    t.phases
        .iter()
        .map(|p| {
            let mut row = vec![
                t.name.clone(),
                p.name.clone(),
                format!("{:.1}-{:.1}", p.start_ms / 1000.0, p.end_ms / 1000.0),
            ];
            row.extend(ops_cells(&p.ops));
            row.push(format!("{:.0}", p.throughput_ops_per_s));
            row.extend(latency_cells(p.latency_ms.as_ref()));
            row.push(p.sessions_lost.to_string());
            row.push(p.stale_reads.to_string());
            row.push(p.lost_updates.to_string());
            row
        })
        .collect()
}

fn phase_header() -> Vec<String> {
    header(
        &["target", "phase", "time s"],
        &["lost", "stale", "lost upd."],
    )
}

pub(crate) fn build(header: Vec<String>, rows: Vec<Vec<String>>) -> Builder {
    let mut b = Builder::default();
    b.push_record(header);
    for r in rows {
        b.push_record(r);
    }
    b
}

/// Columns a terminal's default tables leave out, to fit [`TERMINAL_COLUMNS`]: `wide`
/// tables, report.md and report.html have them.
const WIDE_ONLY: [&str; 5] = ["ok", "indet.", "p90 ms", "p99.9 ms", "max ms"];

/// How wide a terminal's default tables are at most: what is still too wide wraps inside its
/// cells, the widest column first.
pub const TERMINAL_COLUMNS: usize = 120;

/// A table for a terminal: every column when `wide`, else without [`WIDE_ONLY`]'s and at
/// most [`TERMINAL_COLUMNS`] wide.
fn terminal(header: Vec<String>, rows: Vec<Vec<String>>, wide: bool) -> Table {
    let (header, rows) = if wide {
        (header, rows)
    } else {
        let keep: Vec<bool> = header
            .iter()
            .map(|h| !WIDE_ONLY.contains(&h.as_str()))
            .collect();
        let pick = |row: Vec<String>| -> Vec<String> {
            row.into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c)
                .collect()
        };
        (pick(header), rows.into_iter().map(pick).collect())
    };
    let mut table = build(header, rows).build();
    table.with(Style::rounded());
    if !wide {
        table.with(
            Width::wrap(TERMINAL_COLUMNS)
                .priority(Priority::max(true))
                .keep_words(true),
        );
    }
    table
}

/// Tables for a terminal: one row per target, then one per target and phase, then reasons.
/// They fit [`TERMINAL_COLUMNS`] unless `wide`.
pub fn table(results: &Results, wide: bool) -> String {
    let mut out = String::new();
    let summary = terminal(
        summary_header(),
        results.targets.iter().map(summary_row).collect(),
        wide,
    );
    let _ = writeln!(out, "{summary}");
    for w in warnings(results) {
        let _ = writeln!(out, "WARNING: {w}");
    }
    let phases = terminal(
        phase_header(),
        results.targets.iter().flat_map(phase_rows).collect(),
        wide,
    );
    let _ = writeln!(out, "{phases}");
    let kinds = all_kind_rows(results);
    if !kinds.is_empty() {
        let table = terminal(kind_header(), kinds, wide);
        let _ = writeln!(out, "by request kind:\n{table}");
    }
    let windows: Vec<Vec<String>> = results.targets.iter().flat_map(window_rows).collect();
    if !windows.is_empty() {
        let table = terminal(window_header(), windows, wide);
        let _ = writeln!(out, "window by window:\n{table}");
    }
    for t in &results.targets {
        write_details(&mut out, t, "");
    }
    if let Some((header, rows)) = comparison(results) {
        let table = terminal(header, rows, wide);
        let _ = writeln!(out, "strategy comparison:\n{table}");
    }
    for m in results.thresholds_missed() {
        let _ = writeln!(out, "threshold missed: {m}");
    }
    let _ = writeln!(out, "verdict: {}", results.verdict().name());
    out
}

/// What a reader must see before any number: faults that could not be applied (the run did
/// not test what the suite asked), certificates not verified, and runs whose driver was
/// saturated (their numbers describe the harness, not the target). One sentence each.
pub(crate) fn warnings(results: &Results) -> Vec<String> {
    let mut out = Vec::new();
    for t in results.targets.iter().filter(|t| t.tls_unverified) {
        out.push(format!(
            "{}: its TLS certificate was not verified (insecure-skip-verify): the run does not \
             show that clients would trust this deployment",
            t.name
        ));
    }
    for t in &results.targets {
        for f in t.faults.iter().filter(|f| f.failed) {
            let accepted = if f.may_fail {
                " (may-fail: accepted)"
            } else {
                ": the verdict is unknown"
            };
            out.push(format!(
                "{}: {} could not be applied: {}{accepted}",
                t.name,
                f.label(),
                f.detail.as_deref().unwrap_or("no detail")
            ));
        }
    }
    for (t, d) in results.behind() {
        let reasons = d.reasons.join("; ");
        out.push(if d.saturated {
            format!(
                "{}: the load driver was saturated ({reasons}): its latency and throughput \
                 describe the harness, not the target; thresholds judged on it are unsure",
                t.name
            )
        } else if d.machine_busy {
            format!(
                "{}: the machine was busy ({reasons}): latency includes the driver's wait for \
                 a core; thresholds judged on it are unsure (a quieter machine, not a faster \
                 driver, is the remedy)",
                t.name
            )
        } else {
            format!(
                "{}: the checks fell behind the load ({reasons}); thresholds judged on it are \
                 unsure (a lighter load per harness, or more shards, is the remedy)",
                t.name
            )
        });
    }
    out
}

/// A Markdown summary fit for a pull-request comment or a CI job summary.
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## sessionbench: {} — {}\n",
        results.suite,
        results.verdict().name()
    );
    let _ = writeln!(out, "Suite `{}`, seed {}.\n", results.source, results.seed);
    md_table(
        &mut out,
        summary_header(),
        results.targets.iter().map(summary_row).collect(),
    );
    let warnings = warnings(results);
    if !warnings.is_empty() {
        let _ = writeln!(out);
        for w in warnings {
            let _ = writeln!(out, "> **Warning:** {w}");
        }
    }
    // Details fold away, so the page fits a pull-request comment and opens on the verdicts.
    let _ = writeln!(
        out,
        "\n<details><summary>Phases: before, during and after the faults</summary>\n"
    );
    md_table(
        &mut out,
        phase_header(),
        results.targets.iter().flat_map(phase_rows).collect(),
    );
    let _ = writeln!(out, "\n</details>");
    let kinds = all_kind_rows(results);
    if !kinds.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>By request kind: login, read, write, counter, logout</summary>\n"
        );
        md_table(&mut out, kind_header(), kinds);
        let _ = writeln!(out, "\n</details>");
    }
    let windows: Vec<Vec<String>> = results.targets.iter().flat_map(window_rows).collect();
    if !windows.is_empty() {
        let _ = writeln!(
            out,
            "\n### Window by window\n\nThroughput, p99 and what the processes held (peaks \
             in each window, from samples every few seconds): growth here is a leak or \
             sessions never expired.\n"
        );
        md_table(&mut out, window_header(), windows);
    }
    let detailed: Vec<&TargetResult> = results
        .targets
        .iter()
        .filter(|t| {
            !t.reasons.is_empty()
                || !t.violations.is_empty()
                || !t.faults.is_empty()
                || t.replication.is_some()
                || t.store_traffic.is_some()
                || t.sessions_undecodable > 0
                || !t.unchecked.is_empty()
                || t.driver.is_some()
                || t.resources.is_some()
        })
        .collect();
    let missed = results.thresholds_missed();
    if !missed.is_empty() {
        let _ = writeln!(out, "\n**Thresholds missed:**\n");
        for m in &missed {
            let _ = writeln!(out, "- {m}");
        }
    }
    if !detailed.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Findings: faults, recovery, traffic, timing, violations</summary>\n"
        );
        for t in detailed {
            write_details(&mut out, t, "- ");
        }
        let _ = writeln!(out, "\n</details>");
    }
    if let Some((header, rows)) = agreement(results) {
        let _ = writeln!(
            out,
            "\n### Real against model\n\nEach target beside the target its suite names as its \
             `model`, in the same scenario. They disagree when their losses are more than 5 \
             points apart, or when stale reads, monotonic violations or resurrections show on \
             one side only.\n"
        );
        md_table(&mut out, header, rows);
    }
    if let Some((header, rows)) = comparison(results) {
        let _ = writeln!(
            out,
            "\n### Strategy comparison\n\nEach target in each scenario, measured in this run. \
             Kept: of the sessions in use when the scenario's first fault struck, those never \
             lost afterwards (kept/at risk).\n"
        );
        md_table(&mut out, header, rows);
    }
    out
}

pub(crate) fn md_table(out: &mut String, header: Vec<String>, rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
}

fn window_header() -> Vec<String> {
    [
        "target",
        "window s",
        "ops",
        "ok",
        "ops/s",
        "p99 ms",
        "sessions held",
        "Redis used MB",
        "peak memory MB",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn window_rows(t: &TargetResult) -> Vec<Vec<String>> {
    t.windows
        .iter()
        .map(|w| {
            let r = &w.resources;
            let redis: f64 = r.peak_redis_used_mb.values().sum();
            vec![
                t.name.clone(),
                format!("{:.0}-{:.0}", w.start_s, w.end_s),
                w.ops.total.to_string(),
                w.ops.ok.to_string(),
                format!("{:.0}", w.throughput_ops_per_s),
                w.p99_ms.map_or("-".into(), ms),
                r.peak_sessions_held.map_or("-".into(), |n| n.to_string()),
                if r.peak_redis_used_mb.is_empty() {
                    "-".into()
                } else {
                    format!("{redis:.1}")
                },
                memory(r),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::details::recovery;
    use sessionbench_model::results::{Recovery, Resources};

    #[test]
    fn recovery_lines_read_right_when_nothing_was_hit_or_nothing_went_on() {
        let none = Recovery {
            errors: 0,
            error_burst_ms: 0.0,
            sessions_affected: 0,
            sessions_recovered: 0,
            recovered_within_ms: None,
            stale_reads_until_ms: None,
        };
        assert_eq!(recovery(&none), "recovery: no errors");
        let ended = Recovery {
            errors: 3,
            error_burst_ms: 13.0,
            ..none
        };
        assert_eq!(
            recovery(&ended),
            "recovery: 3 errors over 13 ms; each ended its session (a loss or a failed login), so none had to recover"
        );
        let recovered = Recovery {
            sessions_affected: 4,
            sessions_recovered: 4,
            recovered_within_ms: Some(50.0),
            ..ended
        };
        assert_eq!(
            recovery(&recovered),
            "recovery: 3 errors over 13 ms; 4 of 4 sessions hit served again, the last 50 ms after the fault"
        );
    }

    /// Peaks of `rss` (process, MB), 20 sessions held, one Redis at 3 MB.
    fn held(rss: &[(&str, f64)], samples: u64) -> Resources {
        Resources {
            peak_rss_mb: rss.iter().map(|(n, mb)| (n.to_string(), *mb)).collect(),
            peak_redis_used_mb: [("redis".to_string(), 3.0)].into(),
            peak_sessions_held: Some(20),
            harness_peak_mb: None,
            samples,
        }
    }
    use sessionbench_model::results::{
        ExpectationResult, FaultWindow, KindResult, Latency, Ops, Phase, Sessions, Verdict,
        Violation,
    };

    fn results() -> Results {
        let latency = Latency {
            p50: 1.5,
            p90: 2.25,
            p99: 4.0,
            p999: 9.5,
            max: 120.0,
        };
        let phase = |name: &str, start: f64, end: f64, lost: u64| Phase {
            name: name.into(),
            start_ms: start,
            end_ms: end,
            ops: Ops {
                total: 100,
                ok: 97,
                fail: 2,
                indeterminate: 1,
            },
            throughput_ops_per_s: 250.0,
            latency_ms: Some(latency),
            sessions_lost: lost,
            stale_reads: 0,
            lost_updates: 0,
        };
        let sticky = TargetResult {
            name: "sticky".into(),
            run_of: None,
            processes: 4,
            continuity: None,
            strategy: "sticky".into(),
            model: None,
            parallel: 1,
            lb_policy: Some("cookie-route".into()),
            balancer: None,
            codec: None,
            verdict: Verdict::Fail,
            checks_verdict: None,
            checks: vec![],
            reasons: vec!["expected sessions-lost none, measured 1".into()],
            thresholds: vec![ExpectationResult {
                unsure: true,
                ..ExpectationResult::new("p99-latency", "<= 3 ms".into(), "4.0 ms".into(), false)
            }],
            expectations: vec![ExpectationResult::new(
                "sessions-lost",
                "none".into(),
                "1".into(),
                false,
            )],
            sessions: Sessions {
                started: 40,
                lost: 1,
                ..Sessions::default()
            },
            ops: Ops {
                total: 200,
                ok: 194,
                fail: 4,
                indeterminate: 2,
            },
            throughput_ops_per_s: 250.0,
            latency_ms: Some(latency),
            by_kind: vec![
                KindResult {
                    kind: "login".into(),
                    ops: Ops {
                        total: 40,
                        ok: 40,
                        fail: 0,
                        indeterminate: 0,
                    },
                    throughput_ops_per_s: 2.5,
                    latency_ms: Some(Latency {
                        p50: 180.0,
                        p90: 240.0,
                        p99: 310.0,
                        p999: 310.0,
                        max: 312.0,
                    }),
                },
                KindResult {
                    kind: "read".into(),
                    ops: Ops {
                        total: 160,
                        ok: 154,
                        fail: 4,
                        indeterminate: 2,
                    },
                    throughput_ops_per_s: 247.5,
                    latency_ms: Some(latency),
                },
            ],
            timeline: vec![],
            phases: vec![
                phase("before", 1000.0, 5000.0, 0),
                phase("during", 5000.0, 15000.0, 1),
            ],
            faults: vec![FaultWindow {
                kind: "kill".into(),
                node: "node2".into(),
                start_ms: 5000.0,
                end_ms: Some(15000.0),
                detail: None,
                sessions_lost_after: 1,
                lost_per_s_before: None,
                sessions_lost_beyond: None,
                updates_lost_after: 0,
                recovery: Some(Recovery {
                    errors: 12,
                    error_burst_ms: 1480.0,
                    sessions_affected: 5,
                    sessions_recovered: 4,
                    recovered_within_ms: Some(2210.0),
                    stale_reads_until_ms: None,
                }),
                failed: false,
                may_fail: false,
            }],
            store_traffic: None,
            sessions_undecodable: 0,
            unchecked: Vec::new(),
            replication: Some(sessionbench_model::results::Replication {
                bytes_sent: 120_000,
                messages_sent: 400,
                writes: 200,
                bytes_per_write: 600.0,
            }),
            violations_not_listed: 0,
            tls_unverified: false,
            violations: vec![Violation {
                cause: None,
                kind: "session-lost".into(),
                session: "v3.1".into(),
                at_ms: 5020.0,
                nodes: vec!["node2".into(), "node3".into()],
                detail: "Read answered 401 no-session on node3; last served by node2".into(),
                story: Vec::new(),
                session_cookie: None,
            }],
            interrupted: false,
            driver: Some(crate::fixtures::driver(true)),
            server_latency_ms: Some(sessionbench_model::results::ServerLatency {
                requests: 190,
                p50: 0.021,
                p99: 0.35,
                max: 2.5,
                lock_waits: Some(sessionbench_model::results::LockWaits {
                    requests: 12,
                    total_ms: 30.0,
                    mean_ms: 2.5,
                }),
            }),
            resources: Some(held(&[("sessionbench", 41.5), ("node1", 12.0)], 9)),
            windows: [(0.0, 4.0, 2.1), (4.0, 8.0, 3.4)]
                .into_iter()
                .map(
                    |(start_s, end_s, p99)| sessionbench_model::results::Window {
                        start_s,
                        end_s,
                        ops: Ops {
                            total: 400,
                            ok: 396,
                            fail: 4,
                            indeterminate: 0,
                        },
                        throughput_ops_per_s: 99.0,
                        p99_ms: Some(p99),
                        resources: held(&[("sessionbench", 40.0 + end_s), ("node1", 12.0)], 4),
                    },
                )
                .collect(),
        };
        let direct = TargetResult {
            name: "direct".into(),
            run_of: None,
            processes: 1,
            continuity: None,
            strategy: "direct".into(),
            model: None,
            parallel: 1,
            lb_policy: None,
            balancer: None,
            codec: None,
            verdict: Verdict::Pass,
            checks_verdict: None,
            checks: vec![],
            reasons: vec![],
            expectations: vec![],
            thresholds: vec![],
            sessions: Sessions {
                started: 10,
                ..Sessions::default()
            },
            ops: Ops {
                total: 50,
                ok: 50,
                fail: 0,
                indeterminate: 0,
            },
            throughput_ops_per_s: 100.0,
            latency_ms: None,
            by_kind: vec![],
            phases: vec![],
            timeline: vec![],
            faults: vec![],
            replication: None,
            store_traffic: None,
            sessions_undecodable: 0,
            unchecked: Vec::new(),
            violations: vec![],
            violations_not_listed: 0,
            tls_unverified: false,
            interrupted: false,
            driver: None,
            server_latency_ms: None,
            resources: None,
            windows: Vec::new(),
        };
        Results {
            format_version: sessionbench_model::results::FORMAT_VERSION,
            suite: "fixture".into(),
            source: "suites/fixture.toml".into(),
            seed: 7,
            targets: vec![direct, sticky],
            reference: None,
            warm_up_ms: 1000.0,
        }
    }

    #[test]
    fn terminal_tables() {
        insta::assert_snapshot!(table(&results(), false));
    }

    #[test]
    fn wide_terminal_tables() {
        insta::assert_snapshot!(table(&results(), true));
    }

    /// A long strategy, balancer and codec, and large numbers: the default tables still fit
    /// 120 columns, where every column would not.
    #[test]
    fn default_tables_fit_a_terminal_of_120_columns() {
        let mut r = results();
        for t in &mut r.targets {
            t.name = format!("{}-with-a-longer-name", t.name);
            t.strategy = "delta".into();
            t.lb_policy = Some("cookie-route".into());
            t.balancer = Some("haproxy".into());
            t.codec = Some("protobuf+zstd".into());
            t.ops.total = 12_345_678;
            t.throughput_ops_per_s = 123_456.0;
        }
        let widest = |text: &str| text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        let tables = |text: &str| -> String {
            text.lines()
                .filter(|l| l.starts_with(['│', '╭', '├', '╰']))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let narrow = tables(&table(&r, false));
        assert!(widest(&narrow) <= TERMINAL_COLUMNS, "{narrow}");
        let wide = tables(&table(&r, true));
        assert!(widest(&wide) > TERMINAL_COLUMNS, "{wide}");
    }

    #[test]
    fn markdown_summary() {
        insta::assert_snapshot!(markdown(&results()));
    }

    #[test]
    fn the_worst_verdict_wins() {
        let mut r = results();
        assert_eq!(r.verdict(), Verdict::Fail);
        r.targets[1].verdict = Verdict::Unknown;
        assert_eq!(r.verdict(), Verdict::Unknown);
        r.targets[1].verdict = Verdict::Pass;
        assert_eq!(r.verdict(), Verdict::Pass);
    }
}
