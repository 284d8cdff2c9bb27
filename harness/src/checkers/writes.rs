//! The bounded memory of a session's writes. Each write is kept, small (an answer may show
//! any earlier write, and whether that is stale depends on when it ended), and found by its
//! id or, being in the order they ended, by a binary search. What answers showed is not
//! kept: each is folded into the open window of every acknowledged write it falls in (the
//! answers after it, up to the attribute's next write), once no write still to come can
//! close that window before it; a window is judged, and forgotten, once its next write has
//! started.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::record::{Seen, Write, out_of_order, stale, undone_write};

#[derive(Debug, Default)]
pub(super) struct Writes {
    attrs: BTreeMap<String, Attr>,
}

/// An acknowledged write whose window is still open.
#[derive(Debug)]
struct Window {
    /// The write's place in its attribute's writes.
    index: usize,
    /// The earliest start of a write that started after it ended, so far.
    next: u64,
    /// An answer in it showed the write kept (it, a write not before it, or one that may land).
    kept: bool,
    count: usize,
    /// The first answers in it, as a finding tells them.
    first: Vec<Seen>,
}

#[derive(Debug, Default)]
struct Attr {
    /// Every write to it, in the order they ended.
    writes: Vec<Write>,
    /// Each id's first write.
    ids: HashMap<String, usize>,
    windows: Vec<Window>,
    /// Answers not yet folded into windows: a write still in flight may close a window
    /// before them.
    pending: VecDeque<Seen>,
    /// Writes undone for good: (the write's place, the first answer after it, the words).
    undone: Vec<(usize, Seen, String)>,
}

impl Attr {
    fn get(&self, id: &str) -> Option<&Write> {
        self.ids.get(id).map(|&i| &self.writes[i])
    }

    /// The latest acknowledged write that ended before `start` and, if given, started after
    /// `after` ended (the later of equals).
    fn latest_before(&self, start: u64, after: Option<&Write>) -> Option<&Write> {
        let ended = self.writes.partition_point(|w| w.end < start);
        for w in self.writes[..ended].iter().rev() {
            if after.is_some_and(|a| w.end <= a.end) {
                // It and every one before it started before `after` ended.
                return None;
            }
            if w.acked && after.is_none_or(|a| a.precedes(w)) {
                return Some(w);
            }
        }
        None
    }

    /// As `naive::overwritten`.
    fn overwritten(&self, shown: Option<&String>, start: u64) -> Option<&Write> {
        let known = match shown {
            // One not seen yet has not ended (the session's own, in flight beside this answer).
            Some(id) => Some(self.get(id)?),
            None => None,
        };
        // A write of unknown outcome may land at any time.
        if known.is_some_and(|w| !w.acked) {
            return None;
        }
        self.latest_before(start, known)
    }

    fn write(&mut self, write: Write) {
        let index = self.writes.len();
        for window in &mut self.windows {
            if write.start > self.writes[window.index].end {
                window.next = window.next.min(write.start);
            }
        }
        self.ids.entry(write.id.clone()).or_insert(index);
        if write.acked {
            // Writes that ended before it started before it ended.
            let next = self
                .writes
                .iter()
                .rev()
                .take_while(|w| w.end > write.end)
                .filter(|w| w.start > write.end)
                .map(|w| w.start)
                .min()
                .unwrap_or(u64::MAX);
            self.windows.push(Window {
                index,
                next,
                kept: false,
                count: 0,
                first: Vec::new(),
            });
        }
        self.writes.push(write);
    }

    fn fold(&mut self, answer: Seen) {
        let shown = answer.write.as_deref().and_then(|id| self.ids.get(id));
        let shown = shown.map(|&i| (self.writes[i].acked, self.writes[i].end));
        for window in &mut self.windows {
            let w = &self.writes[window.index];
            if answer.start > w.end && answer.end < window.next {
                window.count += 1;
                // It, one not before it (concurrent, or later), or one that may land.
                window.kept |= shown.is_some_and(|(acked, end)| !acked || end >= w.start);
                if window.first.len() < 4 {
                    window.first.push(answer.clone());
                }
            }
        }
    }

    /// No operation still to come started before `at`: answers that ended before it are in
    /// every window they will be in, and a window whose next write started by then is whole.
    fn settle(&mut self, attr: &str, at: u64) {
        while self.pending.front().is_some_and(|s| s.end < at) {
            if let Some(answer) = self.pending.pop_front() {
                self.fold(answer);
            }
        }
        let mut i = 0;
        while i < self.windows.len() {
            if self.windows[i].next <= at {
                let window = self.windows.swap_remove(i);
                self.judge(attr, window);
            } else {
                i += 1;
            }
        }
    }

    fn judge(&mut self, attr: &str, window: Window) {
        if let (false, Some(first)) = (window.kept, window.first.first()) {
            let w = &self.writes[window.index];
            let detail = undone_write(attr, w, &window.first, window.count);
            self.undone.push((window.index, first.clone(), detail));
        }
    }
}

impl Writes {
    pub fn settle(&mut self, at: u64) {
        for (attr, a) in &mut self.attrs {
            a.settle(attr, at);
        }
    }

    /// Answers not folded yet and windows open (the writes themselves are kept).
    #[cfg(test)]
    pub fn unsettled(&self) -> usize {
        self.attrs
            .values()
            .map(|a| a.pending.len() + a.windows.len())
            .sum()
    }

    pub fn write(&mut self, attr: &str, write: Write) {
        if !self.attrs.contains_key(attr) {
            self.attrs.insert(attr.to_string(), Attr::default());
        }
        if let Some(a) = self.attrs.get_mut(attr) {
            a.write(write);
        }
    }

    pub fn read(&mut self, attrs: &BTreeMap<String, String>, answer: Seen) -> Vec<String> {
        let mut found = Vec::new();
        for (attr, a) in &mut self.attrs {
            let shown = attrs.get(attr);
            if let Some(newer) = a.overwritten(shown, answer.start) {
                found.push(stale(attr, shown, &newer.id));
            }
            a.pending.push_back(Seen {
                write: shown.cloned(),
                ..answer.clone()
            });
        }
        found
    }

    pub fn write_order(&self, attrs: &BTreeMap<String, String>) -> Vec<String> {
        let mut broken = Vec::new();
        for (b, shown_b) in attrs {
            let Some(w2) = self
                .attrs
                .get(b)
                .and_then(|a| a.get(shown_b))
                .filter(|w| w.acked)
            else {
                continue;
            };
            for (a, attr) in self.attrs.iter().filter(|(a, _)| *a != b) {
                let Some(w1) = attr.latest_before(w2.start, None) else {
                    continue;
                };
                let shown = attrs.get(a);
                let known = shown.map(|s| attr.get(s));
                broken.extend(out_of_order((b, w2), (a, shown, known), w1));
            }
        }
        broken
    }

    /// The session is over: every window is whole.
    pub fn undone(&mut self) -> Vec<(Seen, String)> {
        let mut found = Vec::new();
        for (attr, a) in &mut self.attrs {
            a.settle(attr, u64::MAX);
            let mut undone = std::mem::take(&mut a.undone);
            undone.sort_by_key(|(index, _, _)| *index);
            found.extend(undone.into_iter().map(|(_, seen, detail)| (seen, detail)));
        }
        found
    }
}
