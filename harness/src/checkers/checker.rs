//! The [`Checker`]: one session's operations, one at a time in the order they ended, sent to
//! the check each concerns (expiry in `expiry`, answers in `answers`).

use std::time::Duration;

use crate::history::{LOGOUT_FAILED, Op, OpKind, Outcome, View};

use super::coverage::Fed;
#[cfg(test)]
use super::finding::SessionCheck;
use super::finding::{Finding, Kind};
use super::memory::{Bounded, Memory};
use super::record::{Increment, Shown};

/// Checks one session's operations, given in the order they ended, then settles it.
#[cfg(test)]
pub fn check_session(ops: &[&Op], idle_limit: Option<Duration>) -> SessionCheck {
    check_with::<Bounded>(ops, idle_limit)
}

/// The same with the memory `M`.
#[cfg(test)]
fn check_with<M: Memory>(ops: &[&Op], idle_limit: Option<Duration>) -> SessionCheck {
    let mut c = Checker::<M>::new(idle_limit);
    for op in ops {
        c.step(op);
    }
    c.finish();
    SessionCheck {
        established: c.established,
        findings: c.findings,
    }
}

/// One session's checks, fed its operations in order. What it remembers of them is `M`'s:
/// the unsettled operations and summaries of the rest, and a small record per write.
#[derive(Debug, Default)]
pub(crate) struct Checker<M = Bounded> {
    /// What its answers fed each check, how many succeeded, and when its first acknowledged
    /// write and increment ended (an answer after them can show them).
    pub(super) fed: Fed,
    pub(super) answers: u32,
    pub(super) first_write_end: Option<u64>,
    pub(super) first_increment_end: Option<u64>,
    /// The target's idle limit, if known: expiry is judged against it.
    pub(super) idle_limit_us: Option<u64>,
    /// A login succeeded.
    pub(super) established: bool,
    /// When the login was sent (the most the session can have lived counts from there).
    pub(super) born_us: u64,
    /// The last successful operation's start and end: the node last touched the session
    /// between the two.
    pub(super) last_ok: (u64, u64),
    /// It expired after its limit, as it should: nothing later is judged.
    pub(super) expired: bool,
    pub(super) outlived: bool,
    /// Who the login showed, if its answer shows users.
    pub(super) user: Option<String>,
    pub(super) last_node: Option<String>,
    /// The session's name, for what `finish` finds.
    pub(super) session_name: String,
    /// Its writes, increments, counters and orders, as far as they can still matter.
    pub(super) memory: M,
    /// No operation still to come started before it: the latest time an operation was due.
    pub(super) horizon: u64,
    /// The latest end so far.
    pub(super) last_end: u64,
    /// Operations that broke the order the memory relies on (given out of the order they
    /// ended, or started before an operation already seen was due).
    pub(super) unordered: u64,
    pub(super) logged_out: bool,
    pub(super) logout_unknown: bool,
    pub(super) lost: bool,
    pub(super) findings: Vec<Finding>,
}

impl<M: Memory> Checker<M> {
    pub fn new(idle_limit: Option<Duration>) -> Self {
        Self {
            idle_limit_us: idle_limit
                .filter(|d| !d.is_zero())
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            ..Self::default()
        }
    }

    pub fn established(&self) -> bool {
        self.established
    }

    /// It expired after its idle limit (not a loss).
    pub fn expired(&self) -> bool {
        self.expired
    }

    /// What the operations so far have found that was not taken yet.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    pub(super) fn find(&mut self, kind: Kind, op: &Op, detail: String) {
        let mut nodes: Vec<String> = self.last_node.iter().cloned().collect();
        if let Some(n) = &op.node {
            if nodes.last() != Some(n) {
                nodes.push(n.clone());
            }
        }
        self.findings.push(Finding {
            kind,
            session: op.session.clone(),
            at_us: op.start_us,
            answered_us: op.end_us,
            nodes,
            detail,
            count: 1,
        });
    }

    /// Operations that came out of order: see `memory`.
    #[cfg(test)]
    pub fn unordered(&self) -> u64 {
        self.unordered
    }

    pub fn step(&mut self, op: &Op) {
        self.unordered += u64::from(op.start_us < self.horizon || op.end_us < self.last_end);
        self.last_end = self.last_end.max(op.end_us);
        self.horizon = self.horizon.max(op.intended_us.min(op.start_us));
        self.memory.settle(self.horizon);
        if self.session_name.is_empty() {
            self.session_name.clone_from(&op.session);
        }
        if op.outcome == Outcome::Ok && !matches!(op.kind, OpKind::Probe | OpKind::Logout) {
            self.answers = self.answers.saturating_add(1);
        }
        if op.kind == OpKind::Login {
            if op.outcome == Outcome::Ok {
                self.established = true;
                self.born_us = op.start_us;
                self.last_ok = (op.start_us, op.end_us);
                if let Some(view) = &op.view {
                    self.user.clone_from(&view.user);
                    if let Some(counter) = view.counter {
                        self.memory.counter(Shown {
                            start: op.start_us,
                            end: op.end_us,
                            counter,
                            node: op.node.clone(),
                        });
                    }
                    if let Some(v) = order(view) {
                        self.memory.order(op.end_us, v, op.node.clone());
                    }
                }
                self.last_node = op.node.clone();
            }
            return;
        }
        if !self.established || self.lost || self.expired {
            return;
        }
        self.fed.used |= op.kind != OpKind::Probe;
        if self.logged_out || op.kind == OpKind::Probe {
            self.fed.replayed |= self.logged_out && op.outcome != Outcome::Indeterminate;
            if op.outcome == Outcome::Ok && !self.logout_unknown {
                let what = if op.kind == OpKind::Probe {
                    "the old cookie"
                } else {
                    "the session"
                };
                self.find(
                    Kind::Resurrection,
                    op,
                    format!(
                        "{what} still served (HTTP {}) after an acknowledged logout",
                        op.status.unwrap_or(0)
                    ),
                );
            }
            return;
        }
        match op.outcome {
            Outcome::Indeterminate => {
                if op.kind == OpKind::Logout {
                    self.logout_unknown = true;
                }
                self.record_write(op, false);
                if op.kind == OpKind::Counter {
                    self.memory.increment(Increment::of(op, false));
                }
            }
            Outcome::Fail => {
                if op.no_session() && !self.logout_unknown {
                    self.gone(op);
                } else if op.kind == OpKind::Logout
                    && op
                        .error
                        .as_deref()
                        .is_some_and(|e| e.starts_with(LOGOUT_FAILED))
                {
                    let detail = format!(
                        "the logout's answer (HTTP {}) does not show a logout: {}",
                        op.status.unwrap_or(0),
                        op.error.as_deref().unwrap_or_default()
                    );
                    self.find(Kind::LogoutFailed, op, detail);
                }
            }
            Outcome::Ok if op.kind == OpKind::Logout => {
                self.logged_out = true;
                self.fed.logged_out = true;
            }
            Outcome::Ok => {
                self.check_idle(op);
                self.last_ok = (op.start_us, op.end_us);
                // An answer after an acknowledged write (increment) could show it: the checks
                // of writes (the counter) needed it, whether it showed them or not.
                let after = |end: Option<u64>| end.is_some_and(|end| op.start_us > end);
                self.fed.wrote |= after(self.first_write_end);
                self.fed.incremented |= after(self.first_increment_end);
                // Acknowledged, whether or not its answer shows the session.
                self.record_write(op, true);
                if op.kind == OpKind::Counter {
                    self.memory.increment(Increment::of(op, true));
                    self.first_increment_end = self.first_increment_end.or(Some(op.end_us));
                }
                self.check_view(op);
            }
        }
    }
}

impl<M: Memory> Checker<M> {
    /// The session is over: writes undone for good, and increments its last counter lacks.
    pub fn finish(&mut self) {
        if !self.established || self.lost || self.expired {
            return;
        }
        let undone = self.memory.undone();
        let found = undone
            .writes
            .into_iter()
            .map(|(seen, detail)| (seen.start, seen.end, seen.node, detail, 1));
        let counter = undone
            .increments
            .map(|(last, detail, count)| (last.start, last.end, last.node, detail, count));
        for (at_us, answered_us, node, detail, count) in found.chain(counter) {
            self.findings.push(Finding {
                kind: Kind::LostUpdate,
                session: self.session_name.clone(),
                at_us,
                answered_us,
                nodes: node.into_iter().collect(),
                detail,
                count,
            });
        }
    }
}

impl<M: Memory> Checker<M> {
    /// What the session's answers fed each check so far.
    pub fn fed(&self) -> Fed {
        Fed {
            counter_twice: self.memory.counted(),
            answered_twice: self.answers >= 2,
            ordered: self.memory.ordered_twice(),
            unordered: self.unordered > 0,
            ..self.fed
        }
    }
}

/// What orders a session's states: its version, or else its counter (which only goes up).
pub(super) fn order(view: &View) -> Option<u64> {
    view.version.or(view.counter)
}
