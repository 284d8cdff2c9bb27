//! `sessionbench node`: a reference session node's settings, and its store's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{Argv, cookie_name, duration, node_id, show, value_name};
use crate::codec::{FormatCodec, Schema};
use crate::names::{NamedAddr, loopback};
use crate::secret::{CLUSTER_SECRET_ENV, REDIS_PASSWORD_ENV, Secret, url_has_password};

/// Serves the session protocol (POST /login, GET /session, PUT /session/attrs/NAME,
/// POST /session/counter, POST /logout, GET /healthz, GET /metrics) and prints one JSON
/// readiness line on stdout: {"ready":"node","id":…,"addr":…}. SIGTERM drains and exits;
/// SIGKILL is a crash.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct NodeSpec {
    /// Node id, shown in every session view and used as the cookie route.
    #[arg(long, value_parser = node_id)]
    pub id: String,
    /// Address to listen on; port 0 picks a free port (read it from the readiness line).
    #[arg(long, default_value = "127.0.0.1:0", value_parser = loopback)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreSpec,
    /// Session cookie name (JSESSIONID for Tomcat-like, SESSION for Spring-like).
    #[arg(long, default_value = "SESSION", value_parser = cookie_name)]
    pub cookie: String,
    /// Append `.<id>` to session ids (Tomcat jvmRoute), for cookie-route balancing.
    #[arg(long)]
    pub route_suffix: bool,
    /// Idle time after which a session expires.
    #[arg(long, default_value = "30m", value_parser = duration)]
    pub max_inactive: Duration,
    /// Size in bytes (as JSON) of a `padding` attribute added to every new session: cached
    /// search results, structured as real session data is.
    #[arg(long, default_value_t = 0)]
    pub padding_bytes: usize,
    /// Largest request body accepted (bytes); larger ones get 413.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// How often idle sessions are swept.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub sweep_interval: Duration,
    /// How long SIGTERM waits for in-flight requests.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub drain_timeout: Duration,
    /// How a request saves the session it changed: delta (only what it changed; an increment
    /// added where the counter is stored), whole (its copy of the whole session, as Tomcat's
    /// Redis managers and Spring Session's SaveMode.ALWAYS: concurrent requests undo each
    /// other's changes), or whole-locked (the same, the session locked across the request:
    /// in Redis for a redis store, in this node's memory otherwise).
    #[arg(long, value_enum, default_value_t = crate::app::SaveMode::Delta)]
    pub save: crate::app::SaveMode,
    /// whole-locked: how long a request waits for its session's lock before it gets 503.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub save_lock_timeout: Duration,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limits: crate::limits::ClientLimits,
}

/// Where a node keeps sessions, and how it reaches its peers or its Redis.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct StoreSpec {
    /// Where sessions live.
    #[arg(long = "store", value_enum, default_value_t = StoreKind::Local)]
    pub kind: StoreKind,
    /// delta, backup: address for peers' replication links (port 0 picks one; the readiness line
    /// names it as "cluster").
    #[arg(long, default_value = "127.0.0.1:0", value_parser = loopback)]
    pub cluster_listen: SocketAddr,
    /// delta, backup: a member known at start, as NAME=IP:PORT (its cluster address); repeat for
    /// each. Members not listed join at run time by connecting.
    #[arg(long = "peer", value_name = "NAME=ADDR")]
    pub peers: Vec<NamedAddr>,
    /// delta: answer the client before peers have the change (async, Tomcat's default) or
    /// after every live peer applied it (sync). [default: async]
    #[arg(long, value_enum)]
    pub replication: Option<ReplicationMode>,
    /// delta, backup: a file whose first line is the secret every member shares; it
    /// authenticates replication frames. Without it the secret is read from
    /// SESSIONBENCH_CLUSTER_SECRET. (Never an argument: any local user reads those.)
    #[arg(long, value_name = "FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// The cluster secret, from its file or the environment.
    #[arg(skip)]
    pub cluster_secret: Option<Secret>,
    /// delta, backup: replicate without a secret. Any local process can then read every
    /// session from the cluster port and forge changes; the node warns at start and in
    /// /metrics.
    #[arg(long)]
    pub insecure_replication: bool,
    /// delta, backup: encrypt replication frames too (ChaCha20-Poly1305), so session ids and
    /// attributes are not readable on the wire. Needs the secret.
    #[arg(long)]
    pub cluster_encrypt: bool,
    /// delta, backup: how long a replication frame, once begun, may take to arrive, and a new
    /// link its first (authenticated) frame; then the link is closed.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub frame_timeout: Duration,
    /// delta, backup: largest replication frame accepted (bytes).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// delta, backup: how long a starting node waits for a peer's state (delta: every
    /// session; backup: every location) before starting empty.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub state_transfer_timeout: Duration,
    /// delta, backup: how long a synchronous send waits for a peer's ack before counting it
    /// dead.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub ack_timeout: Duration,
    /// delta with async replication: hold each change this long before it leaves (a sender's
    /// queue under load, or a slow link), widening the window in which a crash loses
    /// changes the client was told were saved.
    #[arg(long, default_value = "0s", value_parser = duration)]
    pub replication_delay: Duration,
    /// delta, backup: heartbeat interval on idle replication links.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub heartbeat: Duration,
    /// redis: the server, as redis://HOST:PORT[/DB], or rediss:// over TLS.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// redis: a file whose first line is the password of the Redis at --redis-url; without
    /// it the password is read from SESSIONBENCH_REDIS_PASSWORD. (Never in the URL.)
    #[arg(long, value_name = "FILE")]
    pub redis_password_file: Option<PathBuf>,
    /// The Redis password, from its file or the environment.
    #[arg(skip)]
    pub redis_password: Option<Secret>,
    /// redis: with a rediss:// URL, the CA certificates (PEM) that signed the server's
    /// certificate, trusted instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub redis_ca_file: Option<String>,
    /// redis: a sentinel to ask for the primary, as HOST:PORT; repeat for each. The node asks
    /// again when the primary stops answering or refuses writes (a failover).
    #[arg(long = "redis-sentinel", value_name = "ADDR")]
    pub redis_sentinels: Vec<String>,
    /// redis: a Redis Cluster node, as HOST:PORT; repeat for several. The client follows the
    /// slot map, and a replica's promotion, by itself.
    #[arg(long = "redis-cluster", value_name = "ADDR")]
    pub redis_cluster: Vec<String>,
    /// redis: let --redis-url, --redis-sentinel and --redis-cluster name another host (a
    /// suite's `remote = true`). Without it they must be on loopback, or in the subnet the
    /// harness granted a node it placed in a network namespace.
    #[arg(long)]
    pub redis_remote: bool,
    /// redis: the name the sentinels monitor.
    #[arg(long, default_value = "mymaster")]
    pub redis_master: String,
    /// redis: prefix of every key (Spring Session uses `spring:session`).
    #[arg(long, default_value = "sessionbench")]
    pub redis_namespace: String,
    /// redis: bound on connecting and on each command; past it the request gets 503.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub redis_timeout: Duration,
    /// redis: when a request's changes are written: on-save (once, at the end of the
    /// request, in one script; Spring Session's default) or immediate (each change as it is
    /// made, one script each).
    #[arg(long, value_enum, default_value_t = FlushMode::OnSave)]
    pub redis_flush: FlushMode,
    /// redis: whether each access renews the session's TTL (true, as Spring Session does).
    /// false sets it once, at login: sessions expire by age however busy they are (a
    /// negative control for the expiry checks).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub redis_access_renews_ttl: bool,
    /// delta, backup, redis: how sessions are serialized for peers or Redis, as
    /// FORMAT[+COMPRESSION]: formats json, msgpack (structs as arrays), msgpack-named (as
    /// maps), cbor, postcard, bitcode, protobuf; compressions lz4, zstd. Every node of a
    /// cluster or sharing a Redis must use the same codec. (`local` keeps objects in memory.)
    #[arg(long, default_value = "json", value_parser = parse_codec)]
    pub codec: FormatCodec,
    /// Version of the session type this node writes and reads: 1, or 2, which adds a field to
    /// every attribute (a new release). Nodes on both versions during a rolling deploy keep
    /// sessions only if the codec lets each read the other.
    #[arg(long, default_value = "1")]
    pub session_schema: Schema,
    /// Largest session (bytes, before and after decompression) a decoder accepts from peers
    /// or Redis.
    #[arg(long, default_value_t = crate::codec::DEFAULT_LIMIT)]
    pub decode_limit: usize,
}

fn parse_codec(s: &str) -> Result<FormatCodec, String> {
    s.parse()
}

/// Session stores a node can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
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
pub enum FlushMode {
    OnSave,
    Immediate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplicationMode {
    Async,
    Sync,
}

/// Parses a subcommand's flags (for [`NodeSpec::with_id`] and the round-trip tests).
#[derive(Debug, clap::Parser)]
struct NodeCommand {
    #[command(flatten)]
    spec: NodeSpec,
}

impl NodeSpec {
    /// Node `id` with every other setting at its default (the same defaults the CLI has).
    pub fn with_id(id: &str) -> Self {
        Self::parse(&["--id", id]).expect("a node id with defaults parses")
    }

    /// Reads the flags that [`Self::to_args`] writes (without the subcommand name).
    pub fn parse(args: &[&str]) -> Result<Self, clap::Error> {
        use clap::Parser;
        NodeCommand::try_parse_from(std::iter::once("node").chain(args.iter().copied()))
            .map(|c| c.spec)
    }

    /// `node --id … --listen …`: every setting written out, so a restart runs the same node.
    pub fn to_args(&self) -> Vec<String> {
        let s = &self.store;
        let mut a = Argv::new("node");
        a.pair("--id", &self.id)
            .pair("--listen", self.listen)
            .pair("--store", value_name(&s.kind))
            .pair("--cluster-listen", s.cluster_listen)
            .each("--peer", &s.peers)
            .opt("--replication", s.replication.as_ref().map(value_name))
            .opt(
                "--cluster-secret-file",
                s.cluster_secret_file.as_ref().map(|f| f.display()),
            )
            .switch("--insecure-replication", s.insecure_replication)
            .switch("--cluster-encrypt", s.cluster_encrypt)
            .pair("--frame-timeout", show(s.frame_timeout))
            .pair("--max-frame-bytes", s.max_frame_bytes)
            .pair("--state-transfer-timeout", show(s.state_transfer_timeout))
            .pair("--ack-timeout", show(s.ack_timeout))
            .pair("--replication-delay", show(s.replication_delay))
            .pair("--heartbeat", show(s.heartbeat))
            .opt("--redis-url", s.redis_url.as_ref())
            .opt(
                "--redis-password-file",
                s.redis_password_file.as_ref().map(|f| f.display()),
            )
            .opt("--redis-ca-file", s.redis_ca_file.as_ref())
            .each("--redis-sentinel", &s.redis_sentinels)
            .each("--redis-cluster", &s.redis_cluster)
            .switch("--redis-remote", s.redis_remote)
            .pair("--redis-master", &s.redis_master)
            .pair("--redis-namespace", &s.redis_namespace)
            .pair("--redis-timeout", show(s.redis_timeout))
            .pair("--redis-flush", value_name(&s.redis_flush))
            .pair("--redis-access-renews-ttl", s.redis_access_renews_ttl)
            .pair("--codec", s.codec)
            .pair("--session-schema", s.session_schema)
            .pair("--decode-limit", s.decode_limit)
            .pair("--cookie", &self.cookie)
            .switch("--route-suffix", self.route_suffix)
            .pair("--max-inactive", show(self.max_inactive))
            .pair("--padding-bytes", self.padding_bytes)
            .pair("--max-body-bytes", self.max_body_bytes)
            .pair("--sweep-interval", show(self.sweep_interval))
            .pair("--drain-timeout", show(self.drain_timeout))
            .pair("--save", value_name(&self.save))
            .pair("--save-lock-timeout", show(self.save_lock_timeout))
            .opt("--threads", self.threads);
        a.0.extend(self.limits.args());
        a.0
    }

    /// The secrets, for the child's environment (the harness starts nodes so; they are never
    /// arguments).
    pub fn secrets_env(&self) -> Vec<(&'static str, String)> {
        let s = &self.store;
        [
            (CLUSTER_SECRET_ENV, &s.cluster_secret),
            (REDIS_PASSWORD_ENV, &s.redis_password),
        ]
        .into_iter()
        .filter_map(|(env, secret)| Some((env, secret.as_ref()?.expose().to_string())))
        .collect()
    }

    /// Reads the secrets from their files or the environment; returns a warning for each file
    /// group or others may read.
    pub fn load_secrets(&mut self) -> Result<Vec<String>, String> {
        let s = &mut self.store;
        let warnings = [
            (&s.cluster_secret_file, "--cluster-secret-file"),
            (&s.redis_password_file, "--redis-password-file"),
        ]
        .into_iter()
        .filter_map(|(file, flag)| Secret::exposed(file.as_deref()?, flag))
        .collect();
        s.cluster_secret = Secret::load(
            s.cluster_secret_file.as_deref(),
            CLUSTER_SECRET_ENV,
            "--cluster-secret-file",
        )?;
        s.redis_password = Secret::load(
            s.redis_password_file.as_deref(),
            REDIS_PASSWORD_ENV,
            "--redis-password-file",
        )?;
        Ok(warnings)
    }

    /// The combinations clap cannot refuse on its own; the message names the flags.
    pub fn check(&self) -> Result<(), String> {
        let s = &self.store;
        let clustered = matches!(s.kind, StoreKind::Delta | StoreKind::Backup);
        if clustered && !(1..=255).contains(&self.id.len()) {
            return Err(format!(
                "--id `{}`: a replicating node's name is 1 to 255 bytes (its links send it)",
                self.id
            ));
        }
        if clustered && s.cluster_secret.is_none() && !s.insecure_replication {
            return Err(format!(
                "--store {} replicates sessions: give the cluster secret in {CLUSTER_SECRET_ENV} or \
                 --cluster-secret-file FILE (or --insecure-replication, and any local process can \
                 read and forge sessions)",
                value_name(&s.kind)
            ));
        }
        if s.cluster_encrypt && s.cluster_secret.is_none() {
            return Err(
                "--cluster-encrypt needs the cluster secret (its keys derive from it)".into(),
            );
        }
        if s.redis_url.as_deref().is_some_and(url_has_password) {
            return Err(format!(
                "--redis-url must not hold a password (it would be readable by every local user): \
                 give it in {REDIS_PASSWORD_ENV} or --redis-password-file FILE"
            ));
        }
        if self.sweep_interval.is_zero() {
            return Err("--sweep-interval must be above zero".into());
        }
        self.limits.check()?;
        if s.replication.is_some() && s.kind != StoreKind::Delta {
            return Err("--replication applies to --store delta (a backup store always writes to the backup before answering)".into());
        }
        if !s.replication_delay.is_zero()
            && (s.kind != StoreKind::Delta || s.replication == Some(ReplicationMode::Sync))
        {
            return Err(
                "--replication-delay applies to --store delta with --replication async".into(),
            );
        }
        let sources = usize::from(s.redis_url.is_some())
            + usize::from(!s.redis_sentinels.is_empty())
            + usize::from(!s.redis_cluster.is_empty());
        if sources > 1 {
            return Err("give one of --redis-url, --redis-sentinel and --redis-cluster".into());
        }
        if (s.kind == StoreKind::Redis) != (sources == 1) {
            return Err("--store redis needs --redis-url, --redis-sentinel or --redis-cluster, and they need --store redis".into());
        }
        if !s.redis_remote {
            let hosts = s.redis_url.iter().map(|u| crate::names::url_host(u));
            let addrs = s
                .redis_sentinels
                .iter()
                .chain(&s.redis_cluster)
                .map(String::as_str);
            if let Some(host) = hosts.chain(addrs).find(|h| !crate::names::loopback_host(h)) {
                return Err(format!(
                    "redis at `{host}` is not on loopback: the node dials only this machine unless --redis-remote lets it (a suite's `remote = true`)"
                ));
            }
        }
        if s.redis_ca_file.is_some()
            && !s
                .redis_url
                .as_ref()
                .is_some_and(|u| u.starts_with("rediss://"))
        {
            return Err("--redis-ca-file needs a rediss:// --redis-url".into());
        }
        if !s.peers.is_empty() && matches!(s.kind, StoreKind::Local | StoreKind::Redis) {
            return Err("--peer needs a clustered store: --store delta or --store backup".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_arguments() {
        let spec = NodeSpec::with_id("node1");
        assert_eq!(spec.store.kind, StoreKind::Local);
        assert_eq!(spec.max_inactive, Duration::from_secs(30 * 60));
        let args = spec.to_args();
        assert_eq!(args[0], "node");
        let back = NodeSpec::parse(&args[1..].iter().map(String::as_str).collect::<Vec<_>>())
            .expect("its own arguments parse");
        assert_eq!(back, spec);
    }

    #[test]
    fn every_field_set_round_trips_and_is_checked() {
        let mut spec = NodeSpec::with_id("n-2");
        spec.listen = "127.0.0.1:8081".parse().expect("addr");
        spec.cookie = "JSESSIONID".into();
        spec.route_suffix = true;
        spec.max_inactive = Duration::from_millis(1500);
        spec.padding_bytes = 100_000;
        spec.threads = Some(1);
        spec.store.kind = StoreKind::Delta;
        spec.store.peers = vec!["node1=127.0.0.1:9001".parse().expect("peer")];
        spec.store.replication = Some(ReplicationMode::Async);
        spec.store.replication_delay = Duration::from_millis(20);
        spec.store.cluster_secret_file = Some("/run/secrets/cluster".into());
        spec.store.cluster_encrypt = true;
        spec.store.codec = "msgpack+lz4".parse().expect("codec");
        spec.store.session_schema = Schema::V2;
        let args = spec.to_args();
        let back = NodeSpec::parse(&args[1..].iter().map(String::as_str).collect::<Vec<_>>())
            .expect("parses");
        assert_eq!(back, spec);
        assert!(spec.check().is_err_and(|e| e.contains(CLUSTER_SECRET_ENV)));
        spec.store.insecure_replication = true;
        assert!(spec.check().is_err_and(|e| e.contains("--cluster-encrypt")));
        spec.store.insecure_replication = false;
        spec.store.cluster_secret = Some(Secret::new("s3cret"));
        assert_eq!(spec.check(), Ok(()));
        assert_eq!(
            spec.secrets_env(),
            [(CLUSTER_SECRET_ENV, "s3cret".to_string())]
        );
        assert!(!args.iter().any(|a| a.contains("s3cret")));

        spec.store.replication = Some(ReplicationMode::Sync);
        assert!(
            spec.check()
                .is_err_and(|e| e.contains("--replication-delay"))
        );
        spec.store.kind = StoreKind::Redis;
        spec.store.replication = None;
        spec.store.replication_delay = Duration::ZERO;
        assert!(
            spec.check()
                .is_err_and(|e| e.contains("--store redis needs"))
        );
        spec.store.redis_url = Some("redis://127.0.0.1:6379".into());
        assert!(spec.check().is_err_and(|e| e.contains("--peer")));
        spec.store.peers.clear();
        assert_eq!(spec.check(), Ok(()));
        // Another host only with --redis-remote, for each way a Redis is named.
        for (url, sentinels, cluster) in [
            (Some("redis://db.example:6379/0"), vec![], vec![]),
            (Some("rediss://10.0.0.5:6380"), vec![], vec![]),
            (None, vec!["127.0.0.1:26379", "192.0.2.7:26379"], vec![]),
            (None, vec![], vec!["[::1]:7000", "198.51.100.2:7000"]),
        ] {
            spec.store.redis_url = url.map(String::from);
            spec.store.redis_sentinels = sentinels.into_iter().map(String::from).collect();
            spec.store.redis_cluster = cluster.into_iter().map(String::from).collect();
            spec.store.redis_remote = false;
            let err = spec.check().expect_err("another host");
            assert!(
                err.contains("is not on loopback") && err.contains("--redis-remote"),
                "{err}"
            );
            spec.store.redis_remote = true;
            assert_eq!(spec.check(), Ok(()), "{url:?}");
            let args = spec.to_args();
            let back = NodeSpec::parse(&args[1..].iter().map(String::as_str).collect::<Vec<_>>())
                .expect("its own arguments parse");
            assert!(back.store.redis_remote, "round trips");
        }
        spec.store.redis_url = Some("redis://localhost:6379".into());
        spec.store.redis_sentinels.clear();
        spec.store.redis_cluster.clear();
        spec.store.redis_remote = false;
        assert_eq!(spec.check(), Ok(()), "localhost is loopback");
    }
}
