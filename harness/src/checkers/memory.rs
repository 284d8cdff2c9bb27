//! What a session's checker remembers of its history, behind one interface: the bounded
//! memory runs use ([`Bounded`]: what is still unsettled, and summaries of the rest), and in
//! tests the straightforward one that keeps every answer (`naive::Naive`), to hold it to.
//!
//! Settled is what no operation still to come can overlap. A session's operations come in
//! steps (one request, or a page's parallel ones): a step's operations start at or after its
//! intended time, and the next step is due only once they have all ended. So once an
//! operation due at `t` is seen, no operation still to come started before `t`, and every
//! rule's "ended before this request started" holds for what ended before `t`, whatever comes.

use std::collections::BTreeMap;

use super::counter::Counter;
use super::record::{Increment, Seen, Shown, Undone, Write};
use super::writes::Writes;

pub(crate) trait Memory: Default + std::fmt::Debug {
    /// No operation still to come started before `at`.
    fn settle(&mut self, at: u64);
    fn write(&mut self, attr: &str, write: Write);
    fn increment(&mut self, increment: Increment);
    fn counter(&mut self, shown: Shown);
    /// An answer's order (its version, or else its counter).
    fn order(&mut self, end: u64, order: u64, node: Option<String>);
    /// The highest order shown by an answer that ended before `start`, and where.
    fn order_before(&self, start: u64) -> Option<(u64, Option<&str>)>;
    /// The highest counter shown by acknowledged increments that ended before `start`.
    fn acked_counter(&self, start: u64) -> u64;
    /// Judges the attributes an answer shows against the writes acknowledged before it
    /// started (read-your-writes), and remembers what it showed of each attribute written so
    /// far; what it finds stale, in words.
    fn read(&mut self, attrs: &BTreeMap<String, String>, answer: Seen) -> Vec<String>;
    /// Monotonic writes: an answer showing write W2 must show every write acknowledged
    /// before W2 started (on the other attributes), or a later one. What breaks it, in words.
    fn write_order(&self, attrs: &BTreeMap<String, String>) -> Vec<String>;
    /// The session is over: what it undid for good.
    fn undone(&mut self) -> Undone;
    /// Two answers showed an order.
    fn ordered_twice(&self) -> bool;
    /// An answer showed the counter, an acknowledged increment started after it ended, and
    /// the last answer that showed the counter applied it.
    fn counted(&self) -> bool;
}

/// What runs remember: the unsettled part of the session, and summaries of the rest.
#[derive(Debug, Default)]
pub(crate) struct Bounded {
    counter: Counter,
    writes: Writes,
}

impl Memory for Bounded {
    fn settle(&mut self, at: u64) {
        self.counter.settle(at);
        self.writes.settle(at);
    }
    fn write(&mut self, attr: &str, write: Write) {
        self.writes.write(attr, write);
    }
    fn increment(&mut self, increment: Increment) {
        self.counter.increment(increment);
    }
    fn counter(&mut self, shown: Shown) {
        self.counter.shown(shown);
    }
    fn order(&mut self, end: u64, order: u64, node: Option<String>) {
        self.counter.order(end, order, node);
    }
    fn order_before(&self, start: u64) -> Option<(u64, Option<&str>)> {
        self.counter.order_before(start)
    }
    fn acked_counter(&self, start: u64) -> u64 {
        self.counter.acked_counter(start)
    }
    fn read(&mut self, attrs: &BTreeMap<String, String>, answer: Seen) -> Vec<String> {
        self.writes.read(attrs, answer)
    }
    fn write_order(&self, attrs: &BTreeMap<String, String>) -> Vec<String> {
        self.writes.write_order(attrs)
    }
    fn undone(&mut self) -> Undone {
        Undone {
            writes: self.writes.undone(),
            increments: self.counter.lost(),
        }
    }
    fn ordered_twice(&self) -> bool {
        self.counter.ordered_twice()
    }
    fn counted(&self) -> bool {
        self.counter.counted()
    }
}

#[cfg(test)]
impl Bounded {
    /// How many records it holds that have not settled.
    pub fn unsettled(&self) -> usize {
        self.counter.unsettled() + self.writes.unsettled()
    }
}
