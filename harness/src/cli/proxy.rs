//! `sessionbench proxy`: a TCP fault proxy in front of one upstream.

use std::net::SocketAddr;
use std::time::Duration;

use sessionbench_targets::proxy::Proxy;

use sessionbench_common::names::loopback;

use clap::Args;
use sessionbench_common::readiness::Ready;

use super::args;
use super::exit::CliError;

/// Forwards every TCP connection to --upstream and, when told through the admin API, delays,
/// throttles, blackholes, resets or refuses traffic, per direction. Admin API on its own
/// loopback port: GET /faults, PUT /faults with a JSON body such as
/// {"upstream":{"latency-ms":50,"jitter-ms":10,"bandwidth-bytes-per-s":0,"blackhole":false},
/// "downstream":{…},"reset":false,"refuse":false} (missing fields are off), DELETE /faults.
/// Prints one JSON readiness line: {"ready":"proxy","id":…,"addr":…,"admin":…}.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Name in logs and in the readiness line.
    #[arg(long, default_value = "proxy", value_parser = args::node_id)]
    id: String,
    /// Address clients connect to (loopback); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_parser = loopback)]
    listen: SocketAddr,
    /// Where every connection is forwarded; must be loopback.
    #[arg(long, value_parser = loopback)]
    upstream: SocketAddr,
    /// Address of the admin API; must be loopback (it is unauthenticated).
    #[arg(long, default_value = "127.0.0.1:0", value_parser = loopback)]
    admin: SocketAddr,
    /// Close a connection that carried nothing either way for this long.
    #[arg(long, default_value = "60s", value_parser = sessionbench_targets::spec::duration)]
    idle_timeout: Duration,
    /// Client connections held at once; more are closed as they arrive.
    #[arg(long, default_value_t = 65_536)]
    max_connections: usize,
}

pub fn run(a: ProxyArgs) -> Result<(), CliError> {
    args::die_with_parent();
    let who = format!("proxy {}", a.id);
    args::runtime(None)
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(async {
            let (listener, addr) = args::bind(a.listen).await?;
            let (admin, admin_addr) = args::bind(a.admin).await?;
            if a.idle_timeout.is_zero() || a.max_connections == 0 {
                return Err(CliError::Usage(
                    "--idle-timeout and --max-connections must be above zero".into(),
                ));
            }
            let proxy = Proxy::with_limits(a.upstream, a.idle_timeout, a.max_connections);
            sessionbench_targets::proxy::start(listener, admin, proxy);
            Ready {
                ready: "proxy".into(),
                id: a.id.clone(),
                addr,
                admin: Some(admin_addr),
                cluster: None,
            }
            .announce()
            .map_err(CliError::io("cannot print the readiness line"))?;
            args::until_signal(who).await;
            Ok(())
        })
}
