//! A target's verdict: its expectations judged against the sessions' counts, and whether the
//! run could be judged at all (the load ran to its end, every fault applied, a session was
//! established).

use sessionbench_model::results::{ExpectationResult, FaultWindow, Sessions, Verdict};

use super::known::Explained;
use crate::checkers::Kind;
use sessionbench_model::plan::{KnownLoss, LossExpectation, TargetPlan};

/// The checks a target's answers cannot support: an application's API whose reads show no
/// value or counter cannot show a stale read.
pub(super) fn unchecked(t: &TargetPlan) -> Vec<Kind> {
    let Some(api) = t.external.as_ref().and_then(|e| e.api.as_ref()) else {
        return Vec::new();
    };
    let mut kinds = Vec::new();
    if !api.shows_state() {
        kinds.push(Kind::StaleRead);
    }
    if !api.shows_order() {
        kinds.push(Kind::MonotonicRead);
    }
    kinds
}

/// `unchecked`: the checks the target cannot support, whose bounds are not judged. `share`:
/// the counts are one shard's share of a run loaded from many processes, where a negative
/// control ("some") is left to the merged run: the whole may lose sessions where this share
/// lost none (its users may all have been on nodes that lived). Bounds from above hold for a
/// share as for the whole: what a share lost, the whole lost.
pub(super) fn expectations(
    t: &TargetPlan,
    s: &Sessions,
    unchecked: &[Kind],
    share: bool,
) -> Vec<ExpectationResult> {
    let e = &t.expect;
    let mut out = Vec::new();
    let mut push = |name: &str, expected: String, actual: String, passed: bool| {
        out.push(ExpectationResult::new(name, expected, actual, passed));
    };
    let mut loss = |name: &str, expect: LossExpectation, measured: u64| {
        if let Some((expected, passed)) = loss_bound(expect, measured, share) {
            push(name, expected.into(), measured.to_string(), passed);
        }
    };
    // With known losses, "none" is judged on the losses they do not explain (theirs are
    // judged by their own bounds).
    let beyond_known = !e.known_losses.is_empty() && e.sessions_lost == LossExpectation::None;
    let lost = if beyond_known {
        s.lost.saturating_sub(s.lost_known)
    } else {
        s.lost
    };
    loss("sessions-lost", e.sessions_lost, lost);
    if !unchecked.contains(&Kind::StaleRead) {
        loss("lost-updates", e.lost_updates, s.lost_updates);
    }
    if let Some(max) = e.max_sessions_lost_percent {
        let pct = if s.started == 0 {
            0.0
        } else {
            s.lost as f64 * 100.0 / s.started as f64
        };
        push(
            "sessions-lost-percent",
            format!("<= {max}"),
            format!("{pct:.1}"),
            pct <= max,
        );
    }
    if !unchecked.contains(&Kind::StaleRead) {
        push(
            "stale-reads",
            format!("<= {}", e.max_stale_reads),
            s.stale_reads.to_string(),
            s.stale_reads <= e.max_stale_reads,
        );
    }
    if !unchecked.contains(&Kind::MonotonicRead) {
        push(
            "monotonic-violations",
            format!("<= {}", e.max_monotonic_violations),
            s.monotonic_violations.to_string(),
            s.monotonic_violations <= e.max_monotonic_violations,
        );
    }
    push(
        "resurrections",
        format!("<= {}", e.max_resurrections),
        s.resurrections.to_string(),
        s.resurrections <= e.max_resurrections,
    );
    if !unchecked.contains(&Kind::StaleRead) {
        if let Some(max) = e.max_lost_updates {
            push(
                "max-lost-updates",
                format!("<= {max}"),
                s.lost_updates.to_string(),
                s.lost_updates <= max,
            );
        }
        push(
            "monotonic-writes",
            format!("<= {}", e.max_monotonic_writes),
            s.monotonic_writes.to_string(),
            s.monotonic_writes <= e.max_monotonic_writes,
        );
    }
    if beyond_known {
        if let Some(r) = out.iter_mut().find(|r| r.name == "sessions-lost") {
            r.expected = format!("none beyond the known losses ({} known)", s.lost_known);
        }
    }
    out
}

/// Each known loss's bound: the most sessions any one fault of its kind cost within its
/// window. A known loss whose fault never happened is met (it lost nothing).
pub(super) fn known_losses(known: &[KnownLoss], explained: &Explained) -> Vec<ExpectationResult> {
    known
        .iter()
        .zip(&explained.per_fault)
        .map(|(k, per_fault)| {
            let worst = per_fault.iter().copied().max().unwrap_or(0);
            let actual = if per_fault.is_empty() {
                format!("0 (no {})", k.after)
            } else {
                let each: Vec<String> = per_fault.iter().map(u64::to_string).collect();
                format!("{worst} (by {}: {})", k.after, each.join(", "))
            };
            ExpectationResult::new(
                &format!("known-loss-after-{}", k.after),
                format!(
                    "<= {} per {}, within {} ms of its {}: {}",
                    k.max_sessions,
                    k.after,
                    k.within.as_millis(),
                    if k.from_end { "end" } else { "start" },
                    k.cause
                ),
                actual,
                worst <= k.max_sessions,
            )
        })
        .collect()
}

/// "none", "some" (a negative control) or "any" (measured, not judged: `None`), as the
/// expectation's text and whether `measured` meets it.
fn loss_bound(expect: LossExpectation, measured: u64, share: bool) -> Option<(&'static str, bool)> {
    match expect {
        LossExpectation::None => Some(("none", measured == 0)),
        LossExpectation::Some if share => Some(("some (judged on the merged run)", true)),
        LossExpectation::Some => Some(("some (negative control)", measured > 0)),
        LossExpectation::Any => None,
    }
}

/// Pass, fail or unknown, with every reason that is not a pass.
pub(super) fn judge(
    expectations: &[ExpectationResult],
    unjudged: &[String],
    interrupted: bool,
    started: bool,
    faults: &[FaultWindow],
    counts: &Sessions,
) -> (Verdict, Vec<String>) {
    // A target that never ran (a run interrupted before it) measured nothing: its
    // expectations are not failed, they are unknown.
    if !started {
        return (Verdict::Unknown, vec!["the target never started".into()]);
    }
    let mut reasons: Vec<String> = expectations
        .iter()
        .filter(|e| !e.passed)
        .map(|e| format!("expected {} {}, measured {}", e.name, e.expected, e.actual))
        .collect();
    let mut verdict = if reasons.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    // An expectation met only because its check never ran is no pass.
    if !unjudged.is_empty() {
        if verdict == Verdict::Pass {
            verdict = Verdict::Unknown;
        }
        reasons.extend(unjudged.iter().cloned());
    }
    if verdict == Verdict::Pass && interrupted {
        verdict = Verdict::Unknown;
        reasons.push("the load was interrupted: the history is incomplete".into());
    }
    // A fault that could not be applied leaves the run untested against it: no pass.
    for w in faults.iter().filter(|w| w.failed && !w.may_fail) {
        if verdict == Verdict::Pass {
            verdict = Verdict::Unknown;
        }
        reasons.push(format!(
            "{} could not be applied ({}): the run did not test what the suite asked \
             (`may-fail = true` on the fault accepts that)",
            w.label(),
            w.detail.as_deref().unwrap_or("no detail")
        ));
    }
    if verdict == Verdict::Pass && counts.started == 0 {
        verdict = Verdict::Unknown;
        reasons.push("no session was established, so nothing could be checked".into());
    }
    (verdict, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missed() -> ExpectationResult {
        ExpectationResult {
            name: "sessions-lost".into(),
            expected: "some (negative control)".into(),
            actual: "0".into(),
            passed: false,
            unsure: false,
        }
    }

    #[test]
    fn known_losses_are_judged_by_their_bounds_and_every_other_loss_fails() {
        use std::time::Duration;

        use sessionbench_model::plan::KnownLoss;
        let known = [KnownLoss {
            after: "kill".into(),
            from_end: false,
            within: Duration::from_secs(1),
            max_sessions: 2,
            cause: "a race".into(),
        }];
        let judged = |per_fault: Vec<u64>| {
            let explained = Explained {
                sessions: per_fault.iter().sum(),
                per_fault: vec![per_fault],
            };
            known_losses(&known, &explained)
        };
        let within = judged(vec![2, 0]);
        assert_eq!(within[0].name, "known-loss-after-kill");
        assert!(within[0].passed, "{within:?}");
        assert_eq!(within[0].actual, "2 (by kill: 2, 0)");
        // One kill past the bound fails, whatever the others did.
        assert!(!judged(vec![0, 3])[0].passed);
        // No kill happened: nothing was lost to it.
        let none = judged(vec![]);
        assert!(
            none[0].passed && none[0].actual == "0 (no kill)",
            "{none:?}"
        );
    }

    #[test]
    fn a_target_that_never_started_is_unknown_not_failed() {
        let (verdict, reasons) = judge(&[missed()], &[], true, false, &[], &Sessions::default());
        assert_eq!(verdict, Verdict::Unknown);
        assert_eq!(reasons, ["the target never started"]);
        // Once it ran, a missed expectation fails it.
        let (verdict, _) = judge(&[missed()], &[], false, true, &[], &Sessions::default());
        assert_eq!(verdict, Verdict::Fail);
    }

    #[test]
    fn a_shard_leaves_a_negative_control_to_the_merge_but_not_a_bound() {
        use LossExpectation::{Any, None, Some as Lost};
        assert_eq!(
            loss_bound(Lost, 0, false),
            Some(("some (negative control)", false))
        );
        assert_eq!(
            loss_bound(Lost, 2, false),
            Some(("some (negative control)", true))
        );
        // Its users may all have been on nodes that lived: the whole may still lose some.
        assert_eq!(
            loss_bound(Lost, 0, true),
            Some(("some (judged on the merged run)", true))
        );
        // What a share lost, the whole lost.
        assert_eq!(loss_bound(None, 1, true), Some(("none", false)));
        assert_eq!(loss_bound(None, 0, true), Some(("none", true)));
        assert_eq!(loss_bound(Any, 5, false), Option::None);
    }
}
