//! Recovery per fault: how long errors lasted, when the sessions they hit were served again,
//! and until when reads were stale, all measured from the fault's start to the next fault's
//! (or the end of the run).

use std::collections::BTreeMap;

use sessionbench_reports::Recovery;

use super::us_to_ms;
use crate::checkers::{Finding, Kind};
use crate::history::{Op, OpKind, Outcome};

/// `sessions`: every session's operations, in start order; `[from, until)`: the window.
pub fn measure(
    from: u64,
    until: u64,
    sessions: &BTreeMap<&str, Vec<&Op>>,
    findings: &[Finding],
) -> Recovery {
    let within = |t: u64| (from..until).contains(&t);
    let mut errors = 0;
    let mut burst: Option<(u64, u64)> = None;
    let (mut affected, mut recovered, mut worst) = (0, 0, None::<u64>);
    for ops in sessions.values() {
        let failed: Vec<&&Op> = ops
            .iter()
            // A probe after a logout is meant to fail: not an error.
            .filter(|o| o.outcome != Outcome::Ok && o.kind != OpKind::Probe && within(o.end_us))
            .collect();
        let Some(first) = failed.iter().map(|o| o.end_us).min() else {
            continue;
        };
        errors += failed.len() as u64;
        for o in &failed {
            let (a, b) = burst.unwrap_or((o.start_us, o.end_us));
            burst = Some((a.min(o.start_us), b.max(o.end_us)));
        }
        // A session whose error was its last operation (its planned end, or a login that
        // never made it) had nothing to recover.
        if !ops.iter().any(|o| o.start_us >= first) {
            continue;
        }
        affected += 1;
        let back = ops
            .iter()
            .filter(|o| o.outcome == Outcome::Ok && o.start_us >= first)
            .map(|o| o.end_us)
            .min();
        if let Some(back) = back {
            recovered += 1;
            worst = Some(worst.unwrap_or(0).max(back.saturating_sub(from)));
        }
    }
    let stale_until = findings
        .iter()
        .filter(|f| matches!(f.kind, Kind::StaleRead | Kind::MonotonicRead) && within(f.at_us))
        .map(|f| f.at_us - from)
        .max();
    Recovery {
        errors,
        error_burst_ms: burst.map_or(0.0, |(a, b)| us_to_ms(b - a)),
        sessions_affected: affected,
        sessions_recovered: recovered,
        recovered_within_ms: worst.map(us_to_ms),
        stale_reads_until_ms: stale_until.map(us_to_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read of `session` from `start` ms to `end` ms.
    fn op(session: &str, start: u64, end: u64, outcome: Outcome) -> Op {
        Op::test_read(session, (start * 1000, start * 1000, end * 1000), outcome)
    }

    #[test]
    fn errors_their_burst_and_when_each_hit_session_was_served_again() {
        let (a, b, c) = (
            vec![
                op("a", 900, 950, Outcome::Ok),
                op("a", 1_100, 3_100, Outcome::Indeterminate),
                op("a", 3_200, 3_250, Outcome::Ok),
            ],
            // Fails twice, then is never served again (lost).
            vec![
                op("b", 1_200, 1_210, Outcome::Fail),
                op("b", 1_300, 1_310, Outcome::Fail),
            ],
            // Its error is its last operation: nothing to recover.
            vec![
                op("c", 1_500, 1_520, Outcome::Ok),
                op("c", 2_000, 2_010, Outcome::Fail),
            ],
        );
        let sessions: BTreeMap<&str, Vec<&Op>> = [
            ("a", a.iter().collect()),
            ("b", b.iter().collect()),
            ("c", c.iter().collect()),
        ]
        .into();
        let stale = Finding {
            kind: Kind::StaleRead,
            session: "a".into(),
            at_us: 3_200_000,
            answered_us: 3_250_000,
            nodes: Vec::new(),
            detail: String::new(),
        };
        let r = measure(1_000_000, 10_000_000, &sessions, &[stale]);
        assert_eq!(
            r,
            Recovery {
                errors: 4,
                error_burst_ms: 2_000.0,
                sessions_affected: 2,
                sessions_recovered: 1,
                recovered_within_ms: Some(2_250.0),
                stale_reads_until_ms: Some(2_200.0),
            }
        );
        // Nothing of that happens in a window after it.
        let later = measure(5_000_000, 10_000_000, &sessions, &[]);
        assert_eq!((later.errors, later.recovered_within_ms), (0, None));
    }
}
