//! How a `redis-server` is set up for each role it plays: standalone, replica, cluster node,
//! sentinel. One home for the settings, so the harness's store processes and the store's own
//! tests run the same servers. Every server listens on loopback only, keeps its files in a
//! directory of its own (a replica's full sync writes an RDB file there, not in the working
//! directory) and persists nothing unless asked.

use std::net::SocketAddr;
use std::path::Path;

/// How long a cluster node waits for a peer before counting it failed (ms).
pub const CLUSTER_NODE_TIMEOUT_MS: u64 = 1_000;
/// How long sentinels wait for an answer before counting the primary down (ms).
pub const SENTINEL_DOWN_AFTER_MS: u64 = 500;

/// What a `redis-server` is besides a plain server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Standalone,
    ReplicaOf(SocketAddr),
    /// A cluster node with its bus on `bus_port`: by default the bus is the port + 10000,
    /// which is past 65535 for a quarter of the ephemeral range, or may be taken.
    ClusterNode {
        bus_port: u16,
    },
}

/// The arguments of a `redis-server` on `listen` (loopback, or the address of its network
/// namespace) in `role`, with its files in `dir` and, given `appendfsync` (Redis's word:
/// `everysec`, `always`, `no`), an append-only file synced that way.
pub fn server_args(
    listen: SocketAddr,
    dir: &Path,
    appendfsync: Option<&str>,
    role: Role,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--port",
        &listen.port().to_string(),
        "--bind",
        &listen.ip().to_string(),
        "--dir",
        &dir.display().to_string(),
        "--save",
        "",
        "--appendonly",
        if appendfsync.is_some() { "yes" } else { "no" },
        // A replica syncs at once, not after 5 s of waiting for others to share the transfer.
        "--repl-diskless-sync-delay",
        "0",
    ]
    .map(String::from)
    .to_vec();
    if let Some(fsync) = appendfsync {
        args.extend(["--appendfsync".into(), fsync.into()]);
    }
    args.extend(namespace_args(listen));
    match role {
        Role::Standalone => {}
        Role::ReplicaOf(primary) => args.extend([
            "--replicaof".into(),
            primary.ip().to_string(),
            primary.port().to_string(),
        ]),
        // Its nodes.conf (the cluster's view) lives in `dir`, so a restarted node rejoins as
        // the cluster now sees it (a replica, if its replica was promoted).
        Role::ClusterNode { bus_port } => args.extend([
            "--cluster-enabled".into(),
            "yes".into(),
            "--cluster-node-timeout".into(),
            CLUSTER_NODE_TIMEOUT_MS.to_string(),
            "--cluster-port".into(),
            bus_port.to_string(),
        ]),
    }
    args
}

/// On its namespace's address (`network = "netns"`) a server without a password would refuse
/// every peer and client in "protected mode": there, only the run's own processes reach it.
fn namespace_args(listen: SocketAddr) -> Vec<String> {
    if listen.ip().is_loopback() {
        Vec::new()
    } else {
        vec!["--protected-mode".into(), "no".into()]
    }
}

/// A primary that acknowledges writes only while `n` replicas have answered within the
/// last second: an isolated primary then refuses writes (NOREPLICAS) rather than take ones
/// a failover will discard.
pub fn min_replicas_args(n: u32) -> Vec<String> {
    [
        "--min-replicas-to-write",
        &n.to_string(),
        "--min-replicas-max-lag",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

/// A sentinel's configuration file (a sentinel rewrites it, so each needs its own): it
/// listens on `listen` and watches `primary` as `master` with a quorum of 2.
pub fn sentinel_conf(
    listen: SocketAddr,
    dir: &Path,
    master: &str,
    primary: SocketAddr,
    failover_timeout_ms: u64,
) -> String {
    let protected = if listen.ip().is_loopback() {
        ""
    } else {
        "protected-mode no\n"
    };
    format!(
        "port {port}\nbind {ip}\n{protected}dir {dir}\n\
         sentinel monitor {master} {primary_ip} {primary_port} 2\n\
         sentinel down-after-milliseconds {master} {SENTINEL_DOWN_AFTER_MS}\n\
         sentinel failover-timeout {master} {failover_timeout_ms}\n",
        port = listen.port(),
        ip = listen.ip(),
        dir = dir.display(),
        primary_ip = primary.ip(),
        primary_port = primary.port(),
    )
}

/// `redis-cli` arguments that make a cluster of `nodes`, each master with one replica.
pub fn cluster_create_args(nodes: &[SocketAddr]) -> Vec<String> {
    let mut args = vec!["--cluster".to_string(), "create".into()];
    args.extend(nodes.iter().map(SocketAddr::to_string));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_adds_its_own_settings_to_a_loopback_server() {
        let dir = Path::new("/tmp/r");
        let on = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let plain = server_args(on(7000), dir, None, Role::Standalone);
        assert_eq!(
            plain.join(" "),
            "--port 7000 --bind 127.0.0.1 --dir /tmp/r --save  --appendonly no --repl-diskless-sync-delay 0"
        );
        let synced = server_args(on(7000), dir, Some("always"), Role::Standalone);
        assert_eq!(
            synced.join(" "),
            "--port 7000 --bind 127.0.0.1 --dir /tmp/r --save  --appendonly yes --repl-diskless-sync-delay 0 --appendfsync always"
        );
        let replica = server_args(
            on(7001),
            dir,
            Some("everysec"),
            Role::ReplicaOf("127.0.0.1:7000".parse().expect("addr")),
        );
        assert!(
            replica
                .join(" ")
                .ends_with("--appendfsync everysec --replicaof 127.0.0.1 7000")
        );
        let node = server_args(on(7002), dir, None, Role::ClusterNode { bus_port: 17002 });
        assert!(node.join(" ").ends_with("--cluster-port 17002"));
        let conf = sentinel_conf(
            on(26379),
            dir,
            "m",
            "127.0.0.1:7000".parse().expect("addr"),
            3000,
        );
        assert!(
            conf.contains("sentinel monitor m 127.0.0.1 7000 2\n"),
            "{conf}"
        );
        assert!(conf.contains("failover-timeout m 3000\n"), "{conf}");
        assert!(conf.starts_with("port 26379\nbind 127.0.0.1\n"), "{conf}");
        let min = min_replicas_args(1).join(" ");
        assert_eq!(min, "--min-replicas-to-write 1 --min-replicas-max-lag 1");
    }
}
