//! How the load balancer is set up.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::policy::Policy;
use crate::app::is_node_id;

/// One backend as given on the command line or to the admin API: `node1=127.0.0.1:8081`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BackendSpec {
    /// The node's id; it is also the route that `cookie-route` reads from the session id and the
    /// value `cookie-insert` puts in its affinity cookie.
    pub name: String,
    pub addr: SocketAddr,
}

/// Why a `name=addr` backend could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseBackendError {
    #[error("`{0}` is not NAME=ADDR (for example node1=127.0.0.1:8081)")]
    Shape(String),
    #[error("backend name `{0}` must be 1 to 64 of A-Z a-z 0-9 `-` `_`")]
    Name(String),
    #[error("backend address `{0}` is not IP:PORT")]
    Addr(String),
}

impl BackendSpec {
    /// Checks a spec built from parts (the admin API's JSON).
    pub fn validate(&self) -> Result<(), ParseBackendError> {
        if is_node_id(&self.name) {
            Ok(())
        } else {
            Err(ParseBackendError::Name(self.name.clone()))
        }
    }
}

impl FromStr for BackendSpec {
    type Err = ParseBackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, addr) = s
            .split_once('=')
            .ok_or_else(|| ParseBackendError::Shape(s.into()))?;
        let addr = addr
            .parse()
            .map_err(|_| ParseBackendError::Addr(addr.into()))?;
        let spec = Self {
            name: name.into(),
            addr,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// The balancer's settings, resolved (the CLI parses and defaults them).
#[derive(Debug, Clone)]
pub struct LbConfig {
    pub backends: Vec<BackendSpec>,
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
    /// Worker threads, each serving its connections start to finish with its own upstream pool
    /// (nginx's worker model: no request crosses threads).
    pub workers: usize,
}

impl LbConfig {
    /// Defaults for everything but the backends and the policy.
    pub fn new(backends: Vec<BackendSpec>, policy: Policy) -> Self {
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
            workers: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_backend_specs() {
        let spec: BackendSpec = "node1=127.0.0.1:8081".parse().expect("valid");
        assert_eq!((spec.name.as_str(), spec.addr.port()), ("node1", 8081));
        assert_eq!(
            "node1".parse::<BackendSpec>(),
            Err(ParseBackendError::Shape("node1".into()))
        );
        assert_eq!(
            "no de=127.0.0.1:1".parse::<BackendSpec>(),
            Err(ParseBackendError::Name("no de".into()))
        );
        assert_eq!(
            "n=localhost:1".parse::<BackendSpec>(),
            Err(ParseBackendError::Addr("localhost:1".into()))
        );
    }
}
