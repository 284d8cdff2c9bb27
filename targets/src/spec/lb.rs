//! `sessionbench lb`: the reference load balancer's settings.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::{Argv, cookie_name, duration, node_id, show};
use crate::lb::{LbConfig, Policy};
use crate::names::{NamedAddr, loopback};

/// Reverse proxy with pooled keep-alive upstream connections, nginx/HAProxy-style stickiness,
/// active and passive health checks, redispatch, and an admin API (GET/POST /backends,
/// DELETE /backends/NAME, GET /metrics) on its own loopback port. Prints one JSON readiness
/// line on stdout: {"ready":"lb","id":…,"addr":…,"admin":…}.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct LbSpec {
    /// Name in logs and in the readiness line.
    #[arg(long, default_value = "lb", value_parser = node_id)]
    pub id: String,
    /// Address clients connect to; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_parser = loopback)]
    pub listen: SocketAddr,
    /// Address of the admin API; must be loopback (it is unauthenticated).
    #[arg(long, default_value = "127.0.0.1:0", value_parser = loopback)]
    pub admin: SocketAddr,
    /// A backend as NAME=IP:PORT; repeat for each. NAME is the node id (its cookie route).
    #[arg(long = "backend", value_name = "NAME=ADDR")]
    pub backends: Vec<NamedAddr>,
    /// round-robin, least-conn, ip-hash (whole client address, modulo the backend list),
    /// cookie-route (the `.<node>` suffix of the session id), cookie-insert (own SERVERID cookie).
    #[arg(long, default_value = "round-robin")]
    pub policy: Policy,
    /// The application's session cookie (read by cookie-route).
    #[arg(long, default_value = "SESSION", value_parser = cookie_name)]
    pub cookie: String,
    /// The affinity cookie that cookie-insert sets.
    #[arg(long, default_value = "SERVERID", value_parser = cookie_name)]
    pub affinity_cookie: String,
    /// When a sticky backend is down, answer 503 instead of sending its clients elsewhere.
    #[arg(long)]
    pub no_redispatch: bool,
    /// Interval of active health checks (GET /healthz).
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub health_interval: Duration,
    /// A health check slower than this fails.
    #[arg(long, default_value = "500ms", value_parser = duration)]
    pub health_timeout: Duration,
    /// Consecutive failed checks that mark a backend down.
    #[arg(long, default_value_t = 1)]
    pub fall: u32,
    /// Consecutive passed checks that mark a backend up again.
    #[arg(long, default_value_t = 1)]
    pub rise: u32,
    /// Connect timeout to a backend.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub connect_timeout: Duration,
    /// Time a backend has to answer before the client gets 504 (or an idempotent request is
    /// redispatched).
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub upstream_timeout: Duration,
    /// Largest request body forwarded (bytes).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// How long SIGTERM waits for open connections.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub drain_timeout: Duration,
    #[command(flatten)]
    pub limits: crate::limits::ClientLimits,
    /// Worker threads, each serving its connections start to finish (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, clap::Parser)]
struct LbCommand {
    #[command(flatten)]
    spec: LbSpec,
}

impl LbSpec {
    /// A balancer with `policy` in front of `backends`, every other setting at its default.
    pub fn new(policy: Policy, backends: Vec<NamedAddr>) -> Self {
        Self {
            policy,
            backends,
            ..Self::parse(&[]).expect("the defaults parse")
        }
    }

    /// Reads the flags that [`Self::to_args`] writes (without the subcommand name).
    pub fn parse(args: &[&str]) -> Result<Self, clap::Error> {
        use clap::Parser;
        LbCommand::try_parse_from(std::iter::once("lb").chain(args.iter().copied())).map(|c| c.spec)
    }

    /// `lb --listen …`: every setting written out, so a restart runs the same balancer.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = Argv::new("lb");
        a.pair("--id", &self.id)
            .pair("--listen", self.listen)
            .pair("--admin", self.admin)
            .each("--backend", &self.backends)
            .pair("--policy", self.policy)
            .pair("--cookie", &self.cookie)
            .pair("--affinity-cookie", &self.affinity_cookie)
            .switch("--no-redispatch", self.no_redispatch)
            .pair("--health-interval", show(self.health_interval))
            .pair("--health-timeout", show(self.health_timeout))
            .pair("--fall", self.fall)
            .pair("--rise", self.rise)
            .pair("--connect-timeout", show(self.connect_timeout))
            .pair("--upstream-timeout", show(self.upstream_timeout))
            .pair("--max-body-bytes", self.max_body_bytes)
            .pair("--drain-timeout", show(self.drain_timeout))
            .opt("--threads", self.threads);
        a.0.extend(self.limits.args());
        a.0
    }

    /// The combinations clap cannot refuse on its own; the message names the flags.
    pub fn check(&self) -> Result<(), String> {
        if !crate::names::allowed(self.admin.ip()) {
            return Err(format!("--admin {} is not a loopback address", self.admin));
        }
        let mut names: Vec<&str> = self.backends.iter().map(|b| b.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("--backend {} is given twice", w[0]));
        }
        if self.health_interval.is_zero() || self.fall == 0 || self.rise == 0 {
            return Err("--health-interval, --fall and --rise must be above zero".into());
        }
        self.limits.check()
    }

    /// The balancer's resolved settings.
    pub fn config(&self) -> LbConfig {
        let defaults = LbConfig::new(self.backends.clone(), self.policy);
        LbConfig {
            session_cookie: self.cookie.clone(),
            affinity_cookie: self.affinity_cookie.clone(),
            redispatch: !self.no_redispatch,
            health_interval: self.health_interval,
            health_timeout: self.health_timeout,
            fall: self.fall,
            rise: self.rise,
            connect_timeout: self.connect_timeout,
            upstream_timeout: self.upstream_timeout,
            body_limit: self.max_body_bytes,
            drain_timeout: self.drain_timeout,
            limits: self.limits.clone(),
            workers: self.threads.unwrap_or(defaults.workers),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balancer_round_trips_through_arguments() {
        let mut spec = LbSpec::new(
            Policy::CookieInsert,
            vec!["node1=127.0.0.1:9001".parse().expect("backend")],
        );
        spec.threads = Some(1);
        spec.no_redispatch = true;
        spec.health_interval = Duration::from_millis(200);
        let args = spec.to_args();
        assert_eq!(args[0], "lb");
        let back = LbSpec::parse(&args[1..].iter().map(String::as_str).collect::<Vec<_>>())
            .expect("parses");
        assert_eq!(back, spec);
        assert_eq!(spec.check(), Ok(()));
        spec.backends
            .push("node1=127.0.0.1:9002".parse().expect("backend"));
        assert_eq!(spec.check(), Err("--backend node1 is given twice".into()));
    }
}
