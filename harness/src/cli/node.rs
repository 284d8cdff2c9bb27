//! `sessionbench node`: one reference session node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use sessionbench_targets::app::{self, Node, NodeConfig};
use sessionbench_targets::readiness::Ready;
use sessionbench_targets::store::{LocalStore, SessionStore};

use super::args;
use super::exit::CliError;

/// Serves the session protocol (POST /login, GET /session, PUT /session/attrs/NAME,
/// POST /session/counter, POST /logout, GET /healthz, GET /metrics) and prints one JSON
/// readiness line on stdout: {"ready":"node","id":…,"addr":…}. SIGTERM drains and exits;
/// SIGKILL is a crash.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Node id, shown in every session view and used as the cookie route.
    #[arg(long, value_parser = args::node_id)]
    id: String,
    /// Address to listen on; port 0 picks a free port (read it from the readiness line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where sessions live.
    #[arg(long, value_enum, default_value_t = StoreKind::Local)]
    store: StoreKind,
    /// Session cookie name (JSESSIONID for Tomcat-like, SESSION for Spring-like).
    #[arg(long, default_value = "SESSION", value_parser = args::cookie_name)]
    cookie: String,
    /// Append `.<id>` to session ids (Tomcat jvmRoute), for cookie-route balancing.
    #[arg(long)]
    route_suffix: bool,
    /// Idle time after which a session expires.
    #[arg(long, default_value = "30m", value_parser = args::duration)]
    max_inactive: Duration,
    /// Size in bytes of a `padding` attribute added to every new session.
    #[arg(long, default_value_t = 0)]
    padding_bytes: usize,
    /// Largest request body accepted (bytes); larger ones get 413.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// How often idle sessions are swept.
    #[arg(long, default_value = "1s", value_parser = args::duration)]
    sweep_interval: Duration,
    /// How long SIGTERM waits for in-flight requests.
    #[arg(long, default_value = "10s", value_parser = args::duration)]
    drain_timeout: Duration,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Session stores a node can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// In this process's memory: lost when the node dies.
    Local,
}

pub fn run(a: NodeArgs) -> Result<(), CliError> {
    if a.sweep_interval.is_zero() {
        return Err(CliError::Usage(
            "--sweep-interval must be above zero".into(),
        ));
    }
    let config = NodeConfig {
        id: a.id.clone(),
        cookie: a.cookie,
        route_suffix: a.route_suffix,
        max_inactive: a.max_inactive,
        padding_bytes: a.padding_bytes,
        body_limit: a.max_body_bytes,
        sweep_interval: a.sweep_interval,
        drain_timeout: a.drain_timeout,
    };
    let store: Arc<dyn SessionStore> = match a.store {
        StoreKind::Local => Arc::new(LocalStore::new()),
    };
    args::die_with_parent();
    let who = format!("node {}", a.id);
    args::runtime(a.threads)
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(async {
            let (listener, addr) = args::bind(a.listen).await?;
            Ready {
                ready: "node".into(),
                id: a.id.clone(),
                addr,
                admin: None,
            }
            .announce()
            .map_err(CliError::io("cannot print the readiness line"))?;
            app::run(listener, Node::new(config, store), args::until_signal(who))
                .await
                .map_err(CliError::io("serving failed"))
        })
}
