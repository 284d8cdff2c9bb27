//! Continuity checks over one session's history: session lost, read-your-writes (stale read),
//! monotonic reads, monotonic writes, lost updates, resurrection after logout, and idle
//! expiry against the target's limit. A [`Checker`] takes a session's operations one at a
//! time as they arrive (in the order they ended), so a run is checked while it goes and a
//! session is forgotten once it ends.
//!
//! A session's operations may overlap (a page's parallel requests): order is known only
//! between operations that did not, so every rule compares an answer with what had been
//! acknowledged before its request started, and a write is older than another only if it
//! ended before the other started. Operations one after another are the special case where
//! everything earlier is known.
//!
//! The rule that keeps them honest: an indeterminate operation (timeout, broken connection)
//! may or may not have been applied, at any later time, so it only ever widens what a later
//! read may show. It never produces a failure itself.

use std::time::Duration;

use crate::history::{LOGOUT_FAILED, Op, OpKind, Outcome, View};

mod counter;
mod coverage;
#[cfg(test)]
mod equivalence;
mod memory;
#[cfg(test)]
mod naive;
mod record;
#[cfg(test)]
mod reference;
mod writes;

pub use coverage::Fed;
pub(crate) use memory::Bounded;

use memory::Memory;
use record::{Increment, Seen, Shown, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    SessionLost,
    StaleRead,
    MonotonicRead,
    Resurrection,
    /// Gone while used within its idle limit, though it had lived past it: a store that
    /// expires sessions by age (a TTL not renewed on access), or a copy that idled out.
    ExpiredEarly,
    /// Served after an idle time longer than its limit (and a grace for sweeps and clocks).
    Outlived,
    /// A logout answered, but not as a logout that worked shows (`requests.logout.shows`):
    /// the session is still there, not resurrected.
    LogoutFailed,
    /// An acknowledged write that every read after it (until the attribute's next write)
    /// shows undone, or acknowledged increments the session's last counter does not hold:
    /// a concurrent whole-session save wrote an older copy over it.
    LostUpdate,
    /// A read that shows a write but not one acknowledged before that write started (on
    /// another attribute, not overwritten since).
    MonotonicWrite,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::SessionLost => "session-lost",
            Self::StaleRead => "stale-read",
            Self::MonotonicRead => "monotonic-read",
            Self::Resurrection => "resurrection",
            Self::ExpiredEarly => "expired-early",
            Self::Outlived => "outlived",
            Self::LogoutFailed => "logout-failed",
            Self::LostUpdate => "lost-update",
            Self::MonotonicWrite => "monotonic-write",
        }
    }
}

/// One anomaly in one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    pub session: String,
    pub at_us: u64,
    /// When the answer that showed it arrived: the state it saw is from before then.
    pub answered_us: u64,
    /// Where the session was last served, then where the anomaly was seen.
    pub nodes: Vec<String>,
    pub detail: String,
    /// How many updates a lost-update finding stands for (lost increments); 1 otherwise.
    pub count: u64,
}

impl Kind {
    /// The session is gone: it counts as lost, and nothing later in it is judged.
    pub fn is_loss(self) -> bool {
        matches!(self, Self::SessionLost | Self::ExpiredEarly)
    }
}

/// A finding without its words: what the measures of a run need of every finding, where
/// only the first ones are kept whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub kind: Kind,
    pub at_us: u64,
    pub answered_us: u64,
    /// How many it stands for (increments lost in one counter).
    pub count: u64,
}

impl Finding {
    pub fn mark(&self) -> Mark {
        Mark {
            kind: self.kind,
            at_us: self.at_us,
            answered_us: self.answered_us,
            count: self.count,
        }
    }
}

/// What one session's history shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionCheck {
    /// Its login succeeded.
    pub established: bool,
    pub findings: Vec<Finding>,
}

impl SessionCheck {
    pub fn lost(&self) -> bool {
        self.findings.iter().any(|f| f.kind.is_loss())
    }
}

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

/// How long past its idle limit a session may still be served before it counts as
/// outlived: a node sweeps idle sessions every second, and the harness sees the node's clock
/// only through request start and end times.
pub const OUTLIVED_GRACE: Duration = Duration::from_secs(1);

/// One session's checks, fed its operations in order. What it remembers of them is `M`'s:
/// the unsettled operations and summaries of the rest, and a small record per write.
#[derive(Debug, Default)]
pub(crate) struct Checker<M = Bounded> {
    /// What its answers fed each check, how many succeeded, and when its first acknowledged
    /// write and increment ended (an answer after them can show them).
    fed: Fed,
    answers: u32,
    first_write_end: Option<u64>,
    first_increment_end: Option<u64>,
    /// The target's idle limit, if known: expiry is judged against it.
    idle_limit_us: Option<u64>,
    /// A login succeeded.
    established: bool,
    /// When the login was sent (the most the session can have lived counts from there).
    born_us: u64,
    /// The last successful operation's start and end: the node last touched the session
    /// between the two.
    last_ok: (u64, u64),
    /// It expired after its limit, as it should: nothing later is judged.
    expired: bool,
    outlived: bool,
    /// Who the login showed, if its answer shows users.
    user: Option<String>,
    last_node: Option<String>,
    /// The session's name, for what `finish` finds.
    session_name: String,
    /// Its writes, increments, counters and orders, as far as they can still matter.
    memory: M,
    /// No operation still to come started before it: the latest time an operation was due.
    horizon: u64,
    /// The latest end so far.
    last_end: u64,
    /// Operations that broke the order the memory relies on (given out of the order they
    /// ended, or started before an operation already seen was due).
    unordered: u64,
    logged_out: bool,
    logout_unknown: bool,
    lost: bool,
    findings: Vec<Finding>,
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

    fn find(&mut self, kind: Kind, op: &Op, detail: String) {
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

    /// A no-session answer: expiry if the session may have idled past its limit, else a
    /// loss (an early expiry if it had lived past the limit).
    fn gone(&mut self, op: &Op) {
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
    fn check_idle(&mut self, op: &Op) {
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

    fn record_write(&mut self, op: &Op, acked: bool) {
        if let (OpKind::Write, Some(attr), Some(id)) = (op.kind, &op.attr, &op.write) {
            if acked {
                self.first_write_end = self.first_write_end.or(Some(op.end_us));
            }
            let write = Write {
                id: id.clone(),
                start: op.start_us,
                end: op.end_us,
                acked,
            };
            self.memory.write(attr, write);
        }
    }

    /// Judges what an answer shows; a part it does not show is not judged.
    fn check_view(&mut self, op: &Op) {
        let Some(view) = &op.view else {
            self.last_node.clone_from(&op.node);
            return;
        };
        if let (Some(user), Some(expected)) = (&view.user, &self.user) {
            if user != expected {
                self.lost = true;
                let detail = format!("came back as user `{user}`, not `{expected}`");
                self.find(Kind::SessionLost, op, detail);
                return;
            }
        }
        let start = op.start_us;
        // Only an answer that started after an acknowledged write (increment) ended can show
        // it, and be judged on it.
        let after = |end: Option<u64>| end.is_some_and(|end| start > end);
        self.fed.write_shown |= view.attrs.is_some() && after(self.first_write_end);
        self.fed.counter_shown |= view.counter.is_some() && after(self.first_increment_end);
        let mut stale = Vec::new();
        if let Some(attrs) = &view.attrs {
            let answer = Seen {
                start,
                end: op.end_us,
                write: None,
                node: op.node.clone(),
            };
            stale = self.memory.read(attrs, answer);
            let broken = self.memory.write_order(attrs);
            if !broken.is_empty() {
                self.find(Kind::MonotonicWrite, op, broken.join("; "));
            }
        }
        // What increments acknowledged before this request started showed (asked only of an
        // answer that shows the counter: where only the login shows it, nothing settles).
        let acked_counter = view.counter.map_or(0, |_| self.memory.acked_counter(start));
        let counter_behind = view.counter.filter(|c| *c < acked_counter);
        if let Some(counter) = counter_behind {
            stale.push(format!(
                "counter is {counter}, below the acknowledged {acked_counter}"
            ));
        }
        if let Some(counter) = view.counter {
            self.memory.counter(Shown {
                start,
                end: op.end_us,
                counter,
                node: op.node.clone(),
            });
        }
        if !stale.is_empty() {
            self.find(Kind::StaleRead, op, stale.join("; "));
        }
        if let Some(version) = order(view) {
            let what = if view.version.is_some() {
                "version"
            } else {
                "counter"
            };
            // The highest shown by an answer that came before this request. A counter below
            // the acknowledged one is already a stale read.
            let went_back = self
                .memory
                .order_before(start)
                .filter(|(seen, _)| version < *seen)
                .filter(|_| !(counter_behind.is_some() && view.version.is_none()))
                .map(|(seen, at)| {
                    format!("{what} {version} after {what} {seen} was seen{}", on(at))
                });
            if let Some(detail) = went_back {
                self.find(Kind::MonotonicRead, op, detail);
            }
            self.memory.order(op.end_us, version, op.node.clone());
        }
        self.last_node.clone_from(&op.node);
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

/// ` on node2`, or nothing where the answer did not say which node served it.
pub(crate) fn on(node: Option<&str>) -> String {
    node.map_or(String::new(), |n| format!(" on {n}"))
}

fn secs(us: u64) -> String {
    format!("{:.2} s", us as f64 / 1e6)
}

/// What orders a session's states: its version, or else its counter (which only goes up).
fn order(view: &View) -> Option<u64> {
    view.version.or(view.counter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::NO_SESSION;

    /// A tiny history builder: each call appends one operation, 1 ms apart.
    struct H(Vec<Op>);

    impl H {
        fn new() -> Self {
            Self(Vec::new())
        }

        fn op(mut self, kind: OpKind, outcome: Outcome, node: &str, view: Option<View>) -> Self {
            let t = self.0.len() as u64 * 1000;
            self.0.push(Op {
                target: "t".into(),
                session: "s".into(),
                kind,
                attr: None,
                write: None,
                intended_us: t,
                start_us: t,
                end_us: t + 500,
                status: Some(match outcome {
                    Outcome::Ok => 200,
                    Outcome::Fail => 401,
                    Outcome::Indeterminate => 504,
                }),
                node: Some(node.into()),
                outcome,
                error: (outcome == Outcome::Fail).then(|| NO_SESSION.to_string()),
                view,
                cookies_changed: false,
                location: None,
            });
            self
        }

        fn write(
            mut self,
            attr: &str,
            id: &str,
            outcome: Outcome,
            node: &str,
            view: Option<View>,
        ) -> Self {
            self = self.op(OpKind::Write, outcome, node, view);
            let last = self.0.last_mut().expect("just pushed");
            last.attr = Some(attr.into());
            last.write = Some(id.into());
            if outcome == Outcome::Indeterminate {
                last.error = Some("timeout".into());
            }
            self
        }

        fn check(&self) -> SessionCheck {
            check_session(&self.0.iter().collect::<Vec<_>>(), None)
        }

        fn kinds(&self) -> Vec<Kind> {
            self.check().findings.iter().map(|f| f.kind).collect()
        }
    }

    fn view(version: u64, counter: u64, attrs: &[(&str, &str)]) -> Option<View> {
        Some(View {
            user: Some("s".into()),
            counter: Some(counter),
            version: Some(version),
            attrs: Some(
                attrs
                    .iter()
                    .map(|(a, w)| (a.to_string(), w.to_string()))
                    .collect(),
            ),
        })
    }

    const OK: Outcome = Outcome::Ok;

    #[test]
    fn a_clean_session_passes() {
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .write("a", "w1", OK, "n1", view(2, 0, &[("a", "w1")]))
            .op(OpKind::Counter, OK, "n1", view(3, 1, &[("a", "w1")]))
            .op(OpKind::Read, OK, "n1", view(3, 1, &[("a", "w1")]))
            .op(OpKind::Logout, OK, "n1", None)
            .op(OpKind::Probe, Outcome::Fail, "n1", None);
        assert_eq!(h.kinds(), []);
        assert!(h.check().established);
    }

    #[test]
    fn a_401_after_login_is_a_lost_session_counted_once() {
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Read, Outcome::Fail, "n2", None)
            .op(OpKind::Read, Outcome::Fail, "n3", None);
        let c = h.check();
        assert_eq!(h.kinds(), [Kind::SessionLost]);
        assert_eq!(c.findings[0].nodes, ["n1", "n2"]);
        assert!(c.lost());
    }

    #[test]
    fn another_users_session_is_a_loss() {
        let mut other = view(2, 0, &[]);
        if let Some(v) = other.as_mut() {
            v.user = Some("intruder".into());
        }
        let h =
            H::new()
                .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
                .op(OpKind::Read, OK, "n2", other);
        assert_eq!(h.kinds(), [Kind::SessionLost]);
    }

    #[test]
    fn a_read_missing_an_acknowledged_write_is_stale() {
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .write("a", "w1", OK, "n1", view(2, 0, &[("a", "w1")]))
            .write("a", "w2", OK, "n1", view(3, 0, &[("a", "w2")]))
            .op(OpKind::Read, OK, "n2", view(3, 0, &[("a", "w1")]))
            .op(OpKind::Read, OK, "n2", view(3, 0, &[]))
            // Caught up: stale reads, not a lost update.
            .op(OpKind::Read, OK, "n1", view(3, 0, &[("a", "w2")]));
        assert_eq!(h.kinds(), [Kind::StaleRead, Kind::StaleRead]);
    }

    #[test]
    fn a_counter_below_its_acknowledged_value_is_stale() {
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Counter, OK, "n1", view(2, 1, &[]))
            .op(OpKind::Read, OK, "n2", view(2, 0, &[]))
            .op(OpKind::Read, OK, "n1", view(2, 1, &[]));
        assert_eq!(h.kinds(), [Kind::StaleRead]);
    }

    /// `kind` from `start` to `end` ms, answered by n1 with `view`; a write sets `write` on
    /// its attribute.
    fn at(kind: OpKind, (start, end): (u64, u64), outcome: Outcome, view: Option<View>) -> Op {
        let mut op = Op::test_read("s", (start * 1000, start * 1000, end * 1000), outcome);
        op.kind = kind;
        op.node = Some("n1".into());
        op.view = view;
        op
    }

    fn write_at(attr: &str, id: &str, times: (u64, u64), outcome: Outcome, v: Option<View>) -> Op {
        let mut op = at(OpKind::Write, times, outcome, v);
        op.attr = Some(attr.into());
        op.write = Some(id.into());
        op
    }

    /// Operations given in the order they ended.
    fn kinds_of(ops: &[Op]) -> Vec<(Kind, u64)> {
        check_session(&ops.iter().collect::<Vec<_>>(), None)
            .findings
            .iter()
            .map(|f| (f.kind, f.count))
            .collect()
    }

    #[test]
    fn a_write_undone_by_a_concurrent_whole_save_is_a_lost_update() {
        // b's request loaded the session before w1 was saved and wrote its copy back after:
        // `a` is gone for good.
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            write_at("a", "w1", (10, 20), OK, view(2, 0, &[("a", "w1")])),
            write_at("b", "w2", (12, 25), OK, view(2, 0, &[("b", "w2")])),
            at(OpKind::Read, (30, 31), OK, view(2, 0, &[("b", "w2")])),
            at(OpKind::Read, (40, 41), OK, view(2, 0, &[("b", "w2")])),
        ];
        let found = kinds_of(&ops);
        assert!(found.contains(&(Kind::LostUpdate, 1)), "{found:?}");
        let f = check_session(&ops.iter().collect::<Vec<_>>(), None).findings;
        let lost = f
            .iter()
            .find(|f| f.kind == Kind::LostUpdate)
            .expect("found");
        assert!(lost.detail.contains("write w1 to `a`"), "{}", lost.detail);
        assert_eq!(
            lost.at_us, 30_000,
            "named at the first answer that showed it undone"
        );
    }

    #[test]
    fn increments_a_later_counter_lacks_are_lost() {
        // Two increments that both loaded 0 and both saved 1.
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            at(OpKind::Counter, (10, 20), OK, view(2, 1, &[])),
            at(OpKind::Counter, (11, 21), OK, view(2, 1, &[])),
            at(OpKind::Read, (30, 31), OK, view(2, 1, &[])),
        ];
        assert_eq!(kinds_of(&ops), [(Kind::LostUpdate, 1)]);
        // Atomic in the store: the counter holds both.
        let mut ops = ops;
        ops[3] = at(OpKind::Read, (30, 31), OK, view(3, 2, &[]));
        assert_eq!(kinds_of(&ops), []);
    }

    #[test]
    fn a_timed_out_write_never_counts_as_lost() {
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            write_at("a", "w1", (10, 2010), Outcome::Indeterminate, None),
            at(OpKind::Read, (2020, 2021), OK, view(1, 0, &[])),
        ];
        assert_eq!(kinds_of(&ops), []);
        // One acknowledged, then one timed out that shows instead: it may have landed.
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            write_at("a", "w1", (10, 20), OK, view(2, 0, &[("a", "w1")])),
            write_at("a", "w2", (22, 2022), Outcome::Indeterminate, None),
            at(OpKind::Read, (2030, 2031), OK, view(3, 0, &[("a", "w2")])),
        ];
        assert_eq!(kinds_of(&ops), []);
    }

    #[test]
    fn concurrent_writes_may_land_in_either_order() {
        // w2 was acknowledged first, but the two overlapped: w1 may be the one that stays.
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            write_at("a", "w2", (12, 18), OK, view(2, 0, &[("a", "w2")])),
            write_at("a", "w1", (10, 20), OK, view(3, 0, &[("a", "w1")])),
            at(OpKind::Read, (30, 31), OK, view(3, 0, &[("a", "w1")])),
        ];
        assert_eq!(kinds_of(&ops), []);
        // A read may show a write still in flight (recorded only once it ends, after it).
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            write_at("a", "w1", (10, 20), OK, view(2, 0, &[("a", "w1")])),
            at(
                OpKind::Read,
                (30, 31),
                OK,
                view(3, 0, &[("a", "w2"), ("b", "w3")]),
            ),
            write_at("a", "w2", (25, 40), OK, view(3, 0, &[("a", "w2")])),
            write_at(
                "b",
                "w3",
                (26, 41),
                OK,
                view(3, 0, &[("a", "w2"), ("b", "w3")]),
            ),
        ];
        assert_eq!(kinds_of(&ops), []);
        // A read that overlapped a write may show the value before it.
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            write_at("a", "w1", (10, 20), OK, view(2, 0, &[("a", "w1")])),
            at(OpKind::Read, (15, 16), OK, view(1, 0, &[])),
            at(OpKind::Read, (30, 31), OK, view(2, 0, &[("a", "w1")])),
        ];
        assert_eq!(kinds_of(&ops), []);
    }

    #[test]
    fn a_later_write_shown_without_an_earlier_one_breaks_monotonic_writes() {
        let ops = [
            at(OpKind::Login, (0, 1), OK, view(1, 0, &[])),
            write_at("a", "w1", (10, 20), OK, view(2, 0, &[("a", "w1")])),
            write_at(
                "b",
                "w2",
                (30, 40),
                OK,
                view(3, 0, &[("a", "w1"), ("b", "w2")]),
            ),
            at(OpKind::Read, (50, 51), OK, view(3, 0, &[("b", "w2")])),
            at(
                OpKind::Read,
                (60, 61),
                OK,
                view(3, 0, &[("a", "w1"), ("b", "w2")]),
            ),
        ];
        let kinds: Vec<Kind> = kinds_of(&ops).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, [Kind::MonotonicWrite, Kind::StaleRead]);
    }

    #[test]
    fn a_version_going_back_breaks_monotonic_reads() {
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Read, OK, "n1", view(5, 0, &[]))
            .op(OpKind::Read, OK, "n2", view(4, 0, &[]));
        assert_eq!(h.kinds(), [Kind::MonotonicRead]);
    }

    #[test]
    fn a_session_served_after_logout_is_resurrected() {
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Logout, OK, "n1", None)
            .op(OpKind::Probe, OK, "n2", view(1, 0, &[]));
        assert_eq!(h.kinds(), [Kind::Resurrection]);
    }

    #[test]
    fn indeterminate_operations_never_cause_a_failure() {
        // A timed-out write may land late: a later read may show it instead of the last
        // acknowledged one.
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .write("a", "w1", OK, "n1", view(2, 0, &[("a", "w1")]))
            .write("a", "w2", Outcome::Indeterminate, "n1", None)
            .op(OpKind::Read, OK, "n1", view(3, 0, &[("a", "w2")]))
            .op(OpKind::Read, OK, "n1", view(3, 0, &[("a", "w2")]));
        assert_eq!(h.kinds(), []);
        // A logout that timed out may or may not have happened: neither a 401 afterwards nor
        // a later success is an anomaly.
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Logout, Outcome::Indeterminate, "n1", None)
            .op(OpKind::Read, Outcome::Fail, "n1", None);
        assert_eq!(h.kinds(), []);
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Logout, Outcome::Indeterminate, "n1", None)
            .op(OpKind::Probe, OK, "n1", view(1, 0, &[]));
        assert_eq!(h.kinds(), []);
        // Indeterminate increments can only raise the counter and the version.
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Counter, Outcome::Indeterminate, "n1", None)
            .op(OpKind::Read, OK, "n1", view(2, 1, &[]));
        assert_eq!(h.kinds(), []);
    }

    #[test]
    fn a_failed_login_establishes_nothing() {
        let h = H::new().op(OpKind::Login, Outcome::Fail, "n1", None).op(
            OpKind::Read,
            Outcome::Fail,
            "n1",
            None,
        );
        assert_eq!(h.kinds(), []);
        assert!(!h.check().established);
    }

    /// What an application's API shows: only the parts its templates read.
    fn shown(counter: Option<u64>, value: Option<Option<&str>>) -> Option<View> {
        Some(View {
            user: None,
            counter,
            version: None,
            attrs: value.map(|v| {
                v.map(|w| ("value".to_string(), w.to_string()))
                    .into_iter()
                    .collect()
            }),
        })
    }

    #[test]
    fn partial_views_are_judged_on_what_they_show() {
        // A login whose answer shows nothing still establishes the session; a write whose
        // answer shows nothing is still acknowledged.
        let h = H::new()
            .op(OpKind::Login, OK, "n1", None)
            .write("value", "w1", OK, "n1", None)
            .op(OpKind::Read, OK, "n2", shown(None, Some(None)))
            .op(OpKind::Read, OK, "n2", shown(None, Some(Some("w1"))));
        assert!(h.check().established);
        assert_eq!(h.kinds(), [Kind::StaleRead]);
        // Without a version, a counter going back is a monotonic-read violation; below the
        // acknowledged counter it is a stale read, reported once. The session's last answer
        // lacks the acknowledged increment: it is lost (one, the most the session made),
        // though the login showed no counter to count from.
        let h = H::new()
            .op(OpKind::Login, OK, "n1", None)
            .op(OpKind::Read, OK, "n1", shown(Some(5), None))
            .op(OpKind::Read, OK, "n2", shown(Some(4), None))
            .op(OpKind::Counter, OK, "n2", shown(Some(6), None))
            .op(OpKind::Read, OK, "n3", shown(Some(2), None));
        assert_eq!(
            h.kinds(),
            [Kind::MonotonicRead, Kind::StaleRead, Kind::LostUpdate]
        );
        let lost: Vec<u64> = h.check().findings.iter().map(|f| f.count).collect();
        assert_eq!(lost, [1, 1, 1]);
        // A stale value does not hide a counter going back (above the acknowledged one).
        let h = H::new()
            .op(OpKind::Login, OK, "n1", None)
            .write("value", "w1", OK, "n1", None)
            .op(OpKind::Read, OK, "n1", shown(Some(3), Some(Some("w1"))))
            .op(OpKind::Read, OK, "n2", shown(Some(2), Some(None)));
        assert_eq!(h.kinds(), [Kind::StaleRead, Kind::MonotonicRead]);
        // Answers that show neither value nor counter judge nothing but loss.
        let h = H::new()
            .op(OpKind::Login, OK, "n1", None)
            .write("value", "w1", OK, "n1", None)
            .op(OpKind::Read, OK, "n2", shown(None, None))
            .op(OpKind::Read, Outcome::Fail, "n2", None);
        assert_eq!(h.kinds(), [Kind::SessionLost]);
    }

    /// A session used every `gap` ms for `n` operations, then a read `idle` ms after the
    /// last, answered `outcome`; idle limit 3 s.
    fn idle_then(gap: u64, n: u64, idle: u64, outcome: Outcome) -> Vec<Kind> {
        let mut ops = Vec::new();
        let mut t = 0;
        for i in 0..=n {
            let mut op = Op::test_read("s", (t, t, t + 1000), OK);
            if i == 0 {
                op.kind = OpKind::Login;
            }
            ops.push(op);
            t += gap * 1000;
        }
        t = ops.last().map_or(0, |o| o.end_us) + idle * 1000;
        let mut last = Op::test_read("s", (t, t, t + 1000), outcome);
        if outcome == Outcome::Fail {
            last.status = Some(401);
            last.error = Some(NO_SESSION.into());
        }
        ops.push(last);
        let refs: Vec<&Op> = ops.iter().collect();
        check_session(&refs, Some(Duration::from_secs(3)))
            .findings
            .iter()
            .map(|f| f.kind)
            .collect()
    }

    #[test]
    fn idle_expiry_is_judged_against_the_limit() {
        // Gone after 4 s idle: expired, as it should.
        assert_eq!(idle_then(100, 5, 4_000, Outcome::Fail), []);
        // Gone after 1 s idle, having lived 5 s: expired by age (a TTL not renewed).
        assert_eq!(
            idle_then(100, 40, 1_000, Outcome::Fail),
            [Kind::ExpiredEarly]
        );
        // Gone after 1 s idle at 1.5 s of age: a plain loss.
        assert_eq!(idle_then(100, 5, 1_000, Outcome::Fail), [Kind::SessionLost]);
        // Served after 5 s idle: outlived its limit; after 3.5 s, within the grace.
        assert_eq!(idle_then(100, 5, 5_000, OK), [Kind::Outlived]);
        assert_eq!(idle_then(100, 5, 3_500, OK), []);
        // Without a known limit, a loss is a loss and nothing outlives anything.
        let mut ops = vec![Op::test_read("s", (0, 0, 1000), OK)];
        ops[0].kind = OpKind::Login;
        let mut gone = Op::test_read("s", (9_000_000, 9_000_000, 9_001_000), Outcome::Fail);
        gone.error = Some(NO_SESSION.into());
        ops.push(gone);
        let refs: Vec<&Op> = ops.iter().collect();
        let kinds: Vec<Kind> = check_session(&refs, None)
            .findings
            .iter()
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, [Kind::SessionLost]);
    }
}
