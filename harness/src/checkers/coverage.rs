//! What a session's answers fed each check: a check whose input no answer showed (a counter,
//! the value a write sets, a version) did not run for that session, and the run says so
//! instead of counting it as zero.

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
    /// Its operations came out of the order the checks' memory relies on (the order they
    /// ended in, none started before an earlier one was due): what rests on order is not
    /// judged for it.
    pub unordered: bool,
}
