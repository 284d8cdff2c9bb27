//! What a target's processes held (its `resources` samples) over the run, and, with a report
//! window, the run window by window: operations, throughput, p99 and what was held. A window
//! stays open while an operation that started in it may still be answered, then keeps only
//! its numbers.

use std::collections::BTreeMap;

use sessionbench_model::results::{Resources, Window};

use super::segments::Tally;
use crate::history::Op;

/// One `resources` record.
#[derive(Debug, Clone, Default)]
pub(super) struct Sample {
    pub at_us: u64,
    pub rss: BTreeMap<String, u64>,
    pub redis_used_memory: BTreeMap<String, u64>,
    pub sessions_held: BTreeMap<String, u64>,
    /// The harness's `VmHWM`, in bytes (0: not recorded).
    pub harness_peak: u64,
}

impl Sample {
    /// The sample as peaks of its own, in MB.
    fn peaks(&self) -> Resources {
        let mb = |bytes: u64| (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0;
        let in_mb =
            |m: &BTreeMap<String, u64>| m.iter().map(|(n, b)| (n.clone(), mb(*b))).collect();
        Resources {
            peak_rss_mb: in_mb(&self.rss),
            peak_redis_used_mb: in_mb(&self.redis_used_memory),
            harness_peak_mb: (self.harness_peak > 0).then(|| mb(self.harness_peak)),
            peak_sessions_held: (!self.sessions_held.is_empty())
                .then(|| self.sessions_held.values().sum()),
            samples: 1,
        }
    }
}

/// Takes the peaks of `other` into `r`.
fn merge(r: &mut Resources, other: &Resources) {
    for (name, mb) in &other.peak_rss_mb {
        let peak = r.peak_rss_mb.entry(name.clone()).or_insert(0.0);
        *peak = peak.max(*mb);
    }
    for (name, mb) in &other.peak_redis_used_mb {
        let peak = r.peak_redis_used_mb.entry(name.clone()).or_insert(0.0);
        *peak = peak.max(*mb);
    }
    if let Some(mb) = other.harness_peak_mb {
        r.harness_peak_mb = Some(r.harness_peak_mb.unwrap_or(0.0).max(mb));
    }
    if let Some(n) = other.peak_sessions_held {
        r.peak_sessions_held = Some(r.peak_sessions_held.unwrap_or(0).max(n));
    }
    r.samples += other.samples;
}

/// A closed window: its counts, and the p99 of its latencies, which are dropped.
#[derive(Debug)]
struct Closed {
    tally: Tally,
    p99_ms: Option<f64>,
}

impl Closed {
    fn of(tally: Tally) -> Self {
        let p99_ms = tally.latency().map(|l| l.p99);
        Self {
            tally: Tally {
                ops: tally.ops,
                ..Tally::default()
            },
            p99_ms,
        }
    }
}

#[derive(Debug)]
pub(super) struct Report {
    /// The whole run.
    run: Resources,
    /// Window length, if the suite asked for windows.
    width_us: Option<u64>,
    open_for_us: u64,
    open: BTreeMap<u64, Tally>,
    closed: BTreeMap<u64, Closed>,
    held: BTreeMap<u64, Resources>,
}

impl Report {
    pub fn new(width_us: Option<u64>, open_for_us: u64) -> Self {
        Self {
            run: Resources::default(),
            width_us: width_us.filter(|w| *w > 0),
            open_for_us,
            open: BTreeMap::new(),
            closed: BTreeMap::new(),
            held: BTreeMap::new(),
        }
    }

    pub fn sample(&mut self, sample: &Sample) {
        let peaks = sample.peaks();
        merge(&mut self.run, &peaks);
        if let Some(width) = self.width_us {
            merge(self.held.entry(sample.at_us / width).or_default(), &peaks);
        }
    }

    /// An operation (logout probes already left out).
    pub fn add(&mut self, op: &Op) {
        let Some(width) = self.width_us else {
            return;
        };
        let i = op.start_us / width;
        match self.closed.get_mut(&i) {
            // One that outlasted the slack: counted, its latency not in the p99.
            Some(closed) => closed.tally.count(op),
            None => self.open.entry(i).or_default().add(op),
        }
    }

    /// Closes every window no operation can still arrive for, the history being at `now_us`.
    pub fn close_before(&mut self, now_us: u64) {
        let Some(width) = self.width_us else {
            return;
        };
        while let Some(entry) = self.open.first_entry() {
            if (entry.key() + 1) * width + self.open_for_us > now_us {
                return;
            }
            let (i, tally) = entry.remove_entry();
            self.closed.insert(i, Closed::of(tally));
        }
    }

    /// The run's peaks (none without a sample), and its windows up to `end_us` (the last one
    /// cut at the end).
    pub fn finish(mut self, end_us: u64) -> (Option<Resources>, Vec<Window>) {
        let run = (self.run.samples > 0).then_some(self.run);
        let Some(width) = self.width_us else {
            return (run, Vec::new());
        };
        let mut count = end_us.div_ceil(width);
        // The load's end a moment past a window's (the last answers, the last sample): that
        // moment joins the window before it, if that one is still open.
        let last = count.saturating_sub(1);
        if count > 1 && end_us - last * width < 1_000_000 && self.open.contains_key(&(last - 1)) {
            if let Some(tail) = self.open.remove(&last) {
                self.open.entry(last - 1).or_default().merge(&tail);
            }
            if let Some(tail) = self.held.remove(&last) {
                merge(self.held.entry(last - 1).or_default(), &tail);
            }
            count = last;
        }
        for (i, tally) in std::mem::take(&mut self.open) {
            self.closed.insert(i, Closed::of(tally));
        }
        let windows = (0..count)
            .map(|i| {
                let to = if i + 1 == count {
                    end_us
                } else {
                    (i + 1) * width
                };
                let from = i * width;
                let closed = self.closed.remove(&i);
                let (tally, p99_ms) = closed.map_or_else(Default::default, |c| (c.tally, c.p99_ms));
                Window {
                    start_s: from as f64 / 1e6,
                    end_s: to as f64 / 1e6,
                    ops: tally.ops,
                    throughput_ops_per_s: tally.throughput(to - from),
                    p99_ms,
                    resources: self.held.remove(&i).unwrap_or_default(),
                }
            })
            .collect();
        (run, windows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    fn op(start_ms: u64, latency_ms: u64) -> Op {
        let (start, end) = (start_ms * 1000, (start_ms + latency_ms) * 1000);
        crate::history::test_read("s", (start, start, end), Outcome::Ok)
    }

    fn sample(at_s: u64, node1_mb: u64, held: u64) -> Sample {
        Sample {
            at_us: at_s * 1_000_000,
            rss: [("node1".to_string(), node1_mb << 20)].into(),
            redis_used_memory: BTreeMap::new(),
            sessions_held: [("node1".to_string(), held)].into(),
            harness_peak: 0,
        }
    }

    #[test]
    fn each_window_has_its_operations_and_the_peaks_of_its_samples() {
        let mut r = Report::new(Some(10_000_000), 3_000_000);
        for s in [
            sample(0, 10, 5),
            sample(5, 12, 8),
            sample(10, 11, 7),
            sample(20, 30, 9),
        ] {
            r.sample(&s);
        }
        r.add(&op(1_000, 4));
        r.add(&op(2_000, 8));
        r.close_before(13_500_000);
        assert!(r.open.is_empty(), "window 0 closes 3 s after its end");
        r.add(&op(9_000, 6_000)); // answered after its window closed: counted only
        r.add(&op(15_000, 2));
        let (run, windows) = r.finish(20_300_000);
        let run = run.expect("samples were taken");
        assert_eq!(
            (run.peak_rss_mb["node1"], run.peak_sessions_held),
            (30.0, Some(9))
        );
        // The last 0.3 s joins the window before it.
        assert_eq!(windows.len(), 2);
        assert_eq!((windows[1].start_s, windows[1].end_s), (10.0, 20.3));
        assert_eq!((windows[0].ops.total, windows[1].ops.total), (3, 1));
        assert!(windows[0].p99_ms.is_some_and(|p| (8.0..8.01).contains(&p)));
        assert_eq!(windows[0].resources.peak_rss_mb["node1"], 12.0);
        assert_eq!(windows[1].resources.peak_sessions_held, Some(9));
        assert!(Report::new(None, 0).finish(5_000_000).1.is_empty());
    }
}
