//! The checks on small hand-made histories.

use std::time::Duration;

use super::*;
use crate::history::{NO_SESSION, Op, OpKind, Outcome, View};

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
    let h = H::new()
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
    let mut op = crate::history::test_read("s", (start * 1000, start * 1000, end * 1000), outcome);
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
        let mut op = crate::history::test_read("s", (t, t, t + 1000), OK);
        if i == 0 {
            op.kind = OpKind::Login;
        }
        ops.push(op);
        t += gap * 1000;
    }
    t = ops.last().map_or(0, |o| o.end_us) + idle * 1000;
    let mut last = crate::history::test_read("s", (t, t, t + 1000), outcome);
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
    let mut ops = vec![crate::history::test_read("s", (0, 0, 1000), OK)];
    ops[0].kind = OpKind::Login;
    let mut gone = crate::history::test_read("s", (9_000_000, 9_000_000, 9_001_000), Outcome::Fail);
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
