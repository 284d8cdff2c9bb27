//! `junit.xml`: one test suite per run and one test case per check (each continuity
//! expectation, each threshold, and whether the run could be judged at all), so CI
//! dashboards list what failed and which sessions it failed on.

use std::fmt::Write;

use crate::markup::escape;
use sessionbench_model::results::{
    ExpectationResult, Judged, Results, TargetResult, Verdict, Violation,
};

/// How many offending sessions a failure lists; the rest are counted.
const SESSIONS_LISTED: usize = 20;

/// The JUnit XML document for `results`.
pub fn junit(results: &Results) -> String {
    let cases: Vec<(&TargetResult, Vec<Case>)> =
        results.targets.iter().map(|t| (t, cases(t))).collect();
    let tests: usize = cases.iter().map(|(_, c)| c.len()).sum();
    let failures: usize = cases.iter().map(|(_, c)| failed(c)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sessionbench: {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">",
        escape(&results.suite)
    );
    for (t, cases) in &cases {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            escape(&t.name),
            cases.len(),
            failed(cases),
            cases.iter().filter(|c| c.skipped.is_some()).count()
        );
        let _ = writeln!(out, "    <properties>");
        for (name, value) in [
            ("strategy", Some(t.strategy.as_str())),
            ("lb-policy", t.lb_policy.as_deref()),
            ("codec", t.codec.as_deref()),
            ("verdict", Some(t.verdict.name())),
            (
                "tls",
                t.tls_unverified
                    .then_some("certificate not verified (insecure-skip-verify)"),
            ),
        ] {
            if let Some(value) = value {
                let _ = writeln!(
                    out,
                    "      <property name=\"{name}\" value=\"{}\"/>",
                    escape(value)
                );
            }
        }
        let _ = writeln!(out, "    </properties>");
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"sessionbench.{}.{}\" name=\"{}\"",
                escape(&results.suite),
                escape(&t.name),
                escape(&case.name)
            );
            match (&case.failure, &case.skipped) {
                (None, Some(reason)) => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(reason)
                    );
                }
                (None, None) => {
                    let _ = writeln!(out, "/>");
                }
                (Some((message, body)), _) => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        escape(message),
                        case.kind,
                        escape(body)
                    );
                }
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

struct Case {
    name: String,
    /// `expectation`, `threshold`, `fault`, `check` or `judged`.
    kind: &'static str,
    /// The message, and the text under it (offending sessions).
    failure: Option<(String, String)>,
    /// Why it did not run (a check no answer fed).
    skipped: Option<String>,
}

fn failed(cases: &[Case]) -> usize {
    cases.iter().filter(|c| c.failure.is_some()).count()
}

fn cases(t: &TargetResult) -> Vec<Case> {
    let check = |kind: &'static str, e: &ExpectationResult| {
        Case {
        name: format!("{} {} {}", kind, e.name, e.expected),
        kind,
        skipped: None,
        failure: (!e.passed).then(|| {
            let unsure = if e.unsure {
                format!(
                    " (judged on {}: the numbers describe the harness or the machine, not the target)",
                    t.unsure_because()
                )
            } else {
                String::new()
            };
            (
                format!(
                    "expected {} {}, measured {}{unsure}",
                    e.name, e.expected, e.actual
                ),
                offending(t, &e.name),
            )
        }),
    }
    };
    let mut cases: Vec<Case> = t
        .expectations
        .iter()
        .map(|e| check("expectation", e))
        .collect();
    cases.extend(t.thresholds.iter().map(|e| check("threshold", e)));
    // A fault that could not be applied fails its case unless the suite accepted that.
    cases.extend(t.faults.iter().map(|f| Case {
        name: format!("fault {} applied", f.label()),
        kind: "fault",
        skipped: None,
        failure: (f.failed && !f.may_fail).then(|| {
            (
                format!("{} could not be applied", f.label()),
                f.detail.clone().unwrap_or_default(),
            )
        }),
    }));
    // Each check that did not run for every session that needed it: skipped where it ran
    // for none, passed with its share where it ran for some.
    cases.extend(
        t.checks
            .iter()
            .filter(|c| c.judged != Judged::Judged)
            .map(|c| {
                let reason = c.reason.clone().unwrap_or_default();
                Case {
                    name: match c.judged {
                        Judged::Partly => format!(
                            "check {} judged for {} of {} sessions",
                            c.label(),
                            c.fed,
                            c.sessions
                        ),
                        _ => format!("check {} judged", c.label()),
                    },
                    kind: "check",
                    failure: None,
                    skipped: (c.judged == Judged::NotJudged).then_some(reason),
                }
            }),
    );
    // Interrupted, or nothing established: not a pass, whatever the expectations say.
    let unjudged = t.verdict == Verdict::Unknown;
    cases.push(Case {
        name: "judged: the load ran to its end and sessions were established".into(),
        kind: "judged",
        skipped: None,
        failure: unjudged.then(|| (t.reasons.join("; "), String::new())),
    });
    cases
}

/// The violations behind a failed check, one per line.
fn offending(t: &TargetResult, check: &str) -> String {
    // An early expiry is a loss too.
    let kinds: &[&str] = match check {
        "sessions-lost" | "sessions-lost-percent" => &["session-lost", "expired-early"],
        "stale-reads" => &["stale-read"],
        "monotonic-violations" => &["monotonic-read"],
        "resurrections" => &["resurrection"],
        "lost-updates" | "max-lost-updates" => &["lost-update"],
        "monotonic-writes" => &["monotonic-write"],
        _ => return String::new(),
    };
    let hits: Vec<&Violation> = t
        .violations
        .iter()
        .filter(|v| kinds.contains(&v.kind.as_str()))
        .collect();
    let mut text = String::new();
    for v in hits.iter().take(SESSIONS_LISTED) {
        let _ = writeln!(
            text,
            "{} at {:.3}s: {}",
            v.who(),
            v.at_ms / 1000.0,
            v.detail
        );
    }
    if hits.len() > SESSIONS_LISTED {
        let _ = writeln!(
            text,
            "... and {} more listed in results.json",
            hits.len() - SESSIONS_LISTED
        );
    }
    if t.violations_not_listed > 0 {
        let _ = writeln!(
            text,
            "... and {} more violations, counted but not listed",
            t.violations_not_listed
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{results, run};
    use sessionbench_model::results::{ExpectationResult, Violation};

    #[test]
    fn a_suite_per_run_a_case_per_check_and_the_offending_sessions() {
        let mut failing = run(
            "sticky",
            "failure",
            Some("kill"),
            (27, 40, 13),
            (900.0, 4.0),
        );
        failing.verdict = Verdict::Fail;
        failing.faults[0].failed = true;
        failing.faults[0].detail = Some("inject failed: `kill` exited with exit status: 1".into());
        failing.expectations = vec![ExpectationResult::new(
            "sessions-lost",
            "none".into(),
            "13".into(),
            false,
        )];
        failing.thresholds = vec![ExpectationResult::new(
            "p99-latency",
            "<= 3 ms".into(),
            "4.0 ms".into(),
            false,
        )];
        failing.violations = vec![Violation {
            cause: None,
            kind: "session-lost".into(),
            session: "v3.1".into(),
            at_ms: 2_020.0,
            nodes: vec!["node2".into(), "node3".into()],
            detail: "Read answered 401 <no-session> on node3".into(),
            story: Vec::new(),
            session_cookie: Some("SHOPSESSION=9f2c".into()),
        }];
        let mut cut = run("redis", "capacity", None, (0, 0, 0), (800.0, 5.0));
        cut.verdict = Verdict::Unknown;
        cut.reasons = vec!["the load was interrupted: the history is incomplete".into()];
        insta::assert_snapshot!(junit(&results(vec![failing, cut])));
    }
}
