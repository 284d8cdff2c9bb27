//! A run second by second: what the plots draw and what a baseline comparison resamples.

use sessionbench_reports::Second;

use crate::history::{Op, Outcome};

/// Every whole second from the start of the load to `end_us` (a partial last one would
/// read as a drop), from `ops` (logout probes already left out).
pub fn seconds(ops: &[&Op], end_us: u64) -> Vec<Second> {
    let n = usize::try_from(end_us / 1_000_000).unwrap_or(0);
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); n];
    let mut errors = vec![0u64; n];
    for op in ops {
        let Some(i) = usize::try_from(op.start_us / 1_000_000)
            .ok()
            .filter(|&i| i < n)
        else {
            continue;
        };
        if op.outcome == Outcome::Ok {
            latencies[i].push(op.end_us.saturating_sub(op.intended_us));
        } else {
            errors[i] += 1;
        }
    }
    latencies
        .into_iter()
        .zip(errors)
        .enumerate()
        .map(|(t, (mut l, errors))| {
            l.sort_unstable();
            Second {
                t: u32::try_from(t).unwrap_or(u32::MAX),
                ok: l.len() as u64,
                errors,
                p50_ms: rank(&l, 0.5),
                p99_ms: rank(&l, 0.99),
                ..Second::default()
            }
        })
        .collect()
}

/// The nearest-rank quantile `q` of sorted microseconds, in milliseconds.
fn rank(sorted: &[u64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let i = ((sorted.len() as f64 * q).ceil() as usize)
        .saturating_sub(1)
        .min(last);
    Some(sorted[i] as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(start_ms: u64, latency_ms: u64, outcome: Outcome) -> Op {
        let (start, end) = (start_ms * 1000, (start_ms + latency_ms) * 1000);
        Op::test_read("s", (start, start, end), outcome)
    }

    #[test]
    fn each_second_counts_what_started_in_it() {
        let mut ops: Vec<Op> = (1..=100).map(|i| op(10 * i, i, Outcome::Ok)).collect();
        ops.push(op(1_500, 3, Outcome::Fail));
        ops.push(op(1_600, 2_000, Outcome::Indeterminate));
        let refs: Vec<&Op> = ops.iter().collect();
        let s = seconds(&refs, 2_500_000);
        assert_eq!(s.len(), 2, "the partial last second is left out");
        // 10 ms to 990 ms: 99 operations with latencies 1..=99 ms; 1000 ms falls in the next.
        assert_eq!((s[0].ok, s[0].errors), (99, 0));
        // Nearest rank: the 50th and the 99th (ceil(0.99 * 99)) of 99.
        assert_eq!((s[0].p50_ms, s[0].p99_ms), (Some(50.0), Some(99.0)));
        assert_eq!((s[1].ok, s[1].errors), (1, 2));
        let idle = seconds(&[], 1_000_000);
        assert_eq!((idle[0].ok, idle[0].p99_ms), (0, None));
    }
}
