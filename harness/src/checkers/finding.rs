//! What a check finds: its kind, the finding in words, and the mark a run's measures keep.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    SessionLost,
    StaleRead,
    MonotonicRead,
    Resurrection,
    /// Gone while used within its idle limit, though it had lived past it: a store that
    /// expires sessions by age (a TTL not renewed on access), or a copy that idled out.
    ExpiredEarly,
    /// Served after an idle time longer than its limit (and a grace for sweeps and clocks).
    Outlived,
    /// A logout answered, but not as a logout that worked shows (`requests.logout.shows`):
    /// the session is still there, not resurrected.
    LogoutFailed,
    /// An acknowledged write that every read after it (until the attribute's next write)
    /// shows undone, or acknowledged increments the session's last counter does not hold:
    /// a concurrent whole-session save wrote an older copy over it.
    LostUpdate,
    /// A read that shows a write but not one acknowledged before that write started (on
    /// another attribute, not overwritten since).
    MonotonicWrite,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::SessionLost => "session-lost",
            Self::StaleRead => "stale-read",
            Self::MonotonicRead => "monotonic-read",
            Self::Resurrection => "resurrection",
            Self::ExpiredEarly => "expired-early",
            Self::Outlived => "outlived",
            Self::LogoutFailed => "logout-failed",
            Self::LostUpdate => "lost-update",
            Self::MonotonicWrite => "monotonic-write",
        }
    }
}

/// One anomaly in one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    pub session: String,
    pub at_us: u64,
    /// When the answer that showed it arrived: the state it saw is from before then.
    pub answered_us: u64,
    /// Where the session was last served, then where the anomaly was seen.
    pub nodes: Vec<String>,
    pub detail: String,
    /// How many updates a lost-update finding stands for (lost increments); 1 otherwise.
    pub count: u64,
}

impl Kind {
    /// The session is gone: it counts as lost, and nothing later in it is judged.
    pub fn is_loss(self) -> bool {
        matches!(self, Self::SessionLost | Self::ExpiredEarly)
    }
}

/// A finding without its words: what the measures of a run need of every finding, where
/// only the first ones are kept whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub kind: Kind,
    pub at_us: u64,
    pub answered_us: u64,
    /// How many it stands for (increments lost in one counter).
    pub count: u64,
}

impl Finding {
    pub fn mark(&self) -> Mark {
        Mark {
            kind: self.kind,
            at_us: self.at_us,
            answered_us: self.answered_us,
            count: self.count,
        }
    }
}

/// What one session's history shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionCheck {
    /// Its login succeeded.
    pub established: bool,
    pub findings: Vec<Finding>,
}

impl SessionCheck {
    pub fn lost(&self) -> bool {
        self.findings.iter().any(|f| f.kind.is_loss())
    }
}

/// ` on node2`, or nothing where the answer did not say which node served it.
pub(super) fn on(node: Option<&str>) -> String {
    node.map_or(String::new(), |n| format!(" on {n}"))
}

pub(super) fn secs(us: u64) -> String {
    format!("{:.2} s", us as f64 / 1e6)
}
