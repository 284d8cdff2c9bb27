//! The store processes a target runs: a standalone `redis-server`, or a primary, a replica
//! and three sentinels; each on a free port (of loopback, or of its namespace), with its files in the run directory and
//! no persistence unless asked.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use sessionbench_model::plan::AppendFsync;
use sessionbench_targets::store::redis_server;
pub use sessionbench_targets::store::redis_server::Role;

use super::netns::Place;
use super::process::{Process, StartError};

/// The name sentinels monitor the primary under.
pub const SENTINEL_MASTER: &str = "sessionbench";

/// How long a store has to settle before load starts (sentinels know the replica and each
/// other; every cluster node reports the cluster ok).
const STORE_READY: Duration = Duration::from_secs(20);

/// A free loopback port for a process the harness configures, out of the kernel's way
/// ([`sessionbench_common::ports`]).
pub(super) fn free_port() -> std::io::Result<u16> {
    sessionbench_common::ports::free_loopback_port()
}

/// The directory for process `name`'s files (its configuration, its data), empty.
pub(super) fn prepare_dir(
    target: &str,
    name: &str,
    logs: &Path,
) -> Result<std::path::PathBuf, StartError> {
    let dir = logs.join(format!("{target}-{name}"));
    // Fresh for every run: in a run directory used again (`--out` of an earlier run) a Redis
    // Cluster node would load the old run's nodes.conf and refuse to form the new cluster.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| StartError::Spawn {
            name: name.into(),
            source,
        })?;
    }
    std::fs::create_dir_all(&dir).map_err(|source| StartError::Spawn {
        name: name.into(),
        source,
    })?;
    Ok(dir)
}

/// A free loopback port, and the directory for `name`'s files.
fn prepare(target: &str, name: &str, logs: &Path) -> Result<(u16, std::path::PathBuf), StartError> {
    let port = free_port().map_err(|source| StartError::Spawn {
        name: name.into(),
        source,
    })?;
    Ok((port, prepare_dir(target, name, logs)?))
}

/// Where a store process runs: its address, and its namespace with `network = "netns"`.
pub type At = (IpAddr, Option<Place>);

/// Starts `redis-server` as store process `name` of target `target`, in `role`, at `at`
/// (`aof`: its append-only file's sync, if it keeps one; `min_replicas`: it acknowledges
/// writes only while that many replicas keep up).
pub async fn start_redis(
    target: &str,
    name: &str,
    (aof, min_replicas): (Option<AppendFsync>, u32),
    role: Role,
    at: At,
    logs: &Path,
) -> Result<Process, StartError> {
    let (port, dir) = prepare(target, name, logs)?;
    let mut args = redis_server::server_args(
        SocketAddr::new(at.0, port),
        &dir,
        aof.map(AppendFsync::as_str),
        role,
    );
    if min_replicas > 0 {
        args.extend(redis_server::min_replicas_args(min_replicas));
    }
    launch(target, name, port, &args, at, logs).await
}

/// Runs `redis-server ARGS` as store process `name`, its output in the run's logs.
async fn launch(
    target: &str,
    name: &str,
    port: u16,
    args: &[String],
    (ip, place): At,
    logs: &Path,
) -> Result<Process, StartError> {
    let log = logs.join(format!("{target}-{name}.log"));
    let addr = SocketAddr::new(ip, port);
    Process::start_program(name, "redis-server", args, addr, &log, place).await
}

/// Starts a sentinel watching `primary` (quorum 2; down after 500 ms without an answer).
pub async fn start_sentinel(
    target: &str,
    name: &str,
    primary: SocketAddr,
    at: At,
    logs: &Path,
) -> Result<Process, StartError> {
    let (port, dir) = prepare(target, name, logs)?;
    let conf = dir.join("sentinel.conf");
    let listen = SocketAddr::new(at.0, port);
    let text = redis_server::sentinel_conf(listen, &dir, SENTINEL_MASTER, primary, 5_000);
    std::fs::write(&conf, text).map_err(|source| StartError::Spawn {
        name: name.into(),
        source,
    })?;
    let args = [conf.display().to_string(), "--sentinel".into()];
    launch(target, name, port, &args, at, logs).await
}

/// Waits until every sentinel knows the replica and the other sentinels: before that, a
/// failover could not reach its quorum.
pub async fn await_sentinels(sentinels: &[&Process]) -> Result<(), StartError> {
    let needed = sentinels.len();
    await_each(sentinels, |addr| async move {
        let (replicas, others) = sentinel_view(&addr).await.unwrap_or((0, 0));
        if replicas >= 1 && others + 1 >= needed {
            Ok(())
        } else {
            Err(format!(
                "it knows {replicas} replicas and {others} other sentinels"
            ))
        }
    })
    .await
}

/// Asks `check` about each of `servers` in turn until it says yes, all within
/// [`STORE_READY`]; a server that never does fails the start with what `check` last said.
async fn await_each<F, Fut>(servers: &[&Process], check: F) -> Result<(), StartError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + STORE_READY;
    for s in servers {
        loop {
            match check(s.addr().to_string()).await {
                Ok(()) => break,
                Err(why) if tokio::time::Instant::now() > deadline => {
                    return Err(StartError::Store {
                        name: s.name.clone(),
                        source: std::io::Error::other(format!("after {STORE_READY:?}: {why}")),
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    Ok(())
}

/// How many replicas and other sentinels a sentinel knows of.
async fn sentinel_view(addr: &str) -> redis::RedisResult<(usize, usize)> {
    let mut conn = connect(addr).await?;
    let replicas: Vec<redis::Value> = redis::cmd("SENTINEL")
        .arg("replicas")
        .arg(SENTINEL_MASTER)
        .query_async(&mut conn)
        .await?;
    let others: Vec<redis::Value> = redis::cmd("SENTINEL")
        .arg("sentinels")
        .arg(SENTINEL_MASTER)
        .query_async(&mut conn)
        .await?;
    Ok((replicas.len(), others.len()))
}

/// Makes a cluster of `servers` (the first half masters, one replica each) with
/// `redis-cli --cluster create`, and waits until every node reports it healthy and every
/// master has its replica online.
pub async fn create_cluster(servers: &[&Process]) -> Result<(), StartError> {
    let failed = |why: String| StartError::Store {
        name: "redis".into(),
        source: std::io::Error::other(why),
    };
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr()).collect();
    let out = tokio::process::Command::new("redis-cli")
        .args(redis_server::cluster_create_args(&addrs))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| failed(format!("cannot run redis-cli: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        )));
    }
    await_each(servers, |addr| async move {
        match cluster_ok(&addr).await {
            Ok(true) => Ok(()),
            _ => Err("no cluster_state:ok".to_string()),
        }
    })
    .await?;
    await_replicas(servers).await
}

/// Waits until every primary among `servers` has a replica online (synced and streaming):
/// before that a failover would promote a replica without the data, and a primary with
/// `min-replicas-to-write` refuses writes.
pub async fn await_replicas(servers: &[&Process]) -> Result<(), StartError> {
    await_each(servers, |addr| async move {
        match replica_online(&addr).await {
            Ok(true) => Ok(()),
            _ => Err("no replica online".to_string()),
        }
    })
    .await
}

/// A replica says its link to the primary is up; a primary, that one of its replicas is
/// online.
async fn replica_online(addr: &str) -> redis::RedisResult<bool> {
    let info = ask(addr, "INFO", "replication").await?;
    Ok(if info.contains("role:master") {
        info.contains("state=online")
    } else {
        info.contains("master_link_status:up")
    })
}

async fn cluster_ok(addr: &str) -> redis::RedisResult<bool> {
    Ok(ask(addr, "CLUSTER", "INFO")
        .await?
        .contains("cluster_state:ok"))
}

/// `COMMAND ARG`'s text answer from the store process at `addr`.
async fn ask(addr: &str, command: &str, arg: &str) -> redis::RedisResult<String> {
    let mut conn = connect(addr).await?;
    redis::cmd(command).arg(arg).query_async(&mut conn).await
}

/// Deletes every key the store process holds (`FLUSHALL`; a cluster node holds its slots).
pub async fn flush(addr: SocketAddr) -> std::io::Result<()> {
    let exchange = async {
        redis::cmd("FLUSHALL")
            .query_async::<()>(&mut connect(&addr.to_string()).await?)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(2), exchange).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(std::io::Error::other(format!("FLUSHALL failed: {e}"))),
        Err(_) => Err(std::io::Error::other("FLUSHALL timed out")),
    }
}

/// A connection for the harness's own commands to a store process at `addr` (HOST:PORT).
async fn connect(addr: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(format!("redis://{addr}"))?
        .get_multiplexed_async_connection()
        .await
}

/// The server's `used_memory` (bytes) and keys (one per session), from `INFO`, or `None`
/// if it does not answer within a second.
pub async fn redis_memory_and_keys(addr: SocketAddr) -> Option<(u64, u64)> {
    let exchange = async {
        let mut conn = connect(&addr.to_string()).await?;
        let memory = redis::cmd("INFO")
            .arg("memory")
            .query_async::<String>(&mut conn)
            .await?;
        let keyspace = redis::cmd("INFO")
            .arg("keyspace")
            .query_async::<String>(&mut conn)
            .await?;
        redis::RedisResult::Ok((memory, keyspace))
    };
    let (memory, keyspace) = tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()?
        .ok()?;
    let used = memory
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())?;
    // `db0:keys=12,expires=12,avg_ttl=…` per database.
    let keys = keyspace
        .lines()
        .filter_map(|l| l.split_once(":keys="))
        .filter_map(|(_, rest)| rest.split(',').next()?.parse::<u64>().ok())
        .sum();
    Some((used, keys))
}
