//! `sessionbench node`: one reference session node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use sessionbench_targets::app::{self, Node, NodeConfig};
use sessionbench_targets::cluster::{ClusterConfig, FrameCodec, Replication};
use sessionbench_targets::codec::{FormatCodec, Schema, SessionCodec};
use sessionbench_targets::lb::BackendSpec;
use sessionbench_targets::readiness::Ready;
use sessionbench_targets::store::{
    BackupStore, DeltaStore, Flush, LocalStore, RedisConfig, RedisSource, RedisStore, SessionStore,
};

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
    /// delta, backup: address for peers' replication links (port 0 picks one; the readiness line
    /// names it as "cluster").
    #[arg(long, default_value = "127.0.0.1:0")]
    cluster_listen: SocketAddr,
    /// delta, backup: a member known at start, as NAME=IP:PORT (its cluster address); repeat for each.
    /// Members not listed join at run time by connecting.
    #[arg(long = "peer", value_name = "NAME=ADDR")]
    peers: Vec<BackendSpec>,
    /// delta: answer the client before peers have the change (async, Tomcat's default) or
    /// after every live peer applied it (sync). [default: async]
    #[arg(long, value_enum)]
    replication: Option<ReplicationArg>,
    /// delta, backup: shared secret that authenticates replication frames (HMAC-SHA256).
    #[arg(long)]
    cluster_secret: Option<String>,
    /// delta, backup: largest replication frame accepted (bytes).
    #[arg(long, default_value_t = 1024 * 1024)]
    max_frame_bytes: usize,
    /// delta, backup: how long a starting node waits for a peer's state (delta: every
    /// session; backup: every location) before starting empty.
    #[arg(long, default_value = "5s", value_parser = args::duration)]
    state_transfer_timeout: Duration,
    /// delta, backup: how long a synchronous send waits for a peer's ack before counting it
    /// dead.
    #[arg(long, default_value = "1s", value_parser = args::duration)]
    ack_timeout: Duration,
    /// delta with async replication: hold each change this long before it leaves (a sender's
    /// queue under load, or a slow link), widening the window in which a crash loses
    /// changes the client was told were saved.
    #[arg(long, default_value = "0s", value_parser = args::duration)]
    replication_delay: Duration,
    /// delta, backup: heartbeat interval on idle replication links.
    #[arg(long, default_value = "1s", value_parser = args::duration)]
    heartbeat: Duration,
    /// redis: the server, as redis://HOST:PORT[/DB].
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// redis: a sentinel to ask for the primary, as HOST:PORT; repeat for each. The node asks
    /// again when the primary stops answering or refuses writes (a failover).
    #[arg(long = "redis-sentinel", value_name = "ADDR")]
    redis_sentinels: Vec<String>,
    /// redis: a Redis Cluster node, as HOST:PORT; repeat for several. The client follows the
    /// slot map, and a replica's promotion, by itself.
    #[arg(long = "redis-cluster", value_name = "ADDR")]
    redis_cluster: Vec<String>,
    /// redis: the name the sentinels monitor.
    #[arg(long, default_value = "mymaster")]
    redis_master: String,
    /// redis: prefix of every key (Spring Session uses `spring:session`).
    #[arg(long, default_value = "sessionbench")]
    redis_namespace: String,
    /// redis: bound on connecting and on each command; past it the request gets 503.
    #[arg(long, default_value = "1s", value_parser = args::duration)]
    redis_timeout: Duration,
    /// delta, backup, redis: how sessions are serialized for peers or Redis, as
    /// FORMAT[+COMPRESSION]: formats json, msgpack (structs as arrays), msgpack-named (as
    /// maps), cbor, postcard, bitcode, protobuf; compressions lz4, zstd. Every node of a
    /// cluster or sharing a Redis must use the same codec. (`local` keeps objects in memory.)
    #[arg(long, default_value = "json", value_parser = codec)]
    codec: FormatCodec,
    /// Version of the session type this node writes and reads: 1, or 2, which adds a field to
    /// every attribute (a new release). Nodes on both versions during a rolling deploy keep
    /// sessions only if the codec lets each read the other.
    #[arg(long, default_value = "1")]
    session_schema: Schema,
    /// Largest session (bytes, before and after decompression) a decoder accepts from peers
    /// or Redis.
    #[arg(long, default_value_t = sessionbench_targets::codec::DEFAULT_LIMIT)]
    decode_limit: usize,
    /// redis: when a request's changes are written: on-save (once, at the end of the
    /// request, in one script; Spring Session's default) or immediate (each change as it is
    /// made, one script each).
    #[arg(long, value_enum, default_value_t = FlushArg::OnSave)]
    redis_flush: FlushArg,
    /// Session cookie name (JSESSIONID for Tomcat-like, SESSION for Spring-like).
    #[arg(long, default_value = "SESSION", value_parser = args::cookie_name)]
    cookie: String,
    /// Append `.<id>` to session ids (Tomcat jvmRoute), for cookie-route balancing.
    #[arg(long)]
    route_suffix: bool,
    /// Idle time after which a session expires.
    #[arg(long, default_value = "30m", value_parser = args::duration)]
    max_inactive: Duration,
    /// Size in bytes (as JSON) of a `padding` attribute added to every new session: cached
    /// search results, structured as real session data is.
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

fn codec(s: &str) -> Result<FormatCodec, String> {
    s.parse()
}

/// Session stores a node can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// In this process's memory: lost when the node dies.
    Local,
    /// In every node's memory: each change is sent to every peer (Tomcat DeltaManager).
    Delta,
    /// On the node that serves it and one backup; other nodes know where it is (Tomcat
    /// BackupManager). Writes always reach the backup before the answer.
    Backup,
    /// In Redis, shared by every node (Spring Session's layout); needs --redis-url.
    Redis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FlushArg {
    OnSave,
    Immediate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReplicationArg {
    Async,
    Sync,
}

pub fn run(a: NodeArgs) -> Result<(), CliError> {
    if a.sweep_interval.is_zero() {
        return Err(CliError::Usage(
            "--sweep-interval must be above zero".into(),
        ));
    }
    if a.replication.is_some() && a.store != StoreKind::Delta {
        return Err(CliError::Usage(
            "--replication applies to --store delta (a backup store always writes to the backup before answering)".into(),
        ));
    }
    if !a.replication_delay.is_zero()
        && (a.store != StoreKind::Delta || a.replication == Some(ReplicationArg::Sync))
    {
        return Err(CliError::Usage(
            "--replication-delay applies to --store delta with --replication async".into(),
        ));
    }
    let sources = usize::from(a.redis_url.is_some())
        + usize::from(!a.redis_sentinels.is_empty())
        + usize::from(!a.redis_cluster.is_empty());
    if sources > 1 {
        return Err(CliError::Usage(
            "give one of --redis-url, --redis-sentinel and --redis-cluster".into(),
        ));
    }
    if (a.store == StoreKind::Redis) != (sources == 1) {
        return Err(CliError::Usage(
            "--store redis needs --redis-url, --redis-sentinel or --redis-cluster, and they need --store redis"
                .into(),
        ));
    }
    if !a.peers.is_empty() && matches!(a.store, StoreKind::Local | StoreKind::Redis) {
        return Err(CliError::Usage(
            "--peer needs a clustered store: --store delta or --store backup".into(),
        ));
    }
    let sessions = SessionCodec::new(
        FormatCodec {
            limit: a.decode_limit,
            ..a.codec
        },
        a.session_schema,
    );
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
    args::die_with_parent();
    let who = format!("node {}", a.id);
    args::runtime(a.threads)
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(async {
            let (listener, addr) = args::bind(a.listen).await?;
            let (store, cluster): (Arc<dyn SessionStore>, _) = match a.store {
                StoreKind::Local => (Arc::new(LocalStore::new()), None),
                StoreKind::Redis => {
                    let source = match &a.redis_url {
                        Some(url) => RedisSource::Url(url.clone()),
                        None if !a.redis_cluster.is_empty() => RedisSource::Cluster {
                            nodes: a.redis_cluster.clone(),
                        },
                        None => RedisSource::Sentinel {
                            sentinels: a.redis_sentinels.clone(),
                            master: a.redis_master.clone(),
                        },
                    };
                    let config = RedisConfig {
                        source,
                        namespace: a.redis_namespace.clone(),
                        timeout: a.redis_timeout,
                        codec: sessions,
                        flush: match a.redis_flush {
                            FlushArg::OnSave => Flush::OnSave,
                            FlushArg::Immediate => Flush::Immediate,
                        },
                    };
                    let store = RedisStore::new(&config).map_err(|e| {
                        CliError::Usage(format!("--redis-url {:?}: {e}", a.redis_url))
                    })?;
                    (Arc::new(store) as Arc<dyn SessionStore>, None)
                }
                StoreKind::Delta | StoreKind::Backup => {
                    let (cluster_listener, _) = args::bind(a.cluster_listen).await?;
                    let config = ClusterConfig {
                        node: a.id.clone(),
                        peers: a.peers.iter().map(|p| (p.name.clone(), p.addr)).collect(),
                        codec: FrameCodec {
                            limit: a.max_frame_bytes,
                            secret: a.cluster_secret.map(String::into_bytes),
                        },
                        sessions,
                        replication: match a.replication {
                            Some(ReplicationArg::Sync) => Replication::Sync,
                            _ => Replication::Async,
                        },
                        heartbeat: a.heartbeat,
                        ack_timeout: a.ack_timeout,
                        state_transfer_timeout: a.state_transfer_timeout,
                        async_delay: a.replication_delay,
                    };
                    let started = if a.store == StoreKind::Delta {
                        DeltaStore::start(config, cluster_listener)
                            .await
                            .map(|s| (s.cluster_addr(), Arc::new(s) as Arc<dyn SessionStore>))
                    } else {
                        BackupStore::start(config, cluster_listener)
                            .await
                            .map(|s| (s.cluster_addr(), Arc::new(s) as Arc<dyn SessionStore>))
                    };
                    let (addr, store) =
                        started.map_err(CliError::io("cannot start the cluster"))?;
                    (store, Some(addr))
                }
            };
            Ready {
                ready: "node".into(),
                id: a.id.clone(),
                addr,
                admin: None,
                cluster,
            }
            .announce()
            .map_err(CliError::io("cannot print the readiness line"))?;
            app::run(listener, Node::new(config, store), args::until_signal(who))
                .await
                .map_err(CliError::io("serving failed"))
        })
}
