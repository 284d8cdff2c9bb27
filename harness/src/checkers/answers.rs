//! What an answer shows: writes recorded, then the user, attributes, counter and order it
//! shows judged against what was acknowledged before its request started.

use crate::history::{Op, OpKind};

use super::checker::{Checker, order};
use super::finding::Kind;
use super::finding::on;
use super::memory::Memory;
use super::record::{Seen, Shown, Write};

impl<M: Memory> Checker<M> {
    pub(super) fn record_write(&mut self, op: &Op, acked: bool) {
        if let (OpKind::Write, Some(attr), Some(id)) = (op.kind, &op.attr, &op.write) {
            if acked {
                self.first_write_end = self.first_write_end.or(Some(op.end_us));
            }
            let write = Write {
                id: id.clone(),
                start: op.start_us,
                end: op.end_us,
                acked,
            };
            self.memory.write(attr, write);
        }
    }

    /// Judges what an answer shows; a part it does not show is not judged.
    pub(super) fn check_view(&mut self, op: &Op) {
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
        let start = op.start_us;
        // Only an answer that started after an acknowledged write (increment) ended can show
        // it, and be judged on it.
        let after = |end: Option<u64>| end.is_some_and(|end| start > end);
        self.fed.write_shown |= view.attrs.is_some() && after(self.first_write_end);
        self.fed.counter_shown |= view.counter.is_some() && after(self.first_increment_end);
        let mut stale = Vec::new();
        if let Some(attrs) = &view.attrs {
            let answer = Seen {
                start,
                end: op.end_us,
                write: None,
                node: op.node.clone(),
            };
            stale = self.memory.read(attrs, answer);
            let broken = self.memory.write_order(attrs);
            if !broken.is_empty() {
                self.find(Kind::MonotonicWrite, op, broken.join("; "));
            }
        }
        // What increments acknowledged before this request started showed (asked only of an
        // answer that shows the counter: where only the login shows it, nothing settles).
        let acked_counter = view.counter.map_or(0, |_| self.memory.acked_counter(start));
        let counter_behind = view.counter.filter(|c| *c < acked_counter);
        if let Some(counter) = counter_behind {
            stale.push(format!(
                "counter is {counter}, below the acknowledged {acked_counter}"
            ));
        }
        if let Some(counter) = view.counter {
            self.memory.counter(Shown {
                start,
                end: op.end_us,
                counter,
                node: op.node.clone(),
            });
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
            // The highest shown by an answer that came before this request. A counter below
            // the acknowledged one is already a stale read.
            let went_back = self
                .memory
                .order_before(start)
                .filter(|(seen, _)| version < *seen)
                .filter(|_| !(counter_behind.is_some() && view.version.is_none()))
                .map(|(seen, at)| {
                    format!("{what} {version} after {what} {seen} was seen{}", on(at))
                });
            if let Some(detail) = went_back {
                self.find(Kind::MonotonicRead, op, detail);
            }
            self.memory.order(op.end_us, version, op.node.clone());
        }
        self.last_node.clone_from(&op.node);
    }
}
