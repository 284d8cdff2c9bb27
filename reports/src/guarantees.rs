//! The session guarantees a run judged (Terry et al., "Session Guarantees for Weakly
//! Consistent Replicated Data", 1994), with a lost session and a lost update beside them:
//! each finding kind maps to the guarantee it breaks, and a guarantee whose check no answer
//! fed is "not judged", never held.

use sessionbench_model::results::{CheckCoverage, Judged, Sessions, TargetResult};

/// A guarantee's violations, from a run's counts.
type Violations = fn(&Sessions) -> u64;

/// A guarantee, the check that judges it (`None`: sessionbench has no check for it), and its
/// violations.
const GUARANTEES: [(&str, Option<&str>, Violations); 7] = [
    ("read your writes", Some("stale-read"), |s| s.stale_reads),
    ("monotonic reads", Some("monotonic-read"), |s| {
        s.monotonic_violations
    }),
    ("monotonic writes", Some("monotonic-write"), |s| {
        s.monotonic_writes
    }),
    ("writes follow reads", None, |_| 0),
    ("sessions kept", Some("session-lost"), |s| s.lost),
    ("updates kept", Some("lost-update"), |s| s.lost_updates),
    ("logout holds", Some("resurrection"), |s| s.resurrections),
];

/// Held, broken (with how many violations) or not judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    Yes,
    /// Held for the sessions it could be judged on, not all that needed it.
    Partly,
    No(u64),
    NotJudged,
}

impl Held {
    pub fn mark(self) -> String {
        match self {
            Self::Yes => "✓".into(),
            Self::Partly => "✓ (partly judged)".into(),
            Self::No(n) => format!("✗ ({n})"),
            Self::NotJudged => "not judged".into(),
        }
    }
}

/// Each guarantee and whether the run held it.
pub(crate) fn guarantees(t: &TargetResult) -> Vec<(&'static str, Held)> {
    GUARANTEES
        .iter()
        .map(|&(name, check, count)| (name, held(t, check, count(&t.sessions))))
        .collect()
}

fn held(t: &TargetResult, check: Option<&str>, violations: u64) -> Held {
    let Some(check) = check else {
        return Held::NotJudged;
    };
    if violations > 0 {
        return Held::No(violations);
    }
    if t.unchecked.iter().any(|c| c == check) {
        return Held::NotJudged;
    }
    // Runs from before checks were reported say nothing of them: judged as they were.
    if t.checks.is_empty() {
        return Held::Yes;
    }
    let parts: Vec<&CheckCoverage> = t.checks.iter().filter(|c| c.check == check).collect();
    let needed: Vec<&&CheckCoverage> = parts.iter().filter(|c| c.sessions > 0).collect();
    if needed.is_empty() || needed.iter().all(|c| c.judged == Judged::NotJudged) {
        Held::NotJudged
    } else if needed.iter().all(|c| c.judged == Judged::Judged) {
        Held::Yes
    } else {
        Held::Partly
    }
}

/// `read your writes ✓, monotonic reads ✗ (3), ...`.
pub(crate) fn line(t: &TargetResult) -> String {
    guarantees(t)
        .iter()
        .map(|(name, held)| format!("{name} {}", held.mark()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Over a target's runs: broken where any run broke it (violations summed), held where
/// every run that judged it held it, not judged where none did. Only what is not plainly
/// held is named, after a count of those held.
pub(crate) fn across(runs: &[&TargetResult]) -> String {
    let per_run: Vec<Vec<(&str, Held)>> = runs.iter().map(|r| guarantees(r)).collect();
    let mut held = 0;
    let mut notes = Vec::new();
    for (i, &(name, _, _)) in GUARANTEES.iter().enumerate() {
        let each = per_run.iter().map(|g| g[i].1);
        let broken: u64 = each
            .clone()
            .map(|h| if let Held::No(n) = h { n } else { 0 })
            .sum();
        if broken > 0 {
            notes.push(format!("{name} ✗ ({broken})"));
        } else if each.clone().all(|h| h == Held::NotJudged) {
            notes.push(format!("{name} not judged"));
        } else if each.clone().any(|h| h != Held::Yes) {
            notes.push(format!("{name} ✓ (partly judged)"));
        } else {
            held += 1;
        }
    }
    let total = GUARANTEES.len();
    if notes.is_empty() {
        format!("{held} of {total} ✓")
    } else {
        format!("{held} of {total} ✓; {}", notes.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::run;

    fn coverage(check: &str, judged: Judged, sessions: u64) -> CheckCoverage {
        CheckCoverage {
            check: check.into(),
            part: None,
            judged,
            sessions,
            fed: if judged == Judged::NotJudged {
                0
            } else {
                sessions
            },
            reason: None,
        }
    }

    #[test]
    fn a_guarantee_is_held_broken_or_not_judged() {
        let mut t = run("t", "failure", None, (9, 10, 0), (100.0, 1.0));
        t.sessions.monotonic_violations = 3;
        t.checks = vec![
            coverage("stale-read", Judged::Judged, 10),
            coverage("monotonic-read", Judged::Judged, 10),
            coverage("lost-update", Judged::NotJudged, 4),
            coverage("resurrection", Judged::NotJudged, 0),
            coverage("session-lost", Judged::Partly, 10),
        ];
        let held: Vec<(&str, Held)> = guarantees(&t);
        assert_eq!(
            held,
            [
                ("read your writes", Held::Yes),
                ("monotonic reads", Held::No(3)),
                ("monotonic writes", Held::NotJudged),
                ("writes follow reads", Held::NotJudged),
                ("sessions kept", Held::Partly),
                ("updates kept", Held::NotJudged),
                ("logout holds", Held::NotJudged),
            ]
        );
    }
}
