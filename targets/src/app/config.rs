//! How one node is set up.

use std::time::Duration;

/// A node's settings, resolved (the CLI parses and defaults them).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Node id: reported in every view, in the `x-sessionbench-node` header and, with
    /// `route_suffix`, in the session cookie.
    pub id: String,
    /// Name of the session cookie (`SESSION` as in Spring Session; `JSESSIONID` for Tomcat).
    pub cookie: String,
    /// Append `.<id>` to session ids, as Tomcat's jvmRoute does, so a cookie-route LB can pin.
    pub route_suffix: bool,
    /// Idle time after which a session expires.
    pub max_inactive: Duration,
    /// Size of the `padding` attribute every new session gets, to study large sessions.
    pub padding_bytes: usize,
    /// Largest request body accepted; larger ones get 413.
    pub body_limit: usize,
    /// How often idle sessions are swept.
    pub sweep_interval: Duration,
    /// How long SIGTERM waits for in-flight requests before the node exits anyway.
    pub drain_timeout: Duration,
    /// Client timeouts and the connection cap.
    pub limits: crate::limits::ClientLimits,
    /// How a request's changes are saved.
    pub save: SaveMode,
    /// How long a whole-locked save waits for the session's lock before answering 503.
    pub lock_timeout: Duration,
}

/// How a request that changes a session saves it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum SaveMode {
    /// Only what the request changed (Spring Session's default, Tomcat's DeltaRequest); an
    /// increment is added where the counter is stored.
    #[default]
    Delta,
    /// The request's copy of the whole session is written back at its end (Tomcat's Redis
    /// session managers, Spring Session's `SaveMode.ALWAYS`): of two concurrent requests,
    /// the later save undoes the other's change.
    Whole,
    /// As `whole`, with the session locked across the request (memcached-session-manager's
    /// locking modes): concurrent requests of a session wait for each other.
    WholeLocked,
}

impl NodeConfig {
    /// Defaults for everything but the id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            cookie: "SESSION".into(),
            route_suffix: false,
            max_inactive: Duration::from_secs(30 * 60),
            padding_bytes: 0,
            body_limit: 1024 * 1024,
            sweep_interval: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(10),
            limits: crate::limits::ClientLimits::default(),
            save: SaveMode::Delta,
            lock_timeout: Duration::from_secs(1),
        }
    }
}
