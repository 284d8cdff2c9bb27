//! `sessionbench lb`: the reference load balancer.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use sessionbench_targets::lb::{self, BackendSpec, LbConfig, Policy};
use sessionbench_targets::readiness::Ready;

use super::args;
use super::exit::CliError;

/// Reverse proxy with pooled keep-alive upstream connections, nginx/HAProxy-style stickiness,
/// active and passive health checks, redispatch, and an admin API (GET/POST /backends,
/// DELETE /backends/NAME, GET /metrics) on its own loopback port. Prints one JSON readiness
/// line on stdout: {"ready":"lb","id":…,"addr":…,"admin":…}.
#[derive(Debug, Args)]
pub struct LbArgs {
    /// Name in logs and in the readiness line.
    #[arg(long, default_value = "lb", value_parser = args::node_id)]
    id: String,
    /// Address clients connect to; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Address of the admin API; must be loopback (it is unauthenticated).
    #[arg(long, default_value = "127.0.0.1:0")]
    admin: SocketAddr,
    /// A backend as NAME=IP:PORT; repeat for each. NAME is the node id (its cookie route).
    #[arg(long = "backend", value_name = "NAME=ADDR")]
    backends: Vec<BackendSpec>,
    /// round-robin, least-conn, ip-hash (whole client address, modulo the backend list),
    /// cookie-route (the `.<node>` suffix of the session id), cookie-insert (own SERVERID cookie).
    #[arg(long, default_value = "round-robin")]
    policy: Policy,
    /// The application's session cookie (read by cookie-route).
    #[arg(long, default_value = "SESSION", value_parser = args::cookie_name)]
    cookie: String,
    /// The affinity cookie that cookie-insert sets.
    #[arg(long, default_value = "SERVERID", value_parser = args::cookie_name)]
    affinity_cookie: String,
    /// When a sticky backend is down, answer 503 instead of sending its clients elsewhere.
    #[arg(long)]
    no_redispatch: bool,
    /// Interval of active health checks (GET /healthz).
    #[arg(long, default_value = "1s", value_parser = args::duration)]
    health_interval: Duration,
    /// A health check slower than this fails.
    #[arg(long, default_value = "500ms", value_parser = args::duration)]
    health_timeout: Duration,
    /// Consecutive failed checks that mark a backend down.
    #[arg(long, default_value_t = 1)]
    fall: u32,
    /// Consecutive passed checks that mark a backend up again.
    #[arg(long, default_value_t = 1)]
    rise: u32,
    /// Connect timeout to a backend.
    #[arg(long, default_value = "1s", value_parser = args::duration)]
    connect_timeout: Duration,
    /// Time a backend has to answer before the client gets 504 (or an idempotent request is
    /// redispatched).
    #[arg(long, default_value = "10s", value_parser = args::duration)]
    upstream_timeout: Duration,
    /// Largest request body forwarded (bytes).
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// How long SIGTERM waits for open connections.
    #[arg(long, default_value = "5s", value_parser = args::duration)]
    drain_timeout: Duration,
    /// Worker threads, each serving its connections start to finish (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(a: LbArgs) -> Result<(), CliError> {
    if !a.admin.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "--admin {} is not a loopback address",
            a.admin
        )));
    }
    let mut names: Vec<&str> = a.backends.iter().map(|b| b.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(CliError::Usage(format!(
            "--backend {} is given twice",
            w[0]
        )));
    }
    if a.health_interval.is_zero() || a.fall == 0 || a.rise == 0 {
        return Err(CliError::Usage(
            "--health-interval, --fall and --rise must be above zero".into(),
        ));
    }
    let defaults = LbConfig::new(a.backends, a.policy);
    let config = LbConfig {
        session_cookie: a.cookie,
        affinity_cookie: a.affinity_cookie,
        redispatch: !a.no_redispatch,
        health_interval: a.health_interval,
        health_timeout: a.health_timeout,
        fall: a.fall,
        rise: a.rise,
        connect_timeout: a.connect_timeout,
        upstream_timeout: a.upstream_timeout,
        body_limit: a.max_body_bytes,
        drain_timeout: a.drain_timeout,
        workers: a.threads.unwrap_or(defaults.workers),
        ..defaults
    };
    args::die_with_parent();
    let who = if a.id == "lb" {
        a.id.clone()
    } else {
        format!("lb {}", a.id)
    };
    // The workers have runtimes of their own; this one only accepts, checks health and serves
    // the admin API.
    args::runtime(Some(1))
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(async {
            let (listener, addr) = args::bind(a.listen).await?;
            let (admin, admin_addr) = args::bind(a.admin).await?;
            Ready {
                ready: "lb".into(),
                id: a.id.clone(),
                addr,
                admin: Some(admin_addr),
                cluster: None,
            }
            .announce()
            .map_err(CliError::io("cannot print the readiness line"))?;
            lb::run(listener, admin, config, args::until_signal(who))
                .await
                .map_err(CliError::io("serving failed"))
        })
}
