//! Performance thresholds against what a run measured after its warm-up.

use sessionbench_reports::{ExpectationResult, Latency, Ops};

use crate::plan::Thresholds;

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
