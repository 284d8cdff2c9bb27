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
                                "{} at {} on {}",
                                s.write.as_deref().unwrap_or("nothing"),
                                secs(s.start),
                                s.node.as_deref().unwrap_or("?")
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
        if let (Some(base), Some(last)) = (
            self.counter_at_login,
            self.counters.iter().max_by_key(|c| c.0),
        ) {
            let acked = self
                .increments
                .iter()
                .filter(|(end, _)| *end < last.0)
                .count() as u64;
            let expected = base + acked;
            if last.2 < expected {
                lost_increments = Some((
                    last.clone(),
                    format!(
                        "counter {} at the session's last answer, after {acked} increments acknowledged before it ({} lost)",
                        last.2,
                        expected - last.2
                    ),
                    expected - last.2,
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
