//! How virtual users drive sessions: the load model, think time and the mix of operations.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ms;

/// How virtual users drive sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Workload {
    pub model: LoadModel,
    /// Pause between a session's operations; also its cadence for latency correction.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "think-time-ms")]
    pub think_time: Duration,
    /// Each pause is drawn from `think_time` × [1 − jitter, 1 + jitter], as people pause: with
    /// identical pauses, users spread over a period would each meet a round-robin LB at the
    /// same point of its rotation every time, and round robin would act sticky.
    #[serde(default)]
    pub think_time_jitter: f64,
    /// Operations after login, unless the session logs out or is lost first.
    pub ops_per_session: u32,
    /// An operation without an answer in this long is indeterminate.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "request-timeout-ms")]
    pub request_timeout: Duration,
    /// Requests a session may have in flight at once (a page's parallel fetches).
    #[serde(default = "one")]
    pub parallel: u32,
    /// Attributes the writes of a session go to.
    #[serde(default = "four")]
    pub attributes: u32,
    pub mix: Mix,
    /// Users who step away: after every `every` of a session, a pause of `for` before its
    /// next operation (what idle expiry is checked against).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<Idle>,
}

/// A pause in every session, at a fixed cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Idle {
    /// Time in the session between pauses.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "every-ms")]
    pub every: Duration,
    /// How long each pause lasts.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "for-ms")]
    pub pause: Duration,
}

/// Closed loop (a fixed number of users, each starting a new session when one ends) or open
/// loop (sessions arrive at a fixed rate whatever the target's speed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    tag = "kind"
)]
pub enum LoadModel {
    Closed {
        virtual_users: u32,
    },
    Open {
        arrival_rate: f64,
        max_sessions_in_flight: u32,
    },
}

/// Relative weights of the operations a session makes after login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Mix {
    pub read: u32,
    pub write: u32,
    pub counter: u32,
    /// A logout ends the session (followed by one read with the old cookie, which must fail).
    pub logout: u32,
}

fn one() -> u32 {
    1
}

fn four() -> u32 {
    4
}
