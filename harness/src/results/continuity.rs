//! What became of the sessions in use when a fault struck: kept, lost, or moved to another
//! node. The comparison's "sessions kept on failure / restart / scale-out" is this, per
//! scenario. Each session is followed as its operations arrive and counted when it ends.
//!
//! At risk: established before the first fault's start, neither lost nor logged out before
//! it, and used again at or after it (a probe after a logout is not use). Kept: no loss found
//! afterwards. Moved: an answer at or after the start named another node than the last one
//! before it.

use sessionbench_model::results::Continuity;

use crate::history::{Op, OpKind, Outcome};

/// One session, as far as continuity goes.
#[derive(Debug, Default)]
pub(super) struct SessionContinuity {
    login_end: Option<u64>,
    logout_end: Option<u64>,
    /// The node of its last answer before the fault.
    last_node: Option<String>,
    used_after: bool,
    moved: bool,
    /// When the answer that showed it lost arrived.
    pub lost_at: Option<u64>,
}

impl SessionContinuity {
    /// The session's next operation; `from` is the fault's start once it is known (an
    /// operation is only seen once the history has passed its end, so an operation seen
    /// before the fault is known ended before it).
    pub fn see(&mut self, op: &Op, from: Option<u64>) {
        if op.outcome == Outcome::Ok {
            match op.kind {
                OpKind::Login => self.login_end = self.login_end.or(Some(op.end_us)),
                OpKind::Logout => self.logout_end = self.logout_end.or(Some(op.end_us)),
                _ => {}
            }
        }
        if op.kind == OpKind::Probe {
            return;
        }
        if from.is_some_and(|from| op.end_us >= from) {
            self.used_after = true;
            if let (Some(node), Some(last)) = (&op.node, &self.last_node) {
                self.moved |= node != last;
            }
        } else if op.node.is_some() {
            self.last_node.clone_from(&op.node);
        }
    }

    /// Adds the ended session to `c` (whose `from_ms` is the fault's start).
    pub fn settle(&self, from: u64, c: &mut Continuity) {
        let before = |t: Option<u64>| t.is_some_and(|t| t < from);
        if !before(self.login_end) || before(self.logout_end) || before(self.lost_at) {
            return;
        }
        if !self.used_after {
            return;
        }
        c.at_risk += 1;
        c.kept += u64::from(self.lost_at.is_none());
        c.moved += u64::from(self.moved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kind` of `session` from `start` ms to `end` ms, answered by `node`.
    fn op(session: &str, kind: OpKind, start: u64, end: u64, node: &str) -> Op {
        let mut op = crate::history::test_read(
            session,
            (start * 1000, start * 1000, end * 1000),
            Outcome::Ok,
        );
        op.kind = kind;
        op.node = Some(node.into());
        op
    }

    #[test]
    fn sessions_in_use_at_the_fault_are_kept_lost_or_moved() {
        use OpKind::{Login, Logout, Probe, Read};
        let from = 1_000_000;
        let histories = [
            // Kept, and stays on node1.
            (
                vec![
                    op("a", Login, 0, 5, "node1"),
                    op("a", Read, 2_000, 2_005, "node1"),
                ],
                None,
            ),
            // Moved to node2 and lost there.
            (
                vec![
                    op("b", Login, 0, 5, "node1"),
                    op("b", Read, 2_000, 2_005, "node2"),
                ],
                Some(2_000_010),
            ),
            // Moved to node3 and kept (a replicated store).
            (
                vec![
                    op("c", Login, 0, 5, "node1"),
                    op("c", Read, 1_500, 1_505, "node3"),
                ],
                None,
            ),
            // Logged out before the fault: a probe after it is not use.
            (
                vec![
                    op("d", Login, 0, 5, "node1"),
                    op("d", Logout, 500, 505, "node1"),
                    op("d", Probe, 600, 1_605, "node2"),
                ],
                None,
            ),
            // Started after the fault.
            (vec![op("e", Login, 1_200, 1_205, "node1")], None),
            // Lost before the fault.
            (
                vec![
                    op("f", Login, 0, 5, "node1"),
                    op("f", Read, 1_500, 1_505, "node1"),
                ],
                Some(800_010),
            ),
            // Not used again after the fault.
            (
                vec![
                    op("g", Login, 0, 5, "node1"),
                    op("g", Read, 500, 505, "node1"),
                ],
                None,
            ),
        ];
        let mut c = Continuity {
            from_ms: 1_000.0,
            ..Continuity::default()
        };
        for (ops, lost_at) in &histories {
            let mut s = SessionContinuity::default();
            for o in ops {
                // The fault is known once the history passes its start.
                s.see(o, (o.end_us >= from).then_some(from));
            }
            s.lost_at = *lost_at;
            s.settle(from, &mut c);
        }
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
