//! The straightforward memory: every answer kept, every rule a scan over all of them. Its
//! cost grows with the session's length; it is what the bounded memory is held to.

use std::collections::BTreeMap;

use super::memory::Memory;
use super::record::{
    self, Increment, Seen, Shown, Undone, Write, base_loss, out_of_order, stale, undone_write,
};

#[derive(Debug, Default)]
pub(super) struct Naive {
    /// Per attribute: the session's writes, acknowledged or of unknown outcome.
    writes: BTreeMap<String, Vec<Write>>,
    /// Per attribute: what each answer showed of it.
    seen: BTreeMap<String, Vec<Seen>>,
    increments: Vec<Increment>,
    counters: Vec<Shown>,
    /// Answers' order: (end, order, node).
    orders: Vec<(u64, u64, Option<String>)>,
}

/// The fewest acknowledged increments the session's last counter `last` (of the answer that
/// started and ended at `last_start` and `last_end`, its own increment included when it was
/// one) proves lost, and the base that proves it: for each earlier answer that showed the
/// counter (`bases`: its end and value), the value it showed, less the increments of unknown
/// outcome that may have been in it (started before it ended), plus the acknowledged
/// increments that started after it ended and were applied by the last answer's read, less
/// the last counter. Increments that overlapped a base count on neither side, so the bound
/// holds however the history interleaved, and no more are lost than were acknowledged.
/// `(lost, base, after)` of the base that proves the most (then expects the highest counter,
/// then comes last); `None` when no base shows a loss.
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
            base_loss((value, after, maybe_in_it), last, applied.len() as u64)
                .map(|(lost, expected)| ((lost, expected), (lost, value, after)))
        })
        .max_by_key(|(key, _)| *key)
        .map(|(_, found)| found)
}

/// The acknowledged write an answer that started at `start` and shows `shown` should have
/// shown instead: the latest one acknowledged before it started that the shown write (if
/// any, and if acknowledged) came before. `None` when the answer is as fresh as it must be.
fn overwritten<'a>(writes: &'a [Write], shown: Option<&String>, start: u64) -> Option<&'a Write> {
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

impl Memory for Naive {
    fn settle(&mut self, _at: u64) {}

    fn write(&mut self, attr: &str, write: Write) {
        self.writes.entry(attr.to_string()).or_default().push(write);
    }

    fn increment(&mut self, increment: Increment) {
        self.increments.push(increment);
    }

    fn counter(&mut self, shown: Shown) {
        self.counters.push(shown);
    }

    fn order(&mut self, end: u64, order: u64, node: Option<String>) {
        self.orders.push((end, order, node));
    }

    fn order_before(&self, start: u64) -> Option<(u64, Option<&str>)> {
        self.orders
            .iter()
            .filter(|(end, _, _)| *end < start)
            .max_by_key(|(_, v, _)| *v)
            .map(|(_, v, node)| (*v, node.as_deref()))
    }

    fn acked_counter(&self, start: u64) -> u64 {
        self.increments
            .iter()
            .filter(|i| i.acked && i.end < start)
            .filter_map(|i| i.shown)
            .max()
            .unwrap_or(0)
    }

    fn read(&mut self, attrs: &BTreeMap<String, String>, answer: Seen) -> Vec<String> {
        let mut found = Vec::new();
        for (attr, writes) in &self.writes {
            let shown = attrs.get(attr);
            if let Some(newer) = overwritten(writes, shown, answer.start) {
                found.push(stale(attr, shown, &newer.id));
            }
            self.seen.entry(attr.clone()).or_default().push(Seen {
                write: shown.cloned(),
                ..answer.clone()
            });
        }
        found
    }

    fn write_order(&self, attrs: &BTreeMap<String, String>) -> Vec<String> {
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
                let known = shown.map(|s| writes.iter().find(|w| &w.id == s));
                broken.extend(out_of_order((b, w2), (a, shown, known), w1));
            }
        }
        broken
    }

    fn undone(&mut self) -> Undone {
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
                let window: Vec<Seen> = seen
                    .iter()
                    .filter(|s| s.start > w.end && s.end < next)
                    .cloned()
                    .collect();
                let kept = window.iter().any(|s| {
                    let known = s
                        .write
                        .as_ref()
                        .and_then(|id| writes.iter().find(|x| &x.id == id));
                    // It, one not before it (concurrent, or later), or one that may land.
                    known.is_some_and(|x| !x.acked || !x.precedes(w))
                });
                if let (false, Some(first)) = (kept, window.first()) {
                    let detail = undone_write(attr, w, &window, window.len());
                    found.push((first.clone(), detail));
                }
            }
        }
        let mut increments = None;
        if let Some(last) = self.counters.iter().max_by_key(|c| c.start) {
            let bases: Vec<(u64, u64)> = self.counters.iter().map(|c| (c.end, c.counter)).collect();
            if let Some(found) = increments_lost(
                &self.increments,
                &bases,
                (last.start, last.end),
                last.counter,
            ) {
                let detail = record::lost_increments(last.counter, found);
                increments = Some((last.clone(), detail, found.0));
            }
        }
        Undone {
            writes: found,
            increments,
        }
    }

    fn ordered_twice(&self) -> bool {
        self.orders.len() >= 2
    }

    fn counted(&self) -> bool {
        let Some(last) = self.counters.iter().max_by_key(|c| c.start) else {
            return false;
        };
        // The earliest base before the last answer, and an increment it applied after it.
        let base = self
            .counters
            .iter()
            .map(|c| c.end)
            .filter(|&end| end < last.start)
            .min();
        base.is_some_and(|base| {
            self.increments.iter().any(|i| {
                i.acked
                    && i.start > base
                    && (i.end < last.start || (i.start == last.start && i.end == last.end))
            })
        })
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
        // Two bases that prove as many lost: the one that expects more is told.
        let incs = [inc(40, 45, true)];
        assert_eq!(
            increments_lost(&incs, &[(20, 9), (30, 5)], (50, 55), 0),
            Some((1, 9, 1))
        );
    }
}
