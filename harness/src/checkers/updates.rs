//! What a session's writes show once answers overlap: whether an answer is older than it
//! must be (read-your-writes, with order known only between operations that did not
//! overlap), monotonic writes, and, when the session is over, the updates undone for good.

use std::collections::BTreeMap;

use super::{Checker, Finding, Kind, secs};
use crate::history::Op;

/// One write of the session: acknowledged, or of unknown outcome (it may land any time).
#[derive(Debug, Clone)]
pub(super) struct Write {
    pub id: String,
    pub start: u64,
    pub end: u64,
    pub acked: bool,
}

impl Write {
    /// Ended before `other` started: `other` came after it, whoever else saw what.
    pub fn precedes(&self, other: &Self) -> bool {
        self.end < other.start
    }
}

/// One increment of the session's counter: acknowledged, or of unknown outcome (it may have
/// been applied, and shown by answers, without being acknowledged).
#[derive(Debug, Clone, Copy)]
pub(super) struct Increment {
    pub start: u64,
    pub end: u64,
    pub acked: bool,
    /// The counter its own answer showed.
    pub shown: Option<u64>,
}

impl Increment {
    pub fn of(op: &Op, acked: bool) -> Self {
        Self {
            start: op.start_us,
            end: op.end_us,
            acked,
            shown: op.view.as_ref().and_then(|v| v.counter),
        }
    }
}

/// The fewest acknowledged increments the session's last counter `last` (of the answer that
/// started and ended at `last_start` and `last_end`, its own increment included when it was
/// one) proves lost, and
/// the base that proves it: for each earlier answer that showed the counter (`bases`: its
/// end and value), the value it showed, less the increments of unknown outcome that may have
/// been in it (started before it ended), plus the acknowledged increments that started after
/// it ended and were applied by the last answer's read, less the last counter. Increments
/// that overlapped a base count on neither side, so the bound holds however the history
/// interleaved, and no more are lost than were acknowledged. `None` when no base shows a
/// loss.
pub(super) fn increments_lost(
    increments: &[Increment],
    bases: &[(u64, u64)],
    (last_start, last_end): (u64, u64),
    last: u64,
) -> Option<(u64, u64, u64)> {
    // Applied by the last read: ended before it started, or the last answer's own (one, even
    // if another increment ran over the very same span).
    let own = increments
        .iter()
        .find(|i| i.acked && i.start == last_start && i.end == last_end);
    let mut applied: Vec<u64> = increments
        .iter()
        .filter(|i| i.acked && i.end < last_start)
        .chain(own)
        .map(|i| i.start)
        .collect();
    applied.sort_unstable();
    let mut unknown: Vec<u64> = increments
        .iter()
        .filter(|i| !i.acked)
        .map(|i| i.start)
        .collect();
    unknown.sort_unstable();
    bases
        .iter()
        .filter(|(end, _)| *end < last_start)
        .filter_map(|&(end, value)| {
            let after = (applied.len() - applied.partition_point(|s| *s <= end)) as u64;
            let maybe_in_it = unknown.partition_point(|s| *s <= end) as u64;
            let expected = (value + after).saturating_sub(maybe_in_it);
            // No more are lost than were acknowledged: a base may hold what no increment of
            // the session put there (a counter that did not start at 0).
            let lost = expected.saturating_sub(last).min(applied.len() as u64);
            (lost > 0).then_some((lost, value, after))
        })
        .max_by_key(|(lost, _, _)| *lost)
}

/// An answer that showed an attribute (or showed it missing).
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub start: u64,
    pub end: u64,
    pub write: Option<String>,
    pub node: Option<String>,
}

/// The acknowledged write an answer that started at `start` and shows `shown` should have
/// shown instead: the latest one acknowledged before it started that the shown write (if
/// any, and if acknowledged) came before. `None` when the answer is as fresh as it must be.
pub(super) fn overwritten<'a>(
    writes: &'a [Write],
    shown: Option<&String>,
    start: u64,
) -> Option<&'a Write> {
    let known = shown.and_then(|s| writes.iter().find(|w| &w.id == s));
    // A write of unknown outcome may land at any time; one not seen yet has not ended (the
    // session's own, in flight beside this answer): neither can be older than it must.
    if known.is_some_and(|w| !w.acked) || (shown.is_some() && known.is_none()) {
        return None;
    }
    writes
        .iter()
        .filter(|w| w.acked && w.end < start)
        .filter(|w| known.is_none_or(|k| k.precedes(w)))
        .max_by_key(|w| w.end)
}

impl Checker {
    /// Monotonic writes: an answer showing write W2 must show every write acknowledged
    /// before W2 started (on the other attributes), or a later one.
    pub(super) fn check_write_order(&mut self, op: &Op, attrs: &BTreeMap<String, String>) {
        let mut broken = Vec::new();
        for (b, shown_b) in attrs {
            let Some(w2) = self
                .writes
                .get(b)
                .and_then(|ws| ws.iter().find(|w| &w.id == shown_b && w.acked))
            else {
                continue;
            };
            for (a, writes) in self.writes.iter().filter(|(a, _)| *a != b) {
                let Some(w1) = writes
                    .iter()
                    .filter(|w| w.acked && w.precedes(w2))
                    .max_by_key(|w| w.end)
                else {
                    continue;
                };
                let shown = attrs.get(a);
                let undone = match shown.map(|s| writes.iter().find(|w| &w.id == s)) {
                    None => true,
                    Some(Some(w)) => w.acked && w.precedes(w1),
                    // A write not ended yet (the session's own, in flight beside this one).
                    Some(None) => false,
                };
                if undone {
                    broken.push(format!(
                        "`{b}` shows write {}, but `{a}` shows {} though write {} was acknowledged before it",
                        w2.id,
                        shown.map_or("nothing", String::as_str),
                        w1.id
                    ));
                }
            }
        }
        if !broken.is_empty() {
            self.find(Kind::MonotonicWrite, op, broken.join("; "));
        }
    }

    /// The session is over: writes undone for good, and increments its last counter lacks.
    pub fn finish(&mut self) {
        if !self.established || self.lost || self.expired {
            return;
        }
        let mut found = Vec::new();
        for (attr, writes) in &self.writes {
            let seen = self.seen.get(attr).map_or(&[][..], Vec::as_slice);
            for w in writes.iter().filter(|w| w.acked) {
                // The answers after it, up to the attribute's next write.
                let next = writes
                    .iter()
                    .filter(|n| n.start > w.end)
                    .map(|n| n.start)
                    .min()
                    .unwrap_or(u64::MAX);
                let window: Vec<&Seen> = seen
                    .iter()
                    .filter(|s| s.start > w.end && s.end < next)
                    .collect();
                let kept = window.iter().any(|s| {
                    let known = s
                        .write
                        .as_ref()
                        .and_then(|id| writes.iter().find(|x| &x.id == id));
                    // It, one not before it (concurrent, or later), or one that may land.
                    known.is_some_and(|x| !x.acked || !x.precedes(w))
                });
                if let (false, Some(first)) = (kept, window.first().copied()) {
                    let shown: Vec<String> = window
                        .iter()
                        .take(4)
                        .map(|s| {
                            format!(
                                "{} at {}{}",
                                s.write.as_deref().unwrap_or("nothing"),
                                secs(s.start),
                                super::on(s.node.as_deref())
                            )
                        })
                        .collect();
                    let more = window.len().saturating_sub(4);
                    let more = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    found.push((
                        first,
                        format!(
                            "write {} to `{attr}` ({} to {}) was acknowledged and then undone: the answers after it, up to the attribute's next write, showed {}{more}",
                            w.id,
                            secs(w.start),
                            secs(w.end),
                            shown.join(", ")
                        ),
                        1,
                    ));
                }
            }
        }
        let mut lost_increments = None;
        if let Some(last) = self.counters.iter().max_by_key(|c| c.0) {
            let bases: Vec<(u64, u64)> = self.counters.iter().map(|c| (c.1, c.2)).collect();
            if let Some((lost, base, after)) =
                increments_lost(&self.increments, &bases, (last.0, last.1), last.2)
            {
                lost_increments = Some((
                    last.clone(),
                    format!(
                        "counter {} at the session's last answer, though an earlier answer showed {base} and {after} increments were acknowledged after it ({lost} lost)",
                        last.2
                    ),
                    lost,
                ));
            }
        }
        let session = self.session_name.clone();
        for (seen, detail, count) in found {
            self.findings.push(Finding {
                kind: Kind::LostUpdate,
                session: session.clone(),
                at_us: seen.start,
                answered_us: seen.end,
                nodes: seen.node.iter().cloned().collect(),
                detail,
                count,
            });
        }
        if let Some(((start, end, _, node), detail, count)) = lost_increments {
            self.findings.push(Finding {
                kind: Kind::LostUpdate,
                session,
                at_us: start,
                answered_us: end,
                nodes: node.into_iter().collect(),
                detail,
                count,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(start: u64, end: u64, acked: bool) -> Increment {
        Increment {
            start,
            end,
            acked,
            shown: None,
        }
    }

    #[test]
    fn lost_increments_are_counted_from_the_first_answer_that_shows_the_counter() {
        // No counter at login: the first read shows 3, then four increments one after
        // another, and the last read shows 5.
        let incs = [
            inc(20, 25, true),
            inc(30, 35, true),
            inc(40, 45, true),
            inc(50, 55, true),
        ];
        let bases = [(15, 3), (65, 5)];
        assert_eq!(increments_lost(&incs, &bases, (60, 65), 5), Some((2, 3, 4)));
        // The tightest base wins: a later read showed 6 before two more increments.
        let bases = [(15, 3), (37, 6), (65, 5)];
        assert_eq!(increments_lost(&incs, &bases, (60, 65), 5), Some((3, 6, 2)));
        // Nothing lost: the last counter holds them all.
        assert_eq!(increments_lost(&incs, &[(15, 3)], (60, 65), 7), None);
    }

    #[test]
    fn only_what_the_history_proves_is_lost() {
        // An increment that overlapped the base may be in it or not: it counts on neither side.
        let incs = [inc(10, 30, true), inc(40, 45, true)];
        assert_eq!(increments_lost(&incs, &[(20, 1)], (50, 55), 2), None);
        assert_eq!(
            increments_lost(&incs, &[(20, 1)], (50, 55), 1),
            Some((1, 1, 1))
        );
        // One of unknown outcome that started before the base may be what it showed.
        let incs = [inc(5, 900, false), inc(40, 45, true)];
        assert_eq!(increments_lost(&incs, &[(20, 1)], (50, 55), 1), None);
        // The last answer's own increment is applied by its read.
        let incs = [inc(40, 45, true), inc(50, 55, true)];
        assert_eq!(
            increments_lost(&incs, &[(20, 0)], (50, 55), 1),
            Some((1, 0, 2))
        );
        // Never more than were acknowledged, whatever the base showed.
        let incs = [inc(40, 45, true)];
        assert_eq!(
            increments_lost(&incs, &[(20, 9)], (50, 55), 0),
            Some((1, 9, 1))
        );
        // A base that did not end before the last answer started is no base.
        assert_eq!(increments_lost(&incs, &[(52, 9)], (50, 55), 0), None);
    }
}
