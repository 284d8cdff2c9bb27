//! What a session's checker remembers of each answer and change, whichever memory keeps it,
//! and how each rule puts what it found into words (the same words from either memory).

use super::finding::{on, secs};
use crate::history::Op;

/// One write of the session: acknowledged, or of unknown outcome (it may land any time).
#[derive(Debug, Clone)]
pub(crate) struct Write {
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
pub(crate) struct Increment {
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

/// An answer that showed an attribute (or showed it missing).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub start: u64,
    pub end: u64,
    pub write: Option<String>,
    pub node: Option<String>,
}

/// An answer that showed the counter (the login's included).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shown {
    pub start: u64,
    pub end: u64,
    pub counter: u64,
    pub node: Option<String>,
}

/// What only the whole session shows: writes undone for good (the answer that first showed
/// it, and what it says), and the increments its last counter lacks.
#[derive(Debug, Default)]
pub(crate) struct Undone {
    pub writes: Vec<(Seen, String)>,
    pub increments: Option<(Shown, String, u64)>,
}

/// Why an answer showing `shown` of `attr` is stale: `newer` was acknowledged before it.
pub(super) fn stale(attr: &str, shown: Option<&String>, newer: &str) -> String {
    match shown {
        Some(seen) => format!("`{attr}` shows write {seen}, not the acknowledged {newer}"),
        None => format!("`{attr}` is missing; write {newer} was acknowledged"),
    }
}

/// Whether an answer that shows write `w2` on `b` breaks monotonic writes on `a`, where
/// it shows `shown` (the write `known` by that id, if one ended) though `w1` was acknowledged
/// before `w2` started; why, in words.
pub(super) fn out_of_order(
    (b, w2): (&str, &Write),
    (a, shown, known): (&str, Option<&String>, Option<Option<&Write>>),
    w1: &Write,
) -> Option<String> {
    let undone = match known {
        None => true,
        Some(Some(w)) => w.acked && w.precedes(w1),
        // A write not ended yet (the session's own, in flight beside this one).
        Some(None) => false,
    };
    undone.then(|| {
        format!(
            "`{b}` shows write {}, but `{a}` shows {} though write {} was acknowledged before it",
            w2.id,
            shown.map_or("nothing", String::as_str),
            w1.id
        )
    })
}

/// A write acknowledged and then undone: what the answers after it (`window`, the first four
/// of `count`) showed.
pub(super) fn undone_write(attr: &str, w: &Write, window: &[Seen], count: usize) -> String {
    let shown: Vec<String> = window
        .iter()
        .take(4)
        .map(|s| {
            format!(
                "{} at {}{}",
                s.write.as_deref().unwrap_or("nothing"),
                secs(s.start),
                on(s.node.as_deref())
            )
        })
        .collect();
    let more = count.saturating_sub(4);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "write {} to `{attr}` ({} to {}) was acknowledged and then undone: the answers after it, up to the attribute's next write, showed {}{more}",
        w.id,
        secs(w.start),
        secs(w.end),
        shown.join(", ")
    )
}

/// Increments the last counter lacks: `(lost, base, after)` as `increments_lost` finds them.
pub(super) fn lost_increments(last: u64, (lost, base, after): (u64, u64, u64)) -> String {
    format!(
        "counter {last} at the session's last answer, though an earlier answer showed {base} and {after} increments were acknowledged after it ({lost} lost)"
    )
}

/// What one base proves lost: the counter it leads the last answer to expect (`value`, plus
/// `after` increments applied since, less `maybe` of unknown outcome that may be in it), less
/// the `last` counter, and never more than the `applied` acknowledged increments. `(lost,
/// expected)`, or `None` when it proves nothing lost.
pub(super) fn base_loss(
    (value, after, maybe): (u64, u64, u64),
    last: u64,
    applied: u64,
) -> Option<(u64, u64)> {
    let expected = (value + after).saturating_sub(maybe);
    // No more are lost than were acknowledged: a base may hold what no increment of the
    // session put there (a counter that did not start at 0).
    let lost = expected.saturating_sub(last).min(applied);
    (lost > 0).then_some((lost, expected))
}
