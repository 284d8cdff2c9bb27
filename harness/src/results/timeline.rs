//! A run second by second: what the plots draw and what a baseline comparison resamples.
//! Built as operations arrive: a second stays open while an operation that started in it
//! may still be answered (the request timeout, and some slack), then becomes a row and its
//! latencies are dropped, so memory holds only the last few seconds.

use std::collections::BTreeMap;

use sessionbench_model::results::Second;

use crate::history::{Op, Outcome};

/// An open second: its operations' latencies (µs, from their intended start) and send lags,
/// as 32 bits (71 minutes; a longer one counts as that): at full speed they are most of
/// what the analysis holds.
#[derive(Debug, Default)]
struct Open {
    ok: u64,
    errors: u64,
    latencies: Vec<u32>,
    lags: Vec<u32>,
}

fn us32(us: u64) -> u32 {
    u32::try_from(us).unwrap_or(u32::MAX)
}

#[derive(Debug)]
pub(super) struct Seconds {
    /// How long after a second's end an operation that started in it can still arrive.
    open_for_us: u64,
    open: BTreeMap<u64, Open>,
    closed: Vec<Second>,
}

impl Seconds {
    pub fn new(open_for_us: u64) -> Self {
        Self {
            open_for_us,
            open: BTreeMap::new(),
            closed: Vec::new(),
        }
    }

    fn slot(&mut self, start_us: u64) -> Result<&mut Open, &mut Second> {
        let t = start_us / 1_000_000;
        match usize::try_from(t).ok().and_then(|i| self.closed.get_mut(i)) {
            // An operation that outlasted the slack: counted, its latency not in the row.
            Some(row) => Err(row),
            None => Ok(self.open.entry(t).or_default()),
        }
    }

    /// An operation's outcome and latency (checks are not load: left out).
    pub fn add(&mut self, op: &Op) {
        if op.kind.is_check() {
            return;
        }
        let ok = op.outcome == Outcome::Ok;
        match self.slot(op.start_us) {
            Ok(open) if ok => {
                open.ok += 1;
                open.latencies
                    .push(us32(op.end_us.saturating_sub(op.intended_us)));
            }
            Ok(open) => open.errors += 1,
            Err(row) if ok => row.ok += 1,
            Err(row) => row.errors += 1,
        }
    }

    /// How late an operation started after it was due (every operation, probes too).
    pub fn lag(&mut self, start_us: u64, lag_us: u64) {
        if let Ok(open) = self.slot(start_us) {
            open.lags.push(us32(lag_us));
        }
    }

    /// Closes every second no operation can still arrive for, the history being at `now_us`.
    pub fn close_before(&mut self, now_us: u64) {
        while let Some(entry) = self.open.first_entry() {
            let t = *entry.key();
            if (t + 1) * 1_000_000 + self.open_for_us > now_us {
                return;
            }
            let open = entry.remove();
            self.close(t, open);
        }
    }

    fn close(&mut self, t: u64, open: Open) {
        let Ok(i) = usize::try_from(t) else {
            return;
        };
        while self.closed.len() < i {
            let gap = u32::try_from(self.closed.len()).unwrap_or(u32::MAX);
            self.closed.push(row(gap, Open::default()));
        }
        self.closed
            .push(row(u32::try_from(t).unwrap_or(u32::MAX), open));
    }

    /// Every whole second from the start of the load to `end_us` (a partial last one would
    /// read as a drop).
    pub fn finish(mut self, end_us: u64) -> Vec<Second> {
        for (t, open) in std::mem::take(&mut self.open) {
            self.close(t, open);
        }
        let n = usize::try_from(end_us / 1_000_000).unwrap_or(0);
        self.closed.truncate(n);
        while self.closed.len() < n {
            let gap = u32::try_from(self.closed.len()).unwrap_or(u32::MAX);
            self.closed.push(row(gap, Open::default()));
        }
        self.closed
    }
}

fn row(t: u32, mut open: Open) -> Second {
    open.latencies.sort_unstable();
    let lag_p99 = (!open.lags.is_empty()).then(|| {
        let mut h = super::segments::histogram();
        for lag in &open.lags {
            h.saturating_record(u64::from(*lag));
        }
        h.value_at_quantile(0.99) as f64 / 1000.0
    });
    Second {
        t,
        ok: open.ok,
        errors: open.errors,
        p50_ms: rank(&open.latencies, 0.5),
        p99_ms: rank(&open.latencies, 0.99),
        send_lag_p99_ms: lag_p99,
        ..Second::default()
    }
}

/// The nearest-rank quantile `q` of sorted microseconds, in milliseconds.
fn rank(sorted: &[u32], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let i = ((sorted.len() as f64 * q).ceil() as usize)
        .saturating_sub(1)
        .min(last);
    Some(f64::from(sorted[i]) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(start_ms: u64, latency_ms: u64, outcome: Outcome) -> Op {
        let (start, end) = (start_ms * 1000, (start_ms + latency_ms) * 1000);
        crate::history::test_read("s", (start, start, end), outcome)
    }

    #[test]
    fn each_second_counts_what_started_in_it() {
        let mut s = Seconds::new(500_000);
        for i in 1..=100 {
            s.add(&op(10 * i, i, Outcome::Ok));
        }
        s.add(&op(1_500, 3, Outcome::Fail));
        s.add(&op(1_600, 2_000, Outcome::Indeterminate));
        let rows = s.finish(2_500_000);
        assert_eq!(rows.len(), 2, "the partial last second is left out");
        // 10 ms to 990 ms: 99 operations with latencies 1..=99 ms; 1000 ms falls in the next.
        assert_eq!((rows[0].ok, rows[0].errors), (99, 0));
        // Nearest rank: the 50th and the 99th (ceil(0.99 * 99)) of 99.
        assert_eq!((rows[0].p50_ms, rows[0].p99_ms), (Some(50.0), Some(99.0)));
        assert_eq!((rows[1].ok, rows[1].errors), (1, 2));
        let idle = Seconds::new(0).finish(1_000_000);
        assert_eq!((idle[0].ok, idle[0].p99_ms), (0, None));
    }

    #[test]
    fn a_second_closes_once_nothing_can_arrive_for_it_and_keeps_counting_stragglers() {
        let mut s = Seconds::new(2_000_000);
        s.add(&op(100, 5, Outcome::Ok));
        s.lag(100_000, 3_000);
        s.close_before(2_900_000);
        assert_eq!(s.open.len(), 1, "second 0 may still get answers until 3 s");
        s.close_before(3_000_000);
        assert!(s.open.is_empty());
        s.add(&op(200, 4_000, Outcome::Ok)); // answered after 4 s: counted only
        s.add(&op(2_100, 5, Outcome::Ok));
        let rows = s.finish(3_000_000);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].ok, rows[0].p99_ms), (2, Some(5.0)));
        // Three significant digits.
        assert!(
            rows[0]
                .send_lag_p99_ms
                .is_some_and(|ms| (3.0..3.01).contains(&ms))
        );
        assert_eq!((rows[1].ok, rows[2].ok), (0, 1));
    }
}
