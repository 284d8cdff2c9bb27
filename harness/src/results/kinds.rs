//! The operations of each kind of request after the warm-up, tallied apart: what the
//! per-kind table and a `p99-latency.login` threshold read.

use sessionbench_model::results::KindResult;

use super::segments::Tally;
use crate::history::{Op, OpKind};

#[derive(Debug)]
pub(super) struct ByKind {
    warm_up_us: u64,
    tallies: [Tally; OpKind::WORKLOAD.len()],
}

impl ByKind {
    pub fn new(warm_up_us: u64) -> Self {
        Self {
            warm_up_us,
            tallies: Default::default(),
        }
    }

    /// Counts `op` if it started after the warm-up and is a kind the workload makes.
    pub fn add(&mut self, op: &Op) {
        let i = OpKind::WORKLOAD.iter().position(|k| *k == op.kind);
        if let Some(i) = i.filter(|_| op.start_us >= self.warm_up_us) {
            self.tallies[i].add(op);
        }
    }

    /// The kinds that had operations, in the workload's order; throughput over `window_us`
    /// (the load after the warm-up).
    pub fn finish(&self, window_us: u64) -> Vec<KindResult> {
        OpKind::WORKLOAD
            .iter()
            .zip(&self.tallies)
            .filter(|(_, t)| t.ops.total > 0)
            .map(|(k, t)| KindResult {
                kind: k.name().to_string(),
                ops: t.ops,
                throughput_ops_per_s: t.throughput(window_us),
                latency_ms: t.latency(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Outcome, test_read};

    #[test]
    fn each_kind_is_tallied_apart_after_the_warm_up() {
        let mut by_kind = ByKind::new(1_000);
        let op = |kind, start: u64, took: u64, outcome| {
            let mut o = test_read("s", (start, start, start + took), outcome);
            o.kind = kind;
            o
        };
        by_kind.add(&op(OpKind::Login, 0, 900_000, Outcome::Ok)); // in the warm-up
        by_kind.add(&op(OpKind::Login, 2_000, 300_000, Outcome::Ok));
        by_kind.add(&op(OpKind::Read, 2_000, 2_000, Outcome::Ok));
        by_kind.add(&op(OpKind::Read, 3_000, 2_000, Outcome::Fail));
        by_kind.add(&op(OpKind::Probe, 3_000, 2_000, Outcome::Fail)); // a check
        let found = by_kind.finish(1_000_000);
        let kinds: Vec<&str> = found.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(kinds, ["login", "read"]);
        let login = found[0].latency_ms.expect("a login latency");
        assert!((login.p99 - 300.0).abs() < 1.0, "{login:?}");
        let read = &found[1];
        assert_eq!((read.ops.total, read.ops.ok), (2, 1));
        assert!((read.throughput_ops_per_s - 1.0).abs() < f64::EPSILON);
        assert!((read.latency_ms.expect("read").p99 - 2.0).abs() < 0.1);
        assert!((read.error_rate() - 50.0).abs() < f64::EPSILON);
    }
}
