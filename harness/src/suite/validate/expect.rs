//! `[targets.expect]`: what a target must survive, and the losses a real system is known to
//! cause at a fault, each with its bound and its cause.

use super::{Validator, join};
use crate::suite::locate::Seg;
use crate::suite::raw::{ExpectRaw, KnownLossRaw};
use sessionbench_model::plan::{Expect, FaultKind, KnownLoss, LossExpectation};

impl Validator<'_> {
    /// `key = "none" | "some" | "any"` (default none).
    fn loss(&mut self, path: &[Seg], key: &str, given: Option<String>) -> LossExpectation {
        let text = given.unwrap_or_default();
        match self.one_of(&join(path, key), &text, &["none", "some", "any"]) {
            Some("some") => LossExpectation::Some,
            Some("any") => LossExpectation::Any,
            _ => LossExpectation::None,
        }
    }

    pub(super) fn expect(&mut self, path: &[Seg], e: ExpectRaw, d: ExpectRaw) -> Expect {
        let sessions_lost = self.loss(path, "sessions-lost", e.sessions_lost.or(d.sessions_lost));
        let lost_updates = self.loss(path, "lost-updates", e.lost_updates.or(d.lost_updates));
        let percent = e.max_sessions_lost_percent.or(d.max_sessions_lost_percent);
        if let Some(p) = percent.filter(|p| !(0.0..=100.0).contains(p)) {
            self.err(
                &join(path, "max-sessions-lost-percent"),
                format!("{p} is not a percentage from 0 to 100"),
            );
        }
        let known = e.known_losses.or(d.known_losses).unwrap_or_default();
        let known_path = join(path, "known-losses");
        let known_losses = known
            .into_iter()
            .enumerate()
            .filter_map(|(i, k)| {
                let mut at = known_path.clone();
                at.push(Seg::Index(i));
                self.known_loss(&at, k)
            })
            .collect();
        Expect {
            sessions_lost,
            max_sessions_lost_percent: percent,
            max_stale_reads: e.max_stale_reads.or(d.max_stale_reads).unwrap_or(0),
            max_monotonic_violations: e
                .max_monotonic_violations
                .or(d.max_monotonic_violations)
                .unwrap_or(0),
            max_resurrections: e.max_resurrections.or(d.max_resurrections).unwrap_or(0),
            lost_updates,
            max_lost_updates: e.max_lost_updates.or(d.max_lost_updates),
            max_monotonic_writes: e
                .max_monotonic_writes
                .or(d.max_monotonic_writes)
                .unwrap_or(0),
            known_losses,
        }
    }

    /// One `[[targets.expect.known-losses]]`: every key is needed, since a bound without its
    /// window or its cause would excuse losses nobody can explain.
    fn known_loss(&mut self, path: &[Seg], k: KnownLossRaw) -> Option<KnownLoss> {
        let missing = |this: &mut Self, key: &str, what: &str| {
            this.err(
                &join(path, key),
                format!("a known loss needs `{key}`: {what}"),
            );
        };
        let after = match k.after {
            Some(kind) => {
                let names = FaultKind::names();
                self.one_of(&join(path, "after"), &kind, &names)
                    .map(str::to_string)
            }
            None => {
                missing(self, "after", "the kind of fault it follows (\"kill\")");
                None
            }
        };
        let from_end = match k.from.as_deref() {
            None => false,
            Some(text) => self.one_of(&join(path, "from"), text, &["start", "end"]) == Some("end"),
        };
        let within = match k.within {
            Some(text) => {
                let d = self.duration(&join(path, "within"), Some(text), None);
                Some(self.positive(&join(path, "within"), d, "`within`"))
            }
            None => {
                missing(self, "within", "how long after the fault's start (\"2s\")");
                None
            }
        };
        if k.max_sessions.is_none() {
            missing(
                self,
                "max-sessions",
                "the most sessions one such fault may lose",
            );
        }
        let cause = k.cause.filter(|c| !c.trim().is_empty());
        if cause.is_none() {
            missing(self, "cause", "what the system does that loses them");
        }
        Some(KnownLoss {
            after: after?,
            from_end,
            within: within?,
            max_sessions: k.max_sessions?,
            cause: cause?,
        })
    }
}
