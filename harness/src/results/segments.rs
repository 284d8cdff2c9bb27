//! The load cut at the warm-up's end and at every fault's start and end: each stretch tallies
//! the operations that started in it, so the phases (before, during, after the faults) are
//! sums of whole stretches, whatever faults the rest of the run brings.

use hdrhistogram::Histogram;
use sessionbench_model::results::{Latency, Ops};

use crate::history::{Op, Outcome};

/// Operations counted and the latency of the successful ones, from their intended start.
#[derive(Debug, Default, Clone)]
pub(super) struct Tally {
    pub ops: Ops,
    pub latency: Option<Histogram<u64>>,
}

impl Tally {
    pub fn add(&mut self, op: &Op) {
        self.count(op);
        if op.outcome == Outcome::Ok {
            self.latency
                .get_or_insert_with(histogram)
                .saturating_record(op.end_us.saturating_sub(op.intended_us).max(1));
        }
    }

    /// Counts `op` without its latency.
    pub fn count(&mut self, op: &Op) {
        self.ops.total += 1;
        match op.outcome {
            Outcome::Ok => self.ops.ok += 1,
            Outcome::Fail => self.ops.fail += 1,
            Outcome::Indeterminate => self.ops.indeterminate += 1,
        }
    }

    pub fn merge(&mut self, other: &Self) {
        self.ops.total += other.ops.total;
        self.ops.ok += other.ops.ok;
        self.ops.fail += other.ops.fail;
        self.ops.indeterminate += other.ops.indeterminate;
        if let Some(h) = &other.latency {
            let mine = self.latency.get_or_insert_with(histogram);
            mine.add(h).expect("histograms of the same bounds merge");
        }
    }

    /// Successful operations per second over `window_us`.
    pub fn throughput(&self, window_us: u64) -> f64 {
        if window_us == 0 {
            return 0.0;
        }
        self.ops.ok as f64 / (window_us as f64 / 1e6)
    }

    pub fn latency(&self) -> Option<Latency> {
        let h = self.latency.as_ref().filter(|h| !h.is_empty())?;
        let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
        Some(Latency {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max() as f64 / 1000.0,
        })
    }
}

pub(super) fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds are valid")
}

/// Stretch `i` runs from `bounds[i]` to `bounds[i + 1]` (the last to the end).
#[derive(Debug)]
pub(super) struct Segments {
    bounds: Vec<u64>,
    parts: Vec<Tally>,
}

impl Segments {
    pub fn new(warm_up_us: u64) -> Self {
        let mut s = Self {
            bounds: vec![0],
            parts: vec![Tally::default()],
        };
        s.cut(warm_up_us);
        s
    }

    /// Starts a stretch at `at`. Every operation counted so far started before it (operations
    /// are counted only once the history has gone past them), so the new stretch is empty.
    pub fn cut(&mut self, at: u64) {
        let i = self.bounds.partition_point(|&b| b <= at);
        if self.bounds[i - 1] == at {
            return;
        }
        self.bounds.insert(i, at);
        self.parts.insert(i, Tally::default());
    }

    pub fn add(&mut self, op: &Op) {
        let i = self.bounds.partition_point(|&b| b <= op.start_us) - 1;
        self.parts[i].add(op);
    }

    /// Everything that started in `[from, to)`, whose ends must be cuts.
    pub fn sum(&self, from: u64, to: u64) -> Tally {
        let mut total = Tally::default();
        for (b, part) in self.bounds.iter().zip(&self.parts) {
            if (from..to).contains(b) {
                total.merge(part);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(start_ms: u64, outcome: Outcome) -> Op {
        let t = start_ms * 1000;
        crate::history::test_read("s", (t, t, t + 2000), outcome)
    }

    #[test]
    fn stretches_sum_to_what_started_in_a_window() {
        let mut s = Segments::new(1_000_000);
        s.add(&op(500, Outcome::Ok)); // warm-up
        s.add(&op(1_500, Outcome::Ok));
        s.cut(3_000_000);
        s.add(&op(3_500, Outcome::Fail));
        s.cut(2_000_000); // a cut that arrives late lands between the others
        s.add(&op(4_000, Outcome::Indeterminate));
        let all = s.sum(0, u64::MAX);
        assert_eq!((all.ops.total, all.ops.ok), (4, 2));
        let measured = s.sum(1_000_000, u64::MAX);
        assert_eq!(measured.ops.total, 3);
        assert_eq!(measured.latency().map(|l| l.p50), Some(2.0));
        let after = s.sum(3_000_000, u64::MAX);
        assert_eq!((after.ops.fail, after.ops.indeterminate), (1, 1));
        assert_eq!(s.sum(2_000_000, 3_000_000).ops.total, 0);
        assert!((s.sum(1_000_000, 2_000_000).throughput(1_000_000) - 1.0).abs() < 1e-9);
    }
}
