//! The bounded memory holds to the straightforward one: on random sessions (a page's
//! parallel requests, timeouts, answers from replicas behind, writes and increments undone,
//! lost sessions, logouts) both find the same, word for word, and feed the same checks; and
//! on a long session the bounded one holds only what is unsettled.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::naive::Naive;
use super::{Bounded, Checker, Memory, SessionCheck};
use crate::history::{NO_SESSION, Op, OpKind, Outcome, View};

const ATTRS: [&str; 3] = ["a", "b", "c"];

/// What the stack holds, as a store whose copies lag would show it: every state it went
/// through, each at the moment it was made.
struct Stack {
    states: Vec<(u64, BTreeMap<String, String>, u64)>,
}

impl Stack {
    /// A state made by `at`, `behind` states before the latest one made by then.
    fn seen(&self, at: u64, behind: usize) -> &(u64, BTreeMap<String, String>, u64) {
        let made = self.states.partition_point(|s| s.0 <= at).max(1);
        &self.states[made - 1 - behind.min(made - 1)]
    }
}

/// A random session of up to `steps` steps (fewer if it logs out, with `logouts`), its
/// operations in the order they ended.
fn session(seed: u64, steps: usize, logouts: bool) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stack = Stack {
        states: vec![(0, BTreeMap::new(), rng.random_range(0..3))],
    };
    // Every answer shows the counter, none does, or only the login's.
    let counter_shown = rng.random_range(0..5);
    let shows_counter = counter_shown > 0;
    let shows_version = rng.random_bool(0.5);
    let mut ops = Vec::new();
    let mut t = 0;
    // When the step is due: with think time, a schedule that may have fallen behind (the
    // step starts once the previous one ended, later than due).
    let mut due = 0;
    let mut k = 0;
    let mut version: u64 = 1;
    let login = op(OpKind::Login, (t, t, t + 3), Outcome::Ok, None);
    ops.push(with_view(
        login,
        &stack.states[0],
        1,
        (shows_counter, shows_version),
    ));
    t += 4;
    let shows_counter = counter_shown > 1;
    'steps: for _ in 0..steps {
        due = t.saturating_sub(rng.random_range(0..6)).max(due);
        let parallel = if rng.random_bool(0.3) {
            rng.random_range(2..=3)
        } else {
            1
        };
        let mut step = Vec::new();
        for _ in 0..parallel {
            k += 1;
            let start = t + rng.random_range(0..3);
            let len = if rng.random_bool(0.05) {
                rng.random_range(20..80)
            } else {
                rng.random_range(0..12)
            };
            let end = start + len;
            let outcome = match rng.random_range(0..200) {
                0..8 => Outcome::Indeterminate,
                8..10 => Outcome::Fail,
                _ => Outcome::Ok,
            };
            let kind = match rng.random_range(0..100) {
                0..40 => OpKind::Read,
                40..70 => OpKind::Write,
                70..95 => OpKind::Counter,
                95..98 if parallel == 1 && logouts => OpKind::Logout,
                _ => OpKind::FinalRead,
            };
            let mut o = op(kind, (due, start, end), outcome, None);
            if outcome == Outcome::Fail && rng.random_bool(0.7) {
                o.error = Some(NO_SESSION.into());
                o.status = Some(401);
            }
            // What it changes, when (an increment or a write that is not applied is lost,
            // one of unknown outcome may land after its end).
            let applied = outcome == Outcome::Ok || rng.random_bool(0.5);
            let at = if outcome == Outcome::Indeterminate {
                start + rng.random_range(0..len + 30)
            } else {
                start + rng.random_range(0..=len)
            };
            let base = stack.seen(at, rng.random_range(0..2)).clone();
            if kind == OpKind::Write {
                let attr = ATTRS[rng.random_range(0..ATTRS.len())];
                o.attr = Some(attr.into());
                o.write = Some(format!("s:{k}"));
            }
            let lost = rng.random_bool(0.1);
            if applied && matches!(kind, OpKind::Write | OpKind::Counter) && !lost {
                let (_, mut attrs, mut counter) = base;
                if let (Some(attr), Some(id)) = (&o.attr, &o.write) {
                    attrs.insert(attr.clone(), id.clone());
                } else {
                    counter += 1;
                }
                let at_most = stack.states.last().map_or(0, |s| s.0);
                let made = at.max(at_most);
                stack.states.push((made, attrs, counter));
            }
            step.push((o, at));
        }
        let mut step_end = t;
        for (mut o, at) in step {
            step_end = step_end.max(o.end_us);
            if o.outcome == Outcome::Ok && o.kind != OpKind::Logout && rng.random_bool(0.9) {
                version += 1;
                let shown_at = if o.kind == OpKind::Read { o.end_us } else { at };
                let state = stack.seen(shown_at, rng.random_range(0..3)).clone();
                let v = if rng.random_bool(0.1) {
                    version.saturating_sub(3)
                } else {
                    version
                };
                o = with_view(o, &state, v, (shows_counter, shows_version));
                if rng.random_bool(0.003) {
                    if let Some(view) = o.view.as_mut() {
                        view.user = Some("intruder".into());
                    }
                }
            }
            let logout = o.kind == OpKind::Logout && o.outcome == Outcome::Ok;
            ops.push(o);
            if logout {
                let probe_at = step_end + 1;
                let outcome = if rng.random_bool(0.2) {
                    Outcome::Ok
                } else {
                    Outcome::Fail
                };
                ops.push(op(
                    OpKind::Probe,
                    (probe_at, probe_at, probe_at + 2),
                    outcome,
                    None,
                ));
                break 'steps;
            }
        }
        t = step_end + rng.random_range(0..4);
    }
    ops.sort_by_key(|o| o.end_us);
    ops
}

fn op(
    kind: OpKind,
    (intended_us, start_us, end_us): (u64, u64, u64),
    outcome: Outcome,
    view: Option<View>,
) -> Op {
    let mut o = crate::history::test_read("s", (intended_us, start_us, end_us), outcome);
    o.kind = kind;
    o.view = view;
    o.node = Some(format!("n{}", start_us % 3));
    o
}

fn with_view(
    mut o: Op,
    (_, attrs, counter): &(u64, BTreeMap<String, String>, u64),
    version: u64,
    (counter_shown, version_shown): (bool, bool),
) -> Op {
    o.view = Some(View {
        user: Some("s".into()),
        counter: counter_shown.then_some(*counter),
        version: version_shown.then_some(version),
        attrs: Some(attrs.clone()),
    });
    o
}

/// What a checker with memory `M` finds in `ops`, and what they fed it.
fn check<M: Memory>(ops: &[Op]) -> (SessionCheck, super::Fed, Checker<M>) {
    let mut c = Checker::<M>::new(None);
    for o in ops {
        c.step(o);
    }
    c.finish();
    let fed = c.fed();
    let check = SessionCheck {
        established: c.established,
        findings: std::mem::take(&mut c.findings),
    };
    (check, fed, c)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn the_bounded_memory_finds_what_the_straightforward_one_finds(seed in any::<u64>(), steps in 1usize..60) {
        let ops = session(seed, steps, true);
        let (bounded, bounded_fed, c) = check::<Bounded>(&ops);
        let (naive, naive_fed, _) = check::<Naive>(&ops);
        prop_assert_eq!(c.unordered(), 0);
        prop_assert_eq!(&bounded, &naive, "seed {} steps {}: {:#?}", seed, steps, ops);
        prop_assert_eq!(bounded_fed, naive_fed, "seed {} steps {}", seed, steps);
    }
}

#[test]
fn random_sessions_settle_as_they_go() {
    // The bounded memory holds to the straightforward one on histories it summarises: what is
    // left unsettled at the end of a long session is a few steps' worth, not the session.
    let shows = |o: &Op| o.view.as_ref().is_some_and(|v| v.counter.is_some());
    let mut long = 0;
    for seed in 0..300 {
        let ops = session(seed, 120, false);
        // Where only the login shows the counter, the last answer that shows it may be the
        // login, and what came after it never settles (it matters to no rule).
        if ops.len() < 120 || (shows(&ops[0]) && !ops[1..].iter().any(shows)) {
            continue;
        }
        long += 1;
        let mut c = Checker::<Bounded>::new(None);
        for o in &ops {
            c.step(o);
        }
        let held = c.memory.unsettled();
        assert!(held <= 60, "seed {seed}: {held} of {} unsettled", ops.len());
    }
    assert!(long >= 50, "{long} long sessions");
}

#[test]
fn the_histories_hold_what_each_rule_judges() {
    // Random sessions that never find anything would hold the memories to nothing.
    let mut kinds = std::collections::BTreeSet::new();
    let (mut writes_undone, mut increments_lost) = (0, 0);
    for seed in 0..400 {
        for f in check::<Naive>(&session(seed, 40, true)).0.findings {
            kinds.insert(f.kind);
            writes_undone += usize::from(f.detail.contains("acknowledged and then undone"));
            increments_lost += usize::from(f.detail.contains("at the session's last answer"));
        }
    }
    assert!(
        writes_undone > 10 && increments_lost > 10,
        "{writes_undone} {increments_lost}"
    );
    use super::Kind::*;
    for kind in [
        SessionLost,
        StaleRead,
        MonotonicRead,
        Resurrection,
        LostUpdate,
        MonotonicWrite,
    ] {
        assert!(
            kinds.contains(&kind),
            "no history found {kind:?}: {kinds:?}"
        );
    }
}

#[test]
fn a_long_session_holds_only_what_is_unsettled() {
    // Parallel requests, writes, increments, orders: 20,000 steps, none lost.
    let mut ops = Vec::new();
    let mut t = 0;
    let login = op(OpKind::Login, (0, 0, 1), Outcome::Ok, None);
    ops.push(with_view(login, &(0, BTreeMap::new(), 0), 1, (true, true)));
    let mut state = BTreeMap::new();
    for k in 0..20_000u64 {
        t += 10;
        let attr = ATTRS[(k % 3) as usize];
        let mut w = op(OpKind::Write, (t, t, t + 4), Outcome::Ok, None);
        w.attr = Some(attr.into());
        w.write = Some(format!("s:{k}"));
        state.insert(attr.to_string(), format!("s:{k}"));
        let shown = (0, state.clone(), k);
        ops.push(with_view(w, &shown, 2 * k + 2, (true, true)));
        let c = op(OpKind::Counter, (t, t + 1, t + 5), Outcome::Ok, None);
        ops.push(with_view(
            c,
            &(0, state.clone(), k + 1),
            2 * k + 3,
            (true, true),
        ));
    }
    let mut c = Checker::<Bounded>::new(None);
    let mut most = 0;
    for o in &ops {
        c.step(o);
        most = most.max(c.memory.unsettled());
    }
    assert!(most <= 40, "held {most} unsettled records");
    c.finish();
    assert_eq!(c.findings, []);
}

#[test]
fn operations_out_of_order_are_counted() {
    let login = op(OpKind::Login, (0, 0, 1), Outcome::Ok, None);
    let late = op(OpKind::Read, (10, 10, 20), Outcome::Ok, None);
    // Ended before the one given before it, and started before it was due.
    let early = op(OpKind::Read, (5, 5, 15), Outcome::Ok, None);
    let mut c = Checker::<Bounded>::new(None);
    for o in [&login, &late] {
        c.step(o);
    }
    assert_eq!(c.unordered(), 0);
    c.step(&early);
    assert_eq!(c.unordered(), 1);
    assert!(c.fed().unordered);
}
