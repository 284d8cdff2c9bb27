//! What a session's answers fed each check: a check whose input no answer showed (a counter,
//! the value a write sets, a version) did not run for that session, and the run says so
//! instead of counting it as zero.

use super::Checker;

/// What one session did that a check needs, and whether its answers showed it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// An operation followed its login.
    pub used: bool,
    /// It had an acknowledged write, and an answer after one showed the attributes.
    pub wrote: bool,
    pub write_shown: bool,
    /// It had an acknowledged increment, and an answer after one showed the counter.
    pub incremented: bool,
    pub counter_shown: bool,
    /// Two answers showed the counter, one ended before the last started: lost increments
    /// are counted between them.
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
        let last_start = self.counters.iter().map(|c| c.0).max();
        Fed {
            counter_twice: last_start.is_some_and(|last| self.counters.iter().any(|c| c.1 < last)),
            answered_twice: self.answers >= 2,
            ordered: self.orders.len() >= 2,
            ..self.fed
        }
    }
}
