//! What became of the sessions in use when a fault struck: kept, lost, or moved to another
//! node. The comparison's "sessions kept on failure / restart / scale-out" is this, per
//! scenario.

use std::collections::BTreeMap;

use sessionbench_reports::Continuity;

use super::us_to_ms;
use crate::checkers::{Finding, Kind};
use crate::history::{Op, OpKind, Outcome};

/// `sessions`: every session's operations in start order; `from`: the fault's start.
///
/// At risk: established before `from`, neither lost nor logged out before it, and used
/// again at or after it (a probe after a logout is not use). Kept: no loss found afterwards.
/// Moved: an answer at or after `from` named another node than the last one before it.
pub fn measure(from: u64, sessions: &BTreeMap<&str, Vec<&Op>>, findings: &[Finding]) -> Continuity {
    let lost_at: BTreeMap<&str, u64> = findings
        .iter()
        .filter(|f| f.kind == Kind::SessionLost)
        .map(|f| (f.session.as_str(), f.answered_us))
        .collect();
    let (mut at_risk, mut kept, mut moved) = (0, 0, 0);
    for (session, ops) in sessions {
        let established = ops
            .iter()
            .any(|o| o.kind == OpKind::Login && o.outcome == Outcome::Ok && o.end_us < from);
        let ended_before = ops
            .iter()
            .any(|o| o.kind == OpKind::Logout && o.outcome == Outcome::Ok && o.end_us < from);
        let lost = lost_at.get(session).copied();
        let used_after = ops
            .iter()
            .any(|o| o.kind != OpKind::Probe && o.end_us >= from);
        if !established || ended_before || lost.is_some_and(|t| t < from) || !used_after {
            continue;
        }
        at_risk += 1;
        if lost.is_none() {
            kept += 1;
        }
        let answered: Vec<&Op> = ops
            .iter()
            .copied()
            .filter(|o| o.node.is_some() && o.kind != OpKind::Probe)
            .collect();
        if let Some(last) = answered.iter().rfind(|o| o.end_us < from) {
            if answered
                .iter()
                .any(|o| o.end_us >= from && o.node != last.node)
            {
                moved += 1;
            }
        }
    }
    Continuity {
        from_ms: us_to_ms(from),
        at_risk,
        kept,
        moved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kind` of `session` from `start` ms to `end` ms, answered by `node`.
    fn op(session: &str, kind: OpKind, start: u64, end: u64, node: &str) -> Op {
        Op {
            target: "t".into(),
            session: session.into(),
            kind,
            attr: None,
            write: None,
            intended_us: start * 1000,
            start_us: start * 1000,
            end_us: end * 1000,
            status: Some(200),
            node: Some(node.into()),
            outcome: Outcome::Ok,
            error: None,
            view: None,
        }
    }

    fn lost(session: &str, at: u64) -> Finding {
        Finding {
            kind: Kind::SessionLost,
            session: session.into(),
            at_us: at * 1000,
            answered_us: at * 1000 + 10,
            nodes: Vec::new(),
            detail: String::new(),
        }
    }

    #[test]
    fn sessions_in_use_at_the_fault_are_kept_lost_or_moved() {
        use OpKind::{Login, Logout, Probe, Read};
        let histories = [
            // Kept, and stays on node1.
            vec![
                op("a", Login, 0, 5, "node1"),
                op("a", Read, 2_000, 2_005, "node1"),
            ],
            // Moved to node2 and lost there.
            vec![
                op("b", Login, 0, 5, "node1"),
                op("b", Read, 2_000, 2_005, "node2"),
            ],
            // Moved to node3 and kept (a replicated store).
            vec![
                op("c", Login, 0, 5, "node1"),
                op("c", Read, 1_500, 1_505, "node3"),
            ],
            // Logged out before the fault: a probe after it is not use.
            vec![
                op("d", Login, 0, 5, "node1"),
                op("d", Logout, 500, 505, "node1"),
                op("d", Probe, 600, 1_605, "node2"),
            ],
            // Started after the fault.
            vec![op("e", Login, 1_200, 1_205, "node1")],
            // Lost before the fault.
            vec![
                op("f", Login, 0, 5, "node1"),
                op("f", Read, 1_500, 1_505, "node1"),
            ],
            // Not used again after the fault.
            vec![
                op("g", Login, 0, 5, "node1"),
                op("g", Read, 500, 505, "node1"),
            ],
        ];
        let sessions: BTreeMap<&str, Vec<&Op>> = histories
            .iter()
            .map(|ops| (ops[0].session.as_str(), ops.iter().collect()))
            .collect();
        let c = measure(1_000_000, &sessions, &[lost("b", 2_000), lost("f", 800)]);
        assert_eq!(
            c,
            Continuity {
                from_ms: 1_000.0,
                at_risk: 3,
                kept: 2,
                moved: 2,
            }
        );
    }
}
