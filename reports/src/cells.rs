//! The cells every table of operations shares: counts, throughput and latency, in order.

use crate::units::ms;
use sessionbench_model::results::{Latency, Ops};

/// The columns of operations, throughput and latency every table shares, in order.
const MEASURES: [&str; 10] = [
    "ops", "ok", "fail", "indet.", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
];

pub(crate) fn header(before: &[&str], after: &[&str]) -> Vec<String> {
    before
        .iter()
        .chain(&MEASURES)
        .chain(after)
        .map(|s| s.to_string())
        .collect()
}

pub(crate) fn latency_cells(l: Option<&Latency>) -> [String; 5] {
    match l {
        Some(l) => [ms(l.p50), ms(l.p90), ms(l.p99), ms(l.p999), ms(l.max)],
        None => std::array::from_fn(|_| "-".to_string()),
    }
}

pub(crate) fn ops_cells(o: &Ops) -> [String; 4] {
    [
        o.total.to_string(),
        o.ok.to_string(),
        o.fail.to_string(),
        o.indeterminate.to_string(),
    ]
}
