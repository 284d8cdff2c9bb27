//! What a session's answers fed each check: a check whose input no answer showed (a counter,
//! the value a write sets, a version) did not run for that session, and the run says so
//! instead of counting it as zero.

use super::Checker;

/// What one session did that a check needs, and whether its answers showed it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// An operation followed its login.
    pub used: bool,
    /// An answer came after an acknowledged write (one ended before it started), and one
    /// such answer showed the attributes: a write the session made last is judged by none.
    pub wrote: bool,
    pub write_shown: bool,
    /// The same for increments and the counter.
    pub incremented: bool,
    pub counter_shown: bool,
    /// An answer showed the counter, an acknowledged increment started after it ended, and
    /// a last answer that showed the counter applied it: lost increments are counted
    /// between them.
    pub counter_twice: bool,
    /// Two answers succeeded (monotonic reads compare two), and two showed an order (a
    /// version, or else the counter).
    pub answered_twice: bool,
    pub ordered: bool,
    /// It logged out (acknowledged), and a request followed the logout.
    pub logged_out: bool,
    pub replayed: bool,
}

impl Checker {
    /// What the session's answers fed each check so far.
    pub fn fed(&self) -> Fed {
        let last = self.counters.iter().max_by_key(|c| c.0);
        // The earliest base before the last answer, and an increment it applied after it.
        let counted = last.is_some_and(|last| {
            let base = self
                .counters
                .iter()
                .map(|c| c.1)
                .filter(|&end| end < last.0)
                .min();
            base.is_some_and(|base| {
                self.increments.iter().any(|i| {
                    i.acked
                        && i.start > base
                        && (i.end < last.0 || (i.start == last.0 && i.end == last.1))
                })
            })
        });
        Fed {
            counter_twice: counted,
            answered_twice: self.answers >= 2,
            ordered: self.orders.len() >= 2,
            ..self.fed
        }
    }
}
