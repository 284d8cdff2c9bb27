//! Performance thresholds against what a run measured after its warm-up.

use sessionbench_model::results::{ExpectationResult, KindResult, Latency, Ops};

use sessionbench_model::plan::Thresholds;

/// What the thresholds are judged on.
pub struct Measured<'a> {
    pub ops: Ops,
    pub throughput: f64,
    pub latency: Option<Latency>,
    pub by_kind: &'a [KindResult],
    pub sessions_lost: u64,
}

/// `p99-latency` (or `p99-latency.KIND`) against a p99, or against no successful operation.
fn p99(name: String, bound_ms: f64, latency: Option<Latency>) -> ExpectationResult {
    let (actual, passed) = match latency {
        Some(l) => (format!("{:.1} ms", l.p99), l.p99 <= bound_ms),
        None => ("no successful operation".into(), false),
    };
    ExpectationResult::new(&name, format!("<= {bound_ms} ms"), actual, passed)
}

/// One result per threshold set, in a fixed order.
pub fn check(t: &Thresholds, m: &Measured) -> Vec<ExpectationResult> {
    let mut out = Vec::new();
    if let Some(bound) = t.p99_latency {
        out.push(p99(
            "p99-latency".into(),
            bound.as_secs_f64() * 1000.0,
            m.latency,
        ));
    }
    for (kind, bound_ms) in &t.p99_latency_ms_by_kind {
        let latency = m.by_kind.iter().find(|k| &k.kind == kind);
        let name = format!("p99-latency.{kind}");
        out.push(p99(
            name,
            *bound_ms as f64,
            latency.and_then(|k| k.latency_ms),
        ));
    }
    let mut push = |name: &str, expected: String, actual: String, passed: bool| {
        out.push(ExpectationResult::new(name, expected, actual, passed));
    };
    if let Some(max) = t.max_error_rate {
        let errors = m.ops.fail + m.ops.indeterminate;
        let rate = if m.ops.total == 0 {
            0.0
        } else {
            errors as f64 * 100.0 / m.ops.total as f64
        };
        push(
            "error-rate",
            format!("<= {max}%"),
            format!("{rate:.2}%"),
            rate <= max,
        );
    }
    if let Some(min) = t.min_throughput {
        push(
            "throughput",
            format!(">= {min} ops/s"),
            format!("{:.0} ops/s", m.throughput),
            m.throughput >= min,
        );
    }
    if let Some(max) = t.max_sessions_lost {
        push(
            "sessions-lost",
            format!("<= {max}"),
            m.sessions_lost.to_string(),
            m.sessions_lost <= max,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn measured(latency: Option<f64>) -> Measured<'static> {
        Measured {
            ops: Ops {
                total: 200,
                ok: 190,
                fail: 6,
                indeterminate: 4,
            },
            throughput: 95.0,
            latency: latency.map(|p99| Latency {
                p50: 1.0,
                p90: 2.0,
                p99,
                p999: p99,
                max: p99,
            }),
            by_kind: &[],
            sessions_lost: 3,
        }
    }

    fn passed(results: &[ExpectationResult]) -> Vec<(&str, bool)> {
        results
            .iter()
            .map(|r| (r.name.as_str(), r.passed))
            .collect()
    }

    #[test]
    fn each_bound_set_is_judged_and_only_those() {
        assert!(check(&Thresholds::default(), &measured(Some(5.0))).is_empty());
        let t = Thresholds {
            p99_latency: Some(Duration::from_millis(5)),
            // 10 of 200 operations failed or went unanswered: 5%.
            max_error_rate: Some(5.0),
            min_throughput: Some(100.0),
            max_sessions_lost: Some(2),
            ..Thresholds::default()
        };
        let r = check(&t, &measured(Some(5.0)));
        assert_eq!(
            passed(&r),
            [
                ("p99-latency", true),
                ("error-rate", true),
                ("throughput", false),
                ("sessions-lost", false)
            ]
        );
        assert_eq!(r[1].actual, "5.00%");
        // Without a successful operation there is no p99 to meet the bound.
        let none = check(&t, &measured(None));
        assert_eq!(none[0].actual, "no successful operation");
        assert!(!none[0].passed);
        let slow = check(&t, &measured(Some(5.1)));
        assert!(!slow[0].passed);
    }

    #[test]
    fn a_kind_s_bound_is_judged_on_that_kind_alone() {
        let latency = |p99| Latency {
            p50: 1.0,
            p90: 1.0,
            p99,
            p999: p99,
            max: p99,
        };
        let kind = |name: &str, p99: Option<f64>| KindResult {
            kind: name.into(),
            ops: Ops::default(),
            throughput_ops_per_s: 0.0,
            latency_ms: p99.map(latency),
        };
        let by_kind = [
            kind("login", Some(280.0)),
            kind("read", Some(9.0)),
            kind("write", None),
        ];
        let t = Thresholds {
            p99_latency_ms_by_kind: [("login", 300), ("read", 5), ("write", 5), ("logout", 5)]
                .map(|(k, ms)| (k.to_string(), ms))
                .into(),
            ..Thresholds::default()
        };
        let m = Measured {
            by_kind: &by_kind,
            ..measured(Some(1.0))
        };
        let r = check(&t, &m);
        // In the map's order: login, logout, read, write.
        assert_eq!(
            passed(&r),
            [
                ("p99-latency.login", true),
                ("p99-latency.logout", false),
                ("p99-latency.read", false),
                ("p99-latency.write", false)
            ]
        );
        assert_eq!(r[2].actual, "9.0 ms");
        assert_eq!(r[3].actual, "no successful operation");
    }
}
