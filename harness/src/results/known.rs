//! Losses a real system is known to cause at a fault (`[[targets.expect.known-losses]]`): which
//! lost sessions each explains, and how many each fault of its kind cost. A loss is explained
//! by the first known loss whose window (from a fault's start, or its end) opened at most
//! `within` before the answer that showed it. A fault that could not be applied opens none.

use sessionbench_model::results::FaultWindow;

use super::units::micros;
use crate::checkers::Mark;
use sessionbench_model::plan::KnownLoss;

/// What the known losses explain of a target's losses.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Explained {
    /// Lost sessions some known loss explains.
    pub sessions: u64,
    /// By known loss: the sessions each fault it follows cost, in the faults' order.
    pub per_fault: Vec<Vec<u64>>,
}

/// The known loss (its index) that explains a loss shown at `answered_us`, and the fault
/// (its index) it follows; `spans` are the faults' starts and ends.
pub(super) fn cause(
    known: &[KnownLoss],
    faults: &[FaultWindow],
    spans: &[(u64, Option<u64>)],
    answered_us: u64,
) -> Option<(usize, usize)> {
    known.iter().enumerate().find_map(|(k, loss)| {
        let window = micros(loss.within);
        faults
            .iter()
            .zip(spans)
            .enumerate()
            .filter(|(_, (f, _))| f.kind == loss.after && !f.failed)
            .filter_map(|(i, (_, &(start, end)))| {
                let opens = if loss.from_end { end? } else { start };
                (opens <= answered_us && answered_us - opens <= window).then_some((i, opens))
            })
            .max_by_key(|(_, opens)| *opens)
            .map(|(i, _)| (k, i))
    })
}

/// Counts the loss `marks` the known losses explain, fault by fault.
pub(super) fn explain(
    known: &[KnownLoss],
    faults: &[FaultWindow],
    spans: &[(u64, Option<u64>)],
    marks: &[Mark],
) -> Explained {
    let mut out = Explained {
        sessions: 0,
        per_fault: known
            .iter()
            .map(|k| {
                faults
                    .iter()
                    .filter(|f| f.kind == k.after)
                    .map(|_| 0)
                    .collect()
            })
            .collect(),
    };
    for mark in marks.iter().filter(|m| m.kind.is_loss()) {
        let Some((k, fault)) = cause(known, faults, spans, mark.answered_us) else {
            continue;
        };
        // The fault's place among the faults of its kind.
        let nth = faults[..fault]
            .iter()
            .filter(|f| f.kind == known[k].after)
            .count();
        out.per_fault[k][nth] += 1;
        out.sessions += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checkers::Kind;

    fn fault(kind: &str) -> FaultWindow {
        FaultWindow {
            kind: kind.into(),
            node: "node2".into(),
            start_ms: 0.0,
            end_ms: None,
            detail: None,
            sessions_lost_after: 0,
            lost_per_s_before: None,
            sessions_lost_beyond: None,
            updates_lost_after: 0,
            recovery: None,
            failed: false,
            may_fail: false,
        }
    }

    fn lost(answered_ms: u64) -> Mark {
        Mark {
            kind: Kind::SessionLost,
            at_us: answered_ms * 1000 - 1,
            answered_us: answered_ms * 1000,
            count: 1,
        }
    }

    fn known(after: &str, within_ms: u64) -> KnownLoss {
        KnownLoss {
            after: after.into(),
            from_end: false,
            within: Duration::from_millis(within_ms),
            max_sessions: 1,
            cause: "a race".into(),
        }
    }

    #[test]
    fn a_loss_is_explained_only_inside_its_window_after_a_fault_of_its_kind() {
        let faults = [fault("kill"), fault("restart"), fault("kill")];
        let spans = [
            (1_000_000, Some(2_000_000)),
            (3_000_000, None),
            (5_000_000, None),
        ];
        let known = [known("kill", 500)];
        let marks = [
            lost(900),   // before any fault
            lost(1_200), // the first kill's
            lost(1_500), // the first kill's, at its window's end
            lost(1_501), // past it
            lost(3_100), // after the restart: not a kill
            lost(5_400), // the second kill's
        ];
        let explained = explain(&known, &faults, &spans, &marks);
        assert_eq!(explained.sessions, 3);
        assert_eq!(explained.per_fault, [vec![2, 1]]);
        // Other findings are no losses.
        let stale = Mark {
            kind: Kind::StaleRead,
            ..lost(1_100)
        };
        assert_eq!(explain(&known, &faults, &spans, &[stale]).sessions, 0);
        // Without a known loss, nothing is explained.
        assert_eq!(explain(&[], &faults, &spans, &marks).sessions, 0);
        // From the end: the first kill healed at 2 s; the second never did.
        let mut from_end = known.clone();
        from_end[0].from_end = true;
        let at_heal = [lost(1_200), lost(2_100), lost(2_600), lost(5_100)];
        let explained = explain(&from_end, &faults, &spans, &at_heal);
        assert_eq!(explained.per_fault, [vec![1, 0]]);
        // A fault that could not be applied opens no window.
        let mut failed = faults.clone();
        failed[0].failed = true;
        assert_eq!(
            explain(&known, &failed, &spans, &marks).per_fault,
            [vec![0, 1]]
        );
    }
}
