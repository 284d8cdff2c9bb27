//! Idle expiry: a session gone (lost, expired early, or expired as it should) and one served
//! past its idle limit.

use std::time::Duration;

use crate::history::Op;

use super::Checker;
use super::finding::Kind;
use super::finding::{on, secs};
use super::memory::Memory;

/// How long past its idle limit a session may still be served before it counts as
/// outlived: a node sweeps idle sessions every second, and the harness sees the node's clock
/// only through request start and end times.
pub const OUTLIVED_GRACE: Duration = Duration::from_secs(1);

impl<M: Memory> Checker<M> {
    /// A no-session answer: expiry if the session may have idled past its limit, else a
    /// loss (an early expiry if it had lived past the limit).
    pub(super) fn gone(&mut self, op: &Op) {
        let (last_start, last_end) = self.last_ok;
        // The most idle the node can have seen it: from the last access's start to this end.
        let idle_max = op.end_us.saturating_sub(last_start);
        if self.idle_limit_us.is_some_and(|limit| idle_max >= limit) {
            self.expired = true;
            return;
        }
        self.lost = true;
        let answered = format!(
            "{:?} answered {} no-session{}",
            op.kind,
            op.status.map_or("?".into(), |s| s.to_string()),
            on(op.node.as_deref())
        );
        let age = op.end_us.saturating_sub(self.born_us);
        match self.idle_limit_us.filter(|&limit| age >= limit) {
            Some(limit) => {
                let idle = op.start_us.saturating_sub(last_end);
                let detail = format!(
                    "{answered} after {} idle (at most {}), under its {} limit; it had lived {}",
                    secs(idle),
                    secs(idle_max),
                    secs(limit),
                    secs(age)
                );
                self.find(Kind::ExpiredEarly, op, detail);
            }
            None => self.find(
                Kind::SessionLost,
                op,
                match &self.last_node {
                    Some(last) => format!("{answered}; last served by {last}"),
                    None => answered,
                },
            ),
        }
    }

    /// A success after the session idled past its limit and the grace.
    pub(super) fn check_idle(&mut self, op: &Op) {
        let Some(limit) = self.idle_limit_us else {
            return;
        };
        // The least idle the node can have seen it: from the last access's end to this start.
        let idle_min = op.start_us.saturating_sub(self.last_ok.1);
        let grace = OUTLIVED_GRACE.as_micros() as u64;
        if !self.outlived && idle_min > limit + grace {
            self.outlived = true;
            let detail = format!(
                "served after {} idle, past its {} limit",
                secs(idle_min),
                secs(limit)
            );
            self.find(Kind::Outlived, op, detail);
        }
    }
}
