//! The history's records (`history.bin`, and the JSON lines `history export` writes): every
//! operation, fault and sample of a run. The checkers read nothing else.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bumped when a record changes shape; readers refuse versions they do not know.
/// Version 2 added `node-metrics`; version 3 lets a view leave out what an application's
/// answers do not show; version 4 adds `driver-sample`; version 5 adds `session-end` and
/// `resources`; version 6 an operation's changed cookies and redirect target; version 7
/// `session-cookie` and a driver sample's `contention`. Older versions are still read.
pub const FORMAT_VERSION: u32 = 7;

/// The oldest history format this build reads.
pub const OLDEST_READABLE: u32 = 1;

/// One record of a history. Times are microseconds since the target's load started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Record {
    /// First line of every history.
    Header {
        format_version: u32,
        suite: String,
        seed: u64,
    },
    /// A target's processes are up and its load starts (time 0 of its records).
    TargetStart {
        target: String,
        nodes: BTreeMap<String, String>,
        lb: Option<String>,
        /// Time 0 on the wall clock, in µs since the Unix epoch: what lines up the histories
        /// of a run's shards (older histories have none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started_unix_us: Option<u64>,
    },
    Op(Op),
    Fault(FaultEvent),
    /// A node's `/metrics` when the load ended (replication traffic and the like). A node
    /// restarted during the run reports only what it counted since its restart.
    NodeMetrics {
        target: String,
        node: String,
        metrics: serde_json::Value,
    },
    /// The harness's own use of the machine, sampled every second of a target's load (and at
    /// its end), so a run can say when its numbers describe the harness, not the target.
    DriverSample {
        target: String,
        at_us: u64,
        /// CPU time (user and system) the harness process has used since it started.
        cpu_us: u64,
        /// Cores the driver can keep busy (its worker threads, at most the machine's).
        cores: u32,
        /// Open model: arrivals turned away so far at `max-sessions-in-flight`.
        #[serde(default, skip_serializing_if = "is_zero")]
        turned_away: u64,
        /// What kept the harness from running, so far (none where /proc does not say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contention: Option<Contention>,
    },
    /// What a target's processes hold, sampled every few seconds of its load (and at its
    /// end): what a long run watches for growth.
    Resources {
        target: String,
        at_us: u64,
        /// Resident memory in bytes of each process the harness started (a process that is
        /// down is left out), and of the harness itself (`sessionbench`), from /proc.
        rss: BTreeMap<String, u64>,
        /// `used_memory` of each Redis server, from `INFO memory`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        redis_used_memory: BTreeMap<String, u64>,
        /// Sessions each node holds (its `/metrics`), and each Redis server (its keys, one
        /// per session).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        sessions_held: BTreeMap<String, u64>,
        /// The most resident memory the harness has had since it started (`VmHWM`): exact,
        /// where the samples could miss a spike between them.
        #[serde(default, skip_serializing_if = "is_zero")]
        harness_peak: u64,
    },
    /// A session's virtual user is done with it (logged out, lost, or out of operations): no
    /// record of it follows, so a checker can settle it and forget it. Histories before
    /// version 5 have none; their sessions are settled when the load ends.
    SessionEnd {
        target: String,
        session: String,
        at_us: u64,
    },
    /// The session cookie's value after an answer changed it (the login, an id renamed on
    /// failover), for an application whose suite names its cookie: a finding names it, so
    /// the stack's own logs can be searched for the session. `None`: the cookie was removed.
    SessionCookie {
        target: String,
        session: String,
        at_us: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// The load on a target ended; `interrupted` when it was cut short (Ctrl-C, error).
    TargetEnd {
        target: String,
        at_us: u64,
        interrupted: bool,
    },
}

/// Counters of the machine's contention for its cores, read at a driver sample: a late
/// start is the machine's doing when the driver's threads were ready and no core was free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Contention {
    /// How long the harness's threads have run on a core, and waited, ready to run, for one
    /// (`/proc/self/task/*/schedstat`; threads that ended drop out).
    pub on_cpu_us: u64,
    pub run_queue_us: u64,
    /// The whole machine's busy CPU time (every core, every process, steal included) and its
    /// total, busy or idle (`/proc/stat`).
    pub machine_busy_us: u64,
    pub machine_us: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The error of an operation whose answer meant "not signed in": the session is gone. (The
/// reference node answers with this code; an API's `logged-out` rule maps its answer to it.)
pub const NO_SESSION: &str = "no-session";

/// How the error of a logout starts whose answer did not show a logout (an API's
/// `requests.logout.shows`): the session is still there.
pub const LOGOUT_FAILED: &str = "logout-failed";

/// One operation: its invocation and its single completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Op {
    pub target: String,
    /// The logical session: one login up to its logout, loss or the end of the load.
    pub session: String,
    pub kind: OpKind,
    /// For writes: the attribute and the write's unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<String>,
    /// When the schedule wanted it to start; latency is measured from here.
    pub intended_us: u64,
    pub start_us: u64,
    pub end_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The node that answered (its response header), if any did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub outcome: Outcome,
    /// Error code (`no-session`, `backend-down`, `timeout`, `connect`, …) for non-ok outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The session as the answer showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<View>,
    /// The answers changed the user's cookies (a `Set-Cookie` that set, renamed or deleted
    /// one): a new session id, a route suffix rewritten by another node.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cookies_changed: bool,
    /// A redirect's target, when the answer read was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Op {
    /// Whether the answer said the session is gone.
    pub fn no_session(&self) -> bool {
        self.error.as_deref() == Some(NO_SESSION)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    Login,
    Read,
    Write,
    Counter,
    Logout,
    /// A read with the cookie of a session just logged out: it must not succeed.
    Probe,
    /// A read after the session's last operation: what the stack kept of its last step,
    /// which no answer of the mix shows (increments lost there, a write undone).
    FinalRead,
}

impl OpKind {
    /// What a workload's mix makes (the rest are the harness's own checks), in a report's
    /// order.
    pub const WORKLOAD: [Self; 5] = [
        Self::Login,
        Self::Read,
        Self::Write,
        Self::Counter,
        Self::Logout,
    ];

    /// As the history and reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Read => "read",
            Self::Write => "write",
            Self::Counter => "counter",
            Self::Logout => "logout",
            Self::Probe => "probe",
            Self::FinalRead => "final-read",
        }
    }

    /// Sent by the harness to check a session, not drawn from the workload's mix: left out
    /// of throughput, latency and the per-second counts.
    pub fn is_check(self) -> bool {
        matches!(self, Self::Probe | Self::FinalRead)
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Answered with success.
    Ok,
    /// Definitely not applied (a refusal, or the request never left).
    Fail,
    /// Unknown: timed out or the connection broke after sending; it may have been applied.
    Indeterminate,
}

impl Outcome {
    /// As the history and reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Fail => "fail",
            Self::Indeterminate => "indeterminate",
        }
    }
}

/// The parts of a session view the checkers need (attribute values are left out: write ids
/// identify them). Reference nodes show every part; an application's API shows what its
/// templates read, and a part it does not show is not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct View {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Attribute name to the id of the write it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FaultEvent {
    pub target: String,
    /// Index of the fault in the plan.
    pub fault: usize,
    pub kind: String,
    pub node: String,
    pub phase: FaultPhase,
    pub at_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fault could not be applied (its inject or heal failed); `detail` says why.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultPhase {
    Start,
    End,
}
