//! The types every protocol shares: what an operation needs to make its request, and what its
//! answer means. A leaf, so the node protocol and the API templates both build on it.

use hyper::StatusCode;

use crate::history::{OpKind, Outcome, View};

/// What an operation needs to make its request.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub kind: OpKind,
    /// The session's user name.
    pub user: &'a str,
    /// The operation's number in the session (login is 0).
    pub seq: u32,
    /// For writes: the attribute and the write's unique id.
    pub write: Option<(&'a str, &'a str)>,
    /// For a login of several steps: which one (0 otherwise).
    pub part: usize,
    /// What the session's login steps extracted so far (by name index).
    pub extracted: &'a [String],
}

/// What an answer means for the operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub outcome: Outcome,
    /// `no-session` for an answer meaning "not signed in"; otherwise why it is not ok.
    pub error: Option<String>,
    pub node: Option<String>,
    pub view: Option<View>,
}

/// The outcome an HTTP status means when nothing else decides: applied, refused or unknown.
pub fn outcome_of(status: StatusCode) -> Outcome {
    if status.is_success() {
        Outcome::Ok
    } else if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        // The balancer gave up after sending (502, 504), or the node failed midway: maybe
        // applied.
        Outcome::Indeterminate
    } else {
        // 4xx, and 503 (no backend, backend down, store unavailable): nothing was applied.
        Outcome::Fail
    }
}
