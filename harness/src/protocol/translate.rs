//! Which protocol a target speaks, and sessionbench's own node protocol.

use std::collections::BTreeMap;

use hyper::Method;
use serde::Deserialize;
use serde_json::json;

use super::{Api, Call, Cookies, Reading, Reply, Step, outcome_of};
use crate::history::{OpKind, Outcome, View};
use sessionbench_model::plan::TargetPlan;

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

    /// The attribute a write sets: one of the workload's `attributes` for reference nodes,
    /// the one value otherwise.
    pub fn write_attr(&self, attributes: u32, pick: impl FnOnce(u32) -> u32) -> String {
        match self {
            Self::Reference => format!("a{}", pick(attributes.max(1))),
            Self::Api(_) => "value".into(),
        }
    }

    pub fn call(&self, step: &Step) -> Call {
        match self {
            Self::Reference => reference_call(step),
            Self::Api(api) => api.call(step),
        }
    }

    /// `cookies`: the user's jar after the answer (a login must leave the session cookie).
    pub fn read(&self, kind: OpKind, reply: &Reply, cookies: Cookies) -> Reading {
        match self {
            Self::Reference => reference_read(reply),
            Self::Api(api) => api.read(kind, reply, cookies),
        }
    }

    /// The session cookie's name, where the suite names it (an application's API).
    pub fn session_cookie(&self) -> Option<&str> {
        match self {
            Self::Reference => None,
            Self::Api(api) => api.session_cookie(),
        }
    }

    /// How many requests a login is (one for the node protocol).
    pub fn login_steps(&self) -> usize {
        match self {
            Self::Reference => 1,
            Self::Api(api) => api.login_steps(),
        }
    }

    /// Redirects the request of `kind` (login step `part`) follows to its answer.
    pub fn follow_redirects(&self, kind: OpKind, part: usize) -> u32 {
        match self {
            Self::Reference => 0,
            Self::Api(api) => api.follow_redirects(kind, part),
        }
    }

    /// Reads the values login step `part` extracts; the error says which is missing.
    pub fn extract(
        &self,
        part: usize,
        reply: &Reply,
        cookies: Cookies,
        extracted: &mut Vec<String>,
    ) -> Result<(), String> {
        match self {
            Self::Reference => Ok(()),
            Self::Api(api) => api.extract(part, reply, cookies, extracted),
        }
    }
}

pub(super) fn reference_call(step: &Step) -> Call {
    match step.kind {
        OpKind::Login => Call::new(Method::POST, "/login").json(&json!({ "user": step.user })),
        OpKind::Write => {
            let (attr, write) = step.write.unwrap_or_default();
            Call::new(Method::PUT, format!("/session/attrs/{attr}"))
                .json(&json!({ "value": step.seq, "write": write }))
        }
        OpKind::Counter => Call::new(Method::POST, "/session/counter"),
        OpKind::Logout => Call::new(Method::POST, "/logout"),
        OpKind::Read | OpKind::Probe | OpKind::FinalRead => Call::new(Method::GET, "/session"),
    }
}

/// The parts of a session view the checkers need; attribute values are skipped unparsed.
#[derive(Deserialize)]
pub(super) struct WireView {
    user: String,
    counter: u64,
    version: u64,
    attrs: BTreeMap<String, WireAttr>,
}

#[derive(Deserialize)]
pub(super) struct WireAttr {
    write: String,
}

#[derive(Deserialize)]
pub(super) struct WireError {
    error: String,
}

pub(super) fn reference_read(reply: &Reply) -> Reading {
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
