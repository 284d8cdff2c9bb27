//! How the load balancer is set up.

use std::time::Duration;

use super::policy::Policy;
use crate::names::NamedAddr;

/// The balancer's settings, resolved (the CLI parses and defaults them).
#[derive(Debug, Clone)]
pub struct LbConfig {
    pub backends: Vec<NamedAddr>,
    pub policy: Policy,
    /// The application's session cookie, whose `.<node>` suffix `cookie-route` reads.
    pub session_cookie: String,
    /// The cookie `cookie-insert` adds (HAProxy's `cookie SERVERID insert indirect nocache`).
    pub affinity_cookie: String,
    /// When a sticky backend is down, send its clients elsewhere (HAProxy `option redispatch`);
    /// when false they get 503 until it is back (httpd `nofailover=On`).
    pub redispatch: bool,
    /// Active health checks: `GET /healthz` on every backend this often.
    pub health_interval: Duration,
    /// A health check slower than this fails.
    pub health_timeout: Duration,
    /// Consecutive failed checks that mark a backend down.
    pub fall: u32,
    /// Consecutive passed checks that mark a down backend up again.
    pub rise: u32,
    /// Connecting to a backend slower than this counts as a connection failure.
    pub connect_timeout: Duration,
    /// A backend that has not answered in this long gets the request's answer 504.
    pub upstream_timeout: Duration,
    /// Largest request body forwarded; larger ones get 413.
    pub body_limit: usize,
    /// Largest response body relayed (responses are read whole); larger ones get 502.
    pub max_response_bytes: usize,
    /// How long SIGTERM waits for open connections to finish.
    pub drain_timeout: Duration,
    /// Client timeouts and the connection cap.
    pub limits: crate::limits::ClientLimits,
    /// Worker threads, each serving its connections start to finish with its own upstream pool
    /// (nginx's worker model: no request crosses threads).
    pub workers: usize,
}

impl LbConfig {
    /// Defaults for everything but the backends and the policy.
    pub fn new(backends: Vec<NamedAddr>, policy: Policy) -> Self {
        Self {
            backends,
            policy,
            session_cookie: "SESSION".into(),
            affinity_cookie: "SERVERID".into(),
            redispatch: true,
            health_interval: Duration::from_secs(1),
            health_timeout: Duration::from_millis(500),
            fall: 1,
            rise: 1,
            connect_timeout: Duration::from_secs(1),
            upstream_timeout: Duration::from_secs(10),
            body_limit: 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            drain_timeout: Duration::from_secs(5),
            limits: crate::limits::ClientLimits::default(),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}
