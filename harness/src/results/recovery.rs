//! Recovery per fault: how long errors lasted, when the sessions they hit were served again,
//! and until when reads were stale, all measured from the fault's start to the next fault's
//! (or the end of the run). Errors are counted as they arrive; a session's part is added
//! when it ends.

use std::collections::BTreeMap;

use sessionbench_model::results::Recovery;

use super::units::us_to_ms;
use crate::checkers::{Kind, Mark};
use crate::history::{Op, Outcome};

/// One window's sums, keyed in [`Windows`] by the fault's start.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Window {
    errors: u64,
    /// From the first error's start to the last one's end.
    burst: Option<(u64, u64)>,
    affected: u64,
    recovered: u64,
    /// From the fault's start to the latest a hit session was served again.
    worst: Option<u64>,
}

/// Every fault's window, by its start: a window runs to the next fault's start.
pub(super) type Windows = BTreeMap<u64, Window>;

/// One session's first error in one window, and what followed it.
#[derive(Debug, Clone)]
struct Hit {
    from: u64,
    first: u64,
    /// Another request followed the error.
    affected: bool,
    /// When the first success after it was answered.
    back: Option<u64>,
}

/// A session's hits, in the order they happened.
#[derive(Debug, Default)]
pub(super) struct SessionRecovery(Vec<Hit>);

impl SessionRecovery {
    /// The session's next operation.
    pub fn see(&mut self, op: &Op, windows: &mut Windows) {
        for hit in self.0.iter_mut().filter(|h| op.start_us >= h.first) {
            hit.affected = true;
            if op.outcome == Outcome::Ok && hit.back.is_none() {
                hit.back = Some(op.end_us);
            }
        }
        // A probe after a logout is meant to fail, and a final read is a check: not errors.
        if op.outcome == Outcome::Ok || op.kind.is_check() {
            return;
        }
        let Some((&from, window)) = windows.range_mut(..=op.end_us).next_back() else {
            return; // Before any fault.
        };
        window.errors += 1;
        let (a, b) = window.burst.unwrap_or((op.start_us, op.end_us));
        window.burst = Some((a.min(op.start_us), b.max(op.end_us)));
        if !self.0.iter().any(|h| h.from == from) {
            self.0.push(Hit {
                from,
                first: op.end_us,
                affected: false,
                back: None,
            });
        }
    }

    /// Adds the ended session's part. A session whose error was its last operation (its
    /// planned end, or a login that never made it) had nothing to recover.
    pub fn settle(self, windows: &mut Windows) {
        for hit in self.0.into_iter().filter(|h| h.affected) {
            let Some(window) = windows.get_mut(&hit.from) else {
                continue;
            };
            window.affected += 1;
            if let Some(back) = hit.back {
                window.recovered += 1;
                let took = back.saturating_sub(hit.from);
                window.worst = Some(window.worst.unwrap_or(0).max(took));
            }
        }
    }
}

/// The recovery of the window from `from` to `until`, with the stale reads `marks` show.
pub(super) fn report(window: &Window, from: u64, until: u64, marks: &[Mark]) -> Recovery {
    let stale_until = marks
        .iter()
        .filter(|f| matches!(f.kind, Kind::StaleRead | Kind::MonotonicRead))
        .filter(|f| (from..until).contains(&f.at_us))
        .map(|f| f.at_us - from)
        .max();
    Recovery {
        errors: window.errors,
        error_burst_ms: window.burst.map_or(0.0, |(a, b)| us_to_ms(b - a)),
        sessions_affected: window.affected,
        sessions_recovered: window.recovered,
        recovered_within_ms: window.worst.map(us_to_ms),
        stale_reads_until_ms: stale_until.map(us_to_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read of `session` from `start` ms to `end` ms.
    fn op(session: &str, start: u64, end: u64, outcome: Outcome) -> Op {
        crate::history::test_read(session, (start * 1000, start * 1000, end * 1000), outcome)
    }

    #[test]
    fn errors_their_burst_and_when_each_hit_session_was_served_again() {
        let sessions = [
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
        ];
        // A window from 1 s, and a later one from 5 s that nothing falls in.
        let mut windows: Windows = [
            (1_000_000, Window::default()),
            (5_000_000, Window::default()),
        ]
        .into();
        for ops in &sessions {
            let mut s = SessionRecovery::default();
            for o in ops {
                s.see(o, &mut windows);
            }
            s.settle(&mut windows);
        }
        let stale = Mark {
            kind: Kind::StaleRead,
            at_us: 3_200_000,
            answered_us: 3_250_000,
            count: 1,
        };
        let r = report(&windows[&1_000_000], 1_000_000, 5_000_000, &[stale]);
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
        let later = report(&windows[&5_000_000], 5_000_000, 10_000_000, &[]);
        assert_eq!((later.errors, later.recovered_within_ms), (0, None));
    }
}
