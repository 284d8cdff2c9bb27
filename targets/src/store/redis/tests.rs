//! The Redis store against real redis-server processes: standalone, Sentinel and Cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use redis::Client;

use crate::store::redis_server::{self, Role};

use crate::codec::SessionCodec;
use crate::session::{Attr, Session, SessionChange, SessionId};
use crate::store::api::{SessionStore, StoreError, StoreFuture, StoreStats};

use super::connection::Conn;
use super::layout::*;

/// A real `redis-server` on a free loopback port, without persistence, with its files in a
/// directory of its own; killed, and its directory removed, on drop.
#[derive(Debug)]
struct Server {
    port: u16,
    _child: tokio::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    async fn start() -> Self {
        Self::start_on(Self::free_port()).await
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A fresh directory for the server on `port`.
    fn dir(port: u16) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sessionbench-redis-test-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the server's directory");
        dir
    }

    async fn start_on(port: u16) -> Self {
        Self::start_as(port, Role::Standalone).await
    }

    /// A replica of `primary`.
    async fn replica_of(primary: &Server) -> Self {
        Self::start_as(Self::free_port(), Role::ReplicaOf(primary.addr())).await
    }

    /// A sentinel watching `primary` as `mymaster` (quorum 2, a quick failover).
    async fn sentinel(primary: &Server) -> Self {
        let port = Self::free_port();
        let dir = Self::dir(port);
        let conf = dir.join("sentinel.conf");
        let text =
            redis_server::sentinel_conf(Self::on(port), &dir, "mymaster", primary.addr(), 3_000);
        std::fs::write(&conf, text).expect("sentinel.conf");
        let child = Self::spawn(&[conf.display().to_string(), "--sentinel".into()]);
        Self::ready(port, child, dir).await
    }

    fn on(port: u16) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    async fn start_as(port: u16, role: Role) -> Self {
        let dir = Self::dir(port);
        let child = Self::spawn(&redis_server::server_args(Self::on(port), &dir, None, role));
        Self::ready(port, child, dir).await
    }

    fn spawn(args: &[String]) -> tokio::process::Child {
        tokio::process::Command::new("redis-server")
            .args(args)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): install it with ci/setup"))
    }

    async fn ready(port: u16, child: tokio::process::Child, dir: std::path::PathBuf) -> Self {
        let deadline = Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self {
            port,
            _child: child,
            dir,
        }
    }

    /// A plain connection without timeouts, for the test's own commands.
    async fn connect(&self) -> redis::aio::MultiplexedConnection {
        Client::open(format!("redis://127.0.0.1:{}", self.port))
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }

    fn config(&self) -> RedisConfig {
        RedisConfig {
            source: RedisSource::Url {
                url: format!("redis://127.0.0.1:{}", self.port),
                ca_pem: None,
                password: None,
            },
            namespace: "sessionbench".into(),
            timeout: Duration::from_millis(500),
            codec: SessionCodec::default(),
            flush: Flush::OnSave,
            renew_ttl_on_access: true,
        }
    }
}

/// A store with the server it talks to, so the server lives as long as the test.
#[derive(Debug)]
struct Served {
    store: RedisStore,
    _server: Server,
}

impl Served {
    async fn new() -> Self {
        Self::with(|config| config).await
    }

    /// A fresh server, and a store on it configured by `tweak`.
    async fn with(tweak: impl FnOnce(RedisConfig) -> RedisConfig) -> Self {
        let server = Server::start().await;
        Self {
            store: RedisStore::new(&tweak(server.config())).expect("client"),
            _server: server,
        }
    }
}

impl SessionStore for Served {
    fn kind(&self) -> &'static str {
        self.store.kind()
    }
    fn create(&self, session: Session) -> StoreFuture<'_, ()> {
        self.store.create(session)
    }
    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<Session>> {
        self.store.load(id)
    }
    fn save<'a>(&'a self, id: &'a SessionId, c: &'a SessionChange) -> StoreFuture<'a, bool> {
        self.store.save(id, c)
    }
    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        self.store.touch(id)
    }
    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        self.store.invalidate(id)
    }
    fn expire_idle(&self) -> StoreFuture<'_, usize> {
        self.store.expire_idle()
    }
    fn stats(&self) -> StoreStats {
        self.store.stats()
    }
}

crate::store_conformance_tests!(
    #[tokio::test]
    Served::new().await
);

/// The same checks with a binary, compressed codec for attribute values.
mod msgpack_lz4 {
    use super::*;

    crate::store_conformance_tests!(
        #[tokio::test]
        Served::with(|config| RedisConfig {
            codec: SessionCodec::new(
                "msgpack+lz4".parse().expect("codec"),
                crate::codec::Schema::V1,
            ),
            ..config
        })
        .await
    );
}

/// The same checks with every change written as it is made.
mod immediate {
    use super::*;

    crate::store_conformance_tests!(
        #[tokio::test]
        Served::with(|config| RedisConfig {
            flush: Flush::Immediate,
            renew_ttl_on_access: true,
            ..config
        })
        .await
    );
}

/// Script calls Redis has run since its statistics were reset.
async fn scripts_run(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("INFO");
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// on-save writes a request's changes in one script; immediate writes each attribute in a
/// script of its own, then the counter and the version, and the result is the same session.
#[tokio::test]
async fn immediate_flush_writes_each_change_on_its_own() {
    let server = Server::start().await;
    let mut conn = server.connect().await;
    // Immediate: each attribute, then the counter and the version together.
    for (flush, scripts) in [(Flush::OnSave, 1), (Flush::Immediate, 3)] {
        let store = RedisStore::new(&RedisConfig {
            flush,
            renew_ttl_on_access: true,
            ..server.config()
        })
        .expect("client");
        let s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
        store.create(s.clone()).await.expect("create");
        let attr = |v: u64| Attr {
            value: serde_json::json!(v),
            write: format!("w-{v}"),
        };
        // Loads the save script, so the count below sees no NOSCRIPT retry.
        let warm = SessionChange {
            set: [("a".to_string(), attr(0))].into(),
            version: 2,
            ..Default::default()
        };
        assert!(store.save(&s.id, &warm).await.expect("save"));
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut conn)
            .await
            .expect("RESETSTAT");
        let change = SessionChange {
            set: [("a".to_string(), attr(1)), ("b".to_string(), attr(2))].into(),
            counter: Some(5),
            version: 3,
            ..Default::default()
        };
        assert!(store.save(&s.id, &change).await.expect("save"));
        assert_eq!(scripts_run(&mut conn).await, scripts, "{flush:?}");
        let mut expected = s.clone();
        expected.apply(&warm);
        expected.apply(&change);
        assert_eq!(store.load(&s.id).await.expect("load"), Some(expected));
    }
}

/// A rolling deploy against one Redis: a node on session schema 2 reads what a schema-1
/// node wrote only if the codec names its fields; otherwise it treats the session as gone
/// (logged out) and counts it, instead of failing every request.
#[tokio::test]
async fn the_next_schema_reads_old_sessions_only_if_the_codec_allows() {
    let server = Server::start().await;
    for (codec, readable) in [("cbor", true), ("bitcode", false)] {
        let codec: crate::codec::FormatCodec = codec.parse().expect("codec");
        let store = |schema| {
            RedisStore::new(&RedisConfig {
                codec: SessionCodec::new(codec, schema),
                ..server.config()
            })
            .expect("client")
        };
        let (old, new) = (
            store(crate::codec::Schema::V1),
            store(crate::codec::Schema::V2),
        );
        let mut s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
        s.attrs.insert(
            "cart".into(),
            Attr {
                value: serde_json::json!({"items": 3}),
                write: "w-1".into(),
            },
        );
        old.create(s.clone()).await.expect("create");
        let read = new.load(&s.id).await.expect("load");
        assert_eq!(read.is_some(), readable, "{codec}");
        let traffic = new.stats().traffic.expect("traffic");
        assert_eq!(
            traffic.sessions_undecodable,
            u64::from(!readable),
            "{codec}"
        );
        assert!(traffic.bytes_read > 0, "{traffic:?}");
        assert!(old.stats().traffic.expect("traffic").bytes_written > 0);
    }
}

#[tokio::test]
async fn the_key_expires_in_redis_unread_and_holds_one_field_per_attribute() {
    let served = Served::new().await;
    let store = &served.store;
    let s = Session::new(
        SessionId::generate(),
        "u1".into(),
        Duration::from_millis(400),
    );
    store.create(s.clone()).await.expect("create");
    let change = SessionChange {
        set: [(
            "cart".to_string(),
            Attr {
                value: serde_json::json!(3),
                write: "w-1".into(),
            },
        )]
        .into(),
        version: 2,
        ..Default::default()
    };
    assert!(store.save(&s.id, &change).await.expect("save"));
    let Some(Conn::Single(mut conn)) = store.current() else {
        panic!("a URL connects at once");
    };
    let key = store.key(&s.id);
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("HKEYS");
    for f in [
        CREATION_TIME,
        LAST_ACCESSED,
        MAX_INACTIVE,
        USER,
        COUNTER,
        VERSION,
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    assert!(fields.iter().any(|x| x == "sessionAttr:cart"), "{fields:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!((1..=400).contains(&ttl), "TTL is the idle limit: {ttl}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("EXISTS");
    assert_eq!(exists, 0, "Redis dropped the idle session without a read");
}

#[tokio::test]
async fn a_paused_redis_is_maybe_applied_not_refused() {
    let server = Server::start().await;
    let config = RedisConfig {
        source: RedisSource::Url {
            url: format!("redis://127.0.0.1:{}", server.port),
            ca_pem: None,
            password: None,
        },
        namespace: "sessionbench".into(),
        timeout: Duration::from_millis(300),
        codec: SessionCodec::default(),
        flush: Flush::OnSave,
        renew_ttl_on_access: true,
    };
    let store = RedisStore::new(&config).expect("client");
    let s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
    let id = s.id.clone();
    store.create(s).await.expect("create");
    let pid = server._child.id().expect("pid").to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig}");
    };
    signal("-STOP");
    let err = store
        .invalidate(&id)
        .await
        .expect_err("a stopped Redis does not answer");
    signal("-CONT");
    assert!(matches!(err, StoreError::Unanswered { .. }), "{err:?}");
    // What it queued ran when it resumed: the logout that "failed" took effect.
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.load(&id).await.ok().flatten().is_some() {
        assert!(
            Instant::now() < deadline,
            "the queued invalidation never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn unreachable_redis_fails_fast_and_the_store_recovers_when_it_is_back() {
    let port = Server::free_port();
    let config = RedisConfig {
        source: RedisSource::Url {
            url: format!("redis://127.0.0.1:{port}"),
            ca_pem: None,
            password: None,
        },
        namespace: "sessionbench".into(),
        timeout: Duration::from_millis(300),
        codec: SessionCodec::default(),
        flush: Flush::OnSave,
        renew_ttl_on_access: true,
    };
    let store = Arc::new(RedisStore::new(&config).expect("lazy client"));
    let id = SessionId::generate();
    let started = Instant::now();
    let err = store.load(&id).await.expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed after {:?}",
        started.elapsed()
    );
    let _server = Server::start_on(port).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store.load(&id).await {
            Ok(found) => break assert_eq!(found, None),
            Err(e) => assert!(Instant::now() < deadline, "never recovered: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn behind_sentinels_the_store_follows_a_failover() {
    let mut primary = Server::start().await;
    let replica = Server::replica_of(&primary).await;
    let sentinels = [
        Server::sentinel(&primary).await,
        Server::sentinel(&primary).await,
        Server::sentinel(&primary).await,
    ];
    let store = RedisStore::new(&RedisConfig {
        source: RedisSource::Sentinel {
            sentinels: sentinels
                .iter()
                .map(|s| format!("127.0.0.1:{}", s.port))
                .collect(),
            master: "mymaster".into(),
        },
        namespace: "sessionbench".into(),
        timeout: Duration::from_millis(300),
        codec: SessionCodec::default(),
        flush: Flush::OnSave,
        renew_ttl_on_access: true,
    })
    .expect("client");
    let s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
    store
        .create(s.clone())
        .await
        .expect("create through the primary");
    // The replica has it before the primary dies (WAIT: one replica acknowledged).
    let mut conn = primary.connect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let acked: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(200)
            .query_async(&mut conn)
            .await
            .expect("WAIT");
        if acked == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never attached");
    }
    // Sentinels must know the replica and each other to fail over.
    for sentinel in &sentinels {
        let mut conn = sentinel.connect().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut known = Vec::new();
            for what in ["replicas", "sentinels"] {
                let list: Vec<redis::Value> = redis::cmd("SENTINEL")
                    .arg(what)
                    .arg("mymaster")
                    .query_async(&mut conn)
                    .await
                    .expect("SENTINEL");
                known.push(list.len());
            }
            if known == [1, 2] {
                break;
            }
            assert!(Instant::now() < deadline, "sentinels know only {known:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    primary._child.start_kill().expect("SIGKILL the primary");
    let deadline = Instant::now() + Duration::from_secs(30);
    let loaded = loop {
        match store.load(&s.id).await {
            Ok(found) => break found,
            Err(e) => assert!(Instant::now() < deadline, "no failover: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(loaded.map(|x| x.user), Some("u1".into()));
    let url = store
        .current
        .read()
        .expect("lock")
        .as_ref()
        .map(|(u, _)| u.clone());
    assert_eq!(url, Some(format!("redis://127.0.0.1:{}", replica.port)));
}

/// Three masters and three replicas made by `redis-cli --cluster create`.
#[derive(Debug)]
struct Cluster {
    servers: Vec<Server>,
}

impl Cluster {
    async fn start() -> Self {
        let mut servers = Vec::new();
        for _ in 0..6 {
            let bus_port = Server::free_port();
            servers
                .push(Server::start_as(Server::free_port(), Role::ClusterNode { bus_port }).await);
        }
        let addrs: Vec<_> = servers.iter().map(Server::addr).collect();
        let out = tokio::process::Command::new("redis-cli")
            .args(redis_server::cluster_create_args(&addrs))
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): install it with ci/setup"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        for s in &servers {
            let mut conn = s.connect().await;
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .expect("CLUSTER INFO");
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(Instant::now() < deadline, "cluster not ok: {info}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Self { servers }
    }

    fn store(&self) -> RedisStore {
        RedisStore::new(&RedisConfig {
            source: RedisSource::Cluster {
                nodes: self
                    .servers
                    .iter()
                    .map(|s| format!("127.0.0.1:{}", s.port))
                    .collect(),
            },
            namespace: "sessionbench".into(),
            timeout: Duration::from_millis(500),
            codec: SessionCodec::default(),
            flush: Flush::OnSave,
            renew_ttl_on_access: true,
        })
        .expect("client")
    }
}

/// Every conformance check, each on a fresh store, against one real cluster (starting a
/// cluster per check would cost six servers each).
#[tokio::test]
async fn conformance_on_a_real_cluster() {
    use crate::store::conformance as c;
    let cluster = Cluster::start().await;
    let fresh = || -> Arc<dyn SessionStore> { Arc::new(cluster.store()) };
    c::create_then_load_returns_the_session(fresh()).await;
    c::unknown_id_loads_nothing(fresh()).await;
    c::save_writes_only_what_changed(fresh()).await;
    c::concurrent_saves_to_different_attributes_all_survive(fresh()).await;
    c::invalidate_removes_and_save_does_not_resurrect(fresh()).await;
    c::idle_session_expires_without_being_read(fresh()).await;
    c::access_keeps_a_session_alive(fresh()).await;
    c::max_inactive_is_per_session(fresh()).await;
    // Sessions spread over the masters: each lives in its id's slot.
    let store = cluster.store();
    for _ in 0..30 {
        let s = Session::new(SessionId::generate(), "u".into(), Duration::from_secs(60));
        store.create(s.clone()).await.expect("create");
        assert!(store.load(&s.id).await.expect("load").is_some());
    }
    let mut holding = 0;
    for s in &cluster.servers {
        let keys: i64 = redis::cmd("DBSIZE")
            .query_async(&mut s.connect().await)
            .await
            .expect("DBSIZE");
        holding += usize::from(keys > 0);
    }
    assert!(
        holding >= 4,
        "keys on {holding} of 6 servers (masters and replicas)"
    );
}
