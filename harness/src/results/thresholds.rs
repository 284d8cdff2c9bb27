//! Performance thresholds against what a run measured after its warm-up.

use sessionbench_model::results::{ExpectationResult, Latency, Ops};

use sessionbench_model::plan::Thresholds;

/// What the thresholds are judged on.
pub struct Measured {
    pub ops: Ops,
    pub throughput: f64,
    pub latency: Option<Latency>,
    pub sessions_lost: u64,
}

/// One result per threshold set, in a fixed order.
pub fn check(t: &Thresholds, m: &Measured) -> Vec<ExpectationResult> {
    let mut out = Vec::new();
    let mut push = |name: &str, expected: String, actual: String, passed: bool| {
        out.push(ExpectationResult::new(name, expected, actual, passed));
    };
    if let Some(bound) = t.p99_latency {
        let bound_ms = bound.as_secs_f64() * 1000.0;
        match m.latency {
            Some(l) => push(
                "p99-latency",
                format!("<= {bound_ms} ms"),
                format!("{:.1} ms", l.p99),
                l.p99 <= bound_ms,
            ),
            None => push(
                "p99-latency",
                format!("<= {bound_ms} ms"),
                "no successful operation".into(),
                false,
            ),
        }
    }
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

    fn measured(latency: Option<f64>) -> Measured {
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
}
