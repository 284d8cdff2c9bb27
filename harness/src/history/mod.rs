//! The run's history: one JSON record per line, streamed while the run goes so an interrupted
//! or crashed run keeps what happened. The checkers read nothing else.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Bumped when a record changes shape; readers refuse versions they do not know.
/// Version 2 added `node-metrics`; version 3 lets a view leave out what an application's
/// answers do not show; version 4 adds `driver-sample`. Older versions are still read.
pub const FORMAT_VERSION: u32 = 4;

/// The oldest history format this build reads.
const OLDEST_READABLE: u32 = 1;

/// One line of `history.jsonl`. Times are microseconds since the target's load started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        /// Cores the harness may run on.
        cores: u32,
        /// Open model: arrivals turned away so far at `max-sessions-in-flight`.
        #[serde(default, skip_serializing_if = "is_zero")]
        turned_away: u64,
    },
    /// The load on a target ended; `interrupted` when it was cut short (Ctrl-C, error).
    TargetEnd {
        target: String,
        at_us: u64,
        interrupted: bool,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The error of an operation whose answer meant "not signed in": the session is gone. (The
/// reference node answers with this code; an API's `logged-out` rule maps its answer to it.)
pub const NO_SESSION: &str = "no-session";

/// One operation: its invocation and its single completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

impl Op {
    /// Whether the answer said the session is gone.
    pub fn no_session(&self) -> bool {
        self.error.as_deref() == Some(NO_SESSION)
    }

    /// A read of `session` on target `t` (times in µs), answered 200 if `outcome` is ok:
    /// what the analysis tests build histories from.
    #[cfg(test)]
    pub fn test_read(session: &str, times_us: (u64, u64, u64), outcome: Outcome) -> Self {
        let (intended_us, start_us, end_us) = times_us;
        Self {
            target: "t".into(),
            session: session.into(),
            kind: OpKind::Read,
            attr: None,
            write: None,
            intended_us,
            start_us,
            end_us,
            status: (outcome == Outcome::Ok).then_some(200),
            node: None,
            outcome,
            error: None,
            view: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    Login,
    Read,
    Write,
    Counter,
    Logout,
    /// A read with the cookie of a session just logged out: it must not succeed.
    Probe,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Answered with success.
    Ok,
    /// Definitely not applied (a refusal, or the request never left).
    Fail,
    /// Unknown: timed out or the connection broke after sending; it may have been applied.
    Indeterminate,
}

/// The parts of a session view the checkers need (attribute values are left out: write ids
/// identify them). Reference nodes show every part; an application's API shows what its
/// templates read, and a part it does not show is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultPhase {
    Start,
    End,
}

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: not a history record: {source}")]
    Record {
        file: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{file}: history format version {found} is not supported (this build reads {OLDEST_READABLE} to {FORMAT_VERSION})"
    )]
    Version { file: String, found: u32 },
    #[error("{file}: the first line is not a history header")]
    NoHeader { file: String },
}

/// Appends records to a file, one per line.
#[derive(Debug)]
pub struct Writer {
    out: std::io::BufWriter<std::fs::File>,
}

impl Writer {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: std::io::BufWriter::new(std::fs::File::create(path)?),
        })
    }

    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Reads a whole history, checking its format version. A last line cut short by a crash is
/// dropped, not an error: everything before it is intact.
pub fn read(path: &Path) -> Result<Vec<Record>, ReadError> {
    let file = path.display().to_string();
    let io = |source| ReadError::Io {
        file: file.clone(),
        source,
    };
    let reader = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    let lines: Vec<String> = reader.lines().collect::<Result<_, _>>().map_err(io)?;
    let mut records = Vec::with_capacity(lines.len());
    let last = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            Err(e) if i + 1 == last && e.is_eof() => break,
            Err(source) => {
                return Err(ReadError::Record {
                    file,
                    line: i + 1,
                    source,
                });
            }
        }
    }
    match records.first() {
        Some(Record::Header { format_version, .. })
            if (OLDEST_READABLE..=FORMAT_VERSION).contains(format_version) =>
        {
            Ok(records)
        }
        Some(Record::Header { format_version, .. }) => Err(ReadError::Version {
            file,
            found: *format_version,
        }),
        _ => Err(ReadError::NoHeader { file }),
    }
}
