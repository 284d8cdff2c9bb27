//! Continuity checks over one session's history: session lost, read-your-writes (stale read),
//! monotonic reads, and resurrection after logout.
//!
//! The rule that keeps them honest: an indeterminate operation (timeout, broken connection)
//! may or may not have been applied, at any later time, so it only ever widens what a later
//! read may show. It never produces a failure itself.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{Op, OpKind, Outcome, View};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    SessionLost,
    StaleRead,
    MonotonicRead,
    Resurrection,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::SessionLost => "session-lost",
            Self::StaleRead => "stale-read",
            Self::MonotonicRead => "monotonic-read",
            Self::Resurrection => "resurrection",
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
        self.findings.iter().any(|f| f.kind == Kind::SessionLost)
    }
}

/// Checks one session's operations, given in the order they were made (a session's
/// operations never overlap: one virtual user makes them one after another).
pub fn check_session(ops: &[&Op]) -> SessionCheck {
    let mut c = Checker::default();
    for op in ops {
        c.step(op);
    }
    SessionCheck {
        established: c.established,
        findings: c.findings,
    }
}

#[derive(Default)]
struct Checker {
    /// A login succeeded.
    established: bool,
    /// Who the login showed, if its answer shows users.
    user: Option<String>,
    last_node: Option<String>,
    /// Per attribute: the last acknowledged write.
    acked: BTreeMap<String, String>,
    /// Per attribute: every write whose outcome is unknown (it may land at any time).
    maybe: BTreeMap<String, BTreeSet<String>>,
    acked_counter: u64,
    /// The highest version seen, and where; the counter stands in for a version where
    /// answers show no version (it only goes up).
    seen_version: Option<(u64, Option<String>)>,
    logged_out: bool,
    logout_unknown: bool,
    lost: bool,
    findings: Vec<Finding>,
}

impl Checker {
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
        });
    }

    fn step(&mut self, op: &Op) {
        if op.kind == OpKind::Login {
            if op.outcome == Outcome::Ok {
                self.established = true;
                if let Some(view) = &op.view {
                    self.user.clone_from(&view.user);
                    self.seen_version = order(view).map(|v| (v, op.node.clone()));
                }
                self.last_node = op.node.clone();
            }
            return;
        }
        if !self.established || self.lost {
            return;
        }
        if self.logged_out || op.kind == OpKind::Probe {
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
                if let (OpKind::Write, Some(attr), Some(write)) = (op.kind, &op.attr, &op.write) {
                    self.maybe
                        .entry(attr.clone())
                        .or_default()
                        .insert(write.clone());
                }
            }
            Outcome::Fail => {
                if op.no_session() && !self.logout_unknown {
                    self.lost = true;
                    let node = op.node.as_deref().unwrap_or("?");
                    let last = self.last_node.as_deref().unwrap_or("?");
                    self.find(
                        Kind::SessionLost,
                        op,
                        format!(
                            "{:?} answered {} no-session on {node}; last served by {last}",
                            op.kind,
                            op.status.map_or("?".into(), |s| s.to_string())
                        ),
                    );
                }
            }
            Outcome::Ok if op.kind == OpKind::Logout => self.logged_out = true,
            Outcome::Ok => {
                // Acknowledged, whether or not its answer shows the session.
                if let (OpKind::Write, Some(attr), Some(write)) = (op.kind, &op.attr, &op.write) {
                    self.acked.insert(attr.clone(), write.clone());
                }
                self.check_view(op);
            }
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
        if let (OpKind::Counter, Some(counter)) = (op.kind, view.counter) {
            self.acked_counter = self.acked_counter.max(counter);
        }
        let mut stale = Vec::new();
        if let Some(attrs) = &view.attrs {
            for (attr, acked) in &self.acked {
                let maybe = self.maybe.get(attr);
                match attrs.get(attr) {
                    Some(seen) if seen == acked || maybe.is_some_and(|m| m.contains(seen)) => {}
                    Some(seen) => stale.push(format!(
                        "`{attr}` shows write {seen}, not the acknowledged {acked}"
                    )),
                    None => stale.push(format!(
                        "`{attr}` is missing; write {acked} was acknowledged"
                    )),
                }
            }
        }
        let counter_behind = view.counter.filter(|c| *c < self.acked_counter);
        if let Some(counter) = counter_behind {
            stale.push(format!(
                "counter is {counter}, below the acknowledged {}",
                self.acked_counter
            ));
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
            if let Some((seen, at)) = &self.seen_version {
                // A counter below the acknowledged one is already a stale read.
                if version < *seen && !(counter_behind.is_some() && view.version.is_none()) {
                    let at = at.as_deref().unwrap_or("?").to_string();
                    let seen = *seen;
                    self.find(
                        Kind::MonotonicRead,
                        op,
                        format!("{what} {version} after {what} {seen} was seen on {at}"),
                    );
                }
            }
            if self.seen_version.as_ref().is_none_or(|(v, _)| version > *v) {
                self.seen_version = Some((version, op.node.clone()));
            }
        }
        self.last_node.clone_from(&op.node);
    }
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
            check_session(&self.0.iter().collect::<Vec<_>>())
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
            .op(OpKind::Read, OK, "n2", view(3, 0, &[]));
        assert_eq!(h.kinds(), [Kind::StaleRead, Kind::StaleRead]);
    }

    #[test]
    fn a_counter_below_its_acknowledged_value_is_stale() {
        let h = H::new()
            .op(OpKind::Login, OK, "n1", view(1, 0, &[]))
            .op(OpKind::Counter, OK, "n1", view(2, 1, &[]))
            .op(OpKind::Read, OK, "n2", view(2, 0, &[]));
        assert_eq!(h.kinds(), [Kind::StaleRead]);
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
        // acknowledged counter it is a stale read, reported once.
        let h = H::new()
            .op(OpKind::Login, OK, "n1", None)
            .op(OpKind::Read, OK, "n1", shown(Some(5), None))
            .op(OpKind::Read, OK, "n2", shown(Some(4), None))
            .op(OpKind::Counter, OK, "n2", shown(Some(6), None))
            .op(OpKind::Read, OK, "n3", shown(Some(2), None));
        assert_eq!(h.kinds(), [Kind::MonotonicRead, Kind::StaleRead]);
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
}
