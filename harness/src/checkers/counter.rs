//! The bounded memory of a session's order and counter. An answer's order is judged against
//! the highest one before it, so what settled is one value. Lost increments are judged at the
//! session's end from each earlier answer that showed the counter (a base): what it showed,
//! less the increments that started before it ended, decides how it ranks against the
//! others, and the increments after it add the same to all of them. So a settled base is
//! folded into the best one so far, once every increment that started before it ended has
//! settled too; an increment settles once it ended before the last answer can have started.

use std::collections::VecDeque;

use super::record::{self, Increment, Shown, base_loss};

/// An event of the counter's history still unsettled, kept in the order they settle in: an
/// increment by its start, an answer that showed the counter by its end (after the
/// increments that started at that very moment, which it counts as before it).
#[derive(Debug, Clone)]
enum Event {
    Increment(Increment),
    Shown(Shown),
}

impl Event {
    fn rank(&self) -> (u64, u8) {
        match self {
            Self::Increment(i) => (i.start, 0),
            Self::Shown(s) => (s.end, 1),
        }
    }

    fn end(&self) -> u64 {
        match self {
            Self::Increment(i) => i.end,
            Self::Shown(s) => s.end,
        }
    }
}

/// A settled base: the counter it showed, and the settled increments that started before it
/// ended (acknowledged, and of unknown outcome).
#[derive(Debug, Clone, Copy)]
struct Base {
    value: u64,
    acked: u64,
    unknown: u64,
}

impl Base {
    /// How it ranks: the counter it leads the last answer to expect, less what every base
    /// adds alike (the acknowledged increments applied by the last answer).
    fn rank(&self) -> i128 {
        i128::from(self.value) - i128::from(self.acked) - i128::from(self.unknown)
    }
}

#[derive(Debug, Default)]
pub(super) struct Counter {
    /// The highest order of the answers that settled, and where (the later of equals).
    order: Option<(u64, Option<String>)>,
    /// Answers' orders still unsettled: (end, order, node).
    orders: VecDeque<(u64, u64, Option<String>)>,
    ordered: usize,
    events: VecDeque<Event>,
    /// Settled increments: acknowledged (all applied by the last answer), of unknown outcome,
    /// and the highest counter an acknowledged one showed.
    acked: u64,
    unknown: u64,
    acked_shown: Option<u64>,
    /// The settled base that proves the most lost (the later of equals).
    best: Option<Base>,
    /// The latest start, and the earliest end, of an answer that showed the counter.
    latest_start: Option<u64>,
    first_end: Option<u64>,
    /// A settled acknowledged increment started after the first answer that showed the
    /// counter ended.
    acked_after_first: bool,
}

impl Counter {
    /// No operation still to come started before `at`.
    pub fn settle(&mut self, at: u64) {
        while let Some(&(end, order, _)) = self.orders.front() {
            if end >= at {
                break;
            }
            let node = self.orders.pop_front().and_then(|o| o.2);
            if self.order.as_ref().is_none_or(|(best, _)| order >= *best) {
                self.order = Some((order, node));
            }
        }
        // The last answer that shows the counter starts no earlier than the latest one so far:
        // an increment that ended before both is applied by it, and a base is one.
        let cut = self.latest_start.map_or(at, |s| s.min(at));
        while self.events.front().is_some_and(|e| e.end() < cut) {
            match self.events.pop_front() {
                Some(Event::Increment(i)) if i.acked => {
                    self.acked += 1;
                    self.acked_shown = self.acked_shown.max(i.shown);
                    self.acked_after_first |= self.first_end.is_some_and(|f| i.start > f);
                }
                Some(Event::Increment(_)) => self.unknown += 1,
                Some(Event::Shown(s)) => {
                    let base = Base {
                        value: s.counter,
                        acked: self.acked,
                        unknown: self.unknown,
                    };
                    if self.best.is_none_or(|b| base.rank() >= b.rank()) {
                        self.best = Some(base);
                    }
                }
                None => {}
            }
        }
    }

    #[cfg(test)]
    pub fn unsettled(&self) -> usize {
        self.orders.len() + self.events.len()
    }

    fn insert(&mut self, event: Event) {
        let rank = event.rank();
        let at = self.events.partition_point(|e| e.rank() <= rank);
        self.events.insert(at, event);
    }

    pub fn increment(&mut self, increment: Increment) {
        self.insert(Event::Increment(increment));
    }

    pub fn shown(&mut self, shown: Shown) {
        self.latest_start = self.latest_start.max(Some(shown.start));
        self.first_end = Some(self.first_end.map_or(shown.end, |f| f.min(shown.end)));
        self.insert(Event::Shown(shown));
    }

    pub fn order(&mut self, end: u64, order: u64, node: Option<String>) {
        self.orders.push_back((end, order, node));
        self.ordered = self.ordered.saturating_add(1);
    }

    pub fn order_before(&self, start: u64) -> Option<(u64, Option<&str>)> {
        let settled = self.order.as_ref().map(|(v, n)| (*v, n.as_deref()));
        let recent = self
            .orders
            .iter()
            .filter(|(end, _, _)| *end < start)
            .map(|(_, v, n)| (*v, n.as_deref()));
        settled.into_iter().chain(recent).max_by_key(|(v, _)| *v)
    }

    pub fn acked_counter(&self, start: u64) -> u64 {
        let recent = self.increments().filter(|i| i.acked && i.end < start);
        self.acked_shown
            .into_iter()
            .chain(recent.filter_map(|i| i.shown))
            .max()
            .unwrap_or(0)
    }

    pub fn ordered_twice(&self) -> bool {
        self.ordered >= 2
    }

    fn increments(&self) -> impl Iterator<Item = &Increment> {
        self.events.iter().filter_map(|e| match e {
            Event::Increment(i) => Some(i),
            Event::Shown(_) => None,
        })
    }

    fn shown_events(&self) -> impl Iterator<Item = &Shown> {
        self.events.iter().filter_map(|e| match e {
            Event::Shown(s) => Some(s),
            Event::Increment(_) => None,
        })
    }

    /// The session's last answer that showed the counter: it never settles (it started at
    /// or after the latest start, which bounds what settles).
    fn last(&self) -> Option<&Shown> {
        self.shown_events().max_by_key(|s| s.start)
    }

    /// The last answer's own increment, if it was one.
    fn own(&self, last: &Shown) -> Option<&Increment> {
        self.increments()
            .find(|i| i.acked && i.start == last.start && i.end == last.end)
    }

    pub fn counted(&self) -> bool {
        let Some(last) = self.last() else {
            return false;
        };
        let Some(base) = self.first_end.filter(|&end| end < last.start) else {
            return false;
        };
        self.acked_after_first
            || self.increments().any(|i| {
                i.acked
                    && i.start > base
                    && (i.end < last.start || (i.start == last.start && i.end == last.end))
            })
    }

    /// The increments the last counter lacks, as `naive::increments_lost` counts them.
    pub fn lost(&self) -> Option<(Shown, String, u64)> {
        let last = self.last()?;
        let mut applied: Vec<u64> = self
            .increments()
            .filter(|i| i.acked && i.end < last.start)
            .chain(self.own(last))
            .map(|i| i.start)
            .collect();
        applied.sort_unstable();
        let mut unknown: Vec<u64> = self
            .increments()
            .filter(|i| !i.acked)
            .map(|i| i.start)
            .collect();
        unknown.sort_unstable();
        let all_applied = self.acked + applied.len() as u64;
        // Every settled increment started before the unsettled bases ended; none of the
        // unsettled ones before a settled base did.
        let settled = self
            .best
            .map(|b| (b.value, all_applied - b.acked, b.unknown));
        let recent = self.shown_events().filter(|s| s.end < last.start).map(|s| {
            let after = (applied.len() - applied.partition_point(|a| *a <= s.end)) as u64;
            let maybe = self.unknown + unknown.partition_point(|u| *u <= s.end) as u64;
            (s.counter, after, maybe)
        });
        let found = settled
            .into_iter()
            .chain(recent)
            .filter_map(|(value, after, maybe)| {
                base_loss((value, after, maybe), last.counter, all_applied)
                    .map(|(lost, expected)| ((lost, expected), (lost, value, after)))
            })
            .max_by_key(|(key, _)| *key)
            .map(|(_, found)| found)?;
        let detail = record::lost_increments(last.counter, found);
        Some((last.clone(), detail, found.0))
    }
}
