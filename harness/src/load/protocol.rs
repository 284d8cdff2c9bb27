//! How an operation becomes a request and its answer an outcome: sessionbench's own node
//! protocol (every answer shows the whole session), or an application's API described by the
//! suite's request templates.

use std::collections::BTreeMap;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::api::Api;
use super::client::{Call, Reply};
use crate::history::{OpKind, Outcome, View};
use crate::plan::TargetPlan;

/// Attributes a reference session writes to: few, so reads often show a write that must be
/// there.
const ATTRS: u32 = 4;

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

#[derive(Debug)]
pub enum Protocol {
    Reference,
    Api(Box<Api>),
}

impl Protocol {
    /// The target's API if its suite describes one, else the node protocol. An error (every
    /// problem, joined) only for a plan that validation did not make.
    pub fn for_target(target: &TargetPlan) -> Result<Self, String> {
        let Some(api) = target.external.as_ref().and_then(|e| e.api.as_ref()) else {
            return Ok(Self::Reference);
        };
        Api::build(api)
            .map(|a| Self::Api(Box::new(a)))
            .map_err(|errors| {
                errors
                    .iter()
                    .map(|e| format!("`{}`: {}", e.key, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }

    /// The attribute a write sets: one of a few for reference nodes, the one value otherwise.
    pub fn write_attr(&self, pick: impl FnOnce(u32) -> u32) -> String {
        match self {
            Self::Reference => format!("a{}", pick(ATTRS)),
            Self::Api(_) => "value".into(),
        }
    }

    pub fn call(&self, step: &Step) -> Call {
        match self {
            Self::Reference => reference_call(step),
            Self::Api(api) => api.call(step),
        }
    }

    /// `signed_in`: the session cookie is in the jar (what a login must leave there).
    pub fn read(&self, kind: OpKind, reply: &Reply, signed_in: impl Fn(&str) -> bool) -> Reading {
        match self {
            Self::Reference => reference_read(reply),
            Self::Api(api) => api.read(kind, reply, signed_in),
        }
    }
}

fn reference_call(step: &Step) -> Call {
    match step.kind {
        OpKind::Login => Call::new(Method::POST, "/login").json(&json!({ "user": step.user })),
        OpKind::Write => {
            let (attr, write) = step.write.unwrap_or_default();
            Call::new(Method::PUT, format!("/session/attrs/{attr}"))
                .json(&json!({ "value": step.seq, "write": write }))
        }
        OpKind::Counter => Call::new(Method::POST, "/session/counter"),
        OpKind::Logout => Call::new(Method::POST, "/logout"),
        OpKind::Read | OpKind::Probe => Call::new(Method::GET, "/session"),
    }
}

/// The parts of a session view the checkers need; attribute values are skipped unparsed.
#[derive(Deserialize)]
struct WireView {
    user: String,
    counter: u64,
    version: u64,
    attrs: BTreeMap<String, WireAttr>,
}

#[derive(Deserialize)]
struct WireAttr {
    write: String,
}

#[derive(Deserialize)]
struct WireError {
    error: String,
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

fn reference_read(reply: &Reply) -> Reading {
    let status = reply.status;
    let outcome = outcome_of(status);
    let error = (outcome != Outcome::Ok).then(|| {
        serde_json::from_slice::<WireError>(&reply.body)
            .map_or_else(|_| format!("http-{}", status.as_u16()), |e| e.error)
    });
    let view = if outcome == Outcome::Ok {
        serde_json::from_slice::<WireView>(&reply.body)
            .ok()
            .map(|w| View {
                user: Some(w.user),
                counter: Some(w.counter),
                version: Some(w.version),
                attrs: Some(w.attrs.into_iter().map(|(k, a)| (k, a.write)).collect()),
            })
    } else {
        None
    };
    Reading {
        outcome,
        error,
        node: reply
            .headers
            .get("x-sessionbench-node")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        view,
    }
}
