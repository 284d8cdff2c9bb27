//! `redis`: stateless nodes sharing sessions in Redis, laid out as Spring Session's
//! `RedisSessionRepository` does: one hash per session with its metadata and one field per
//! attribute, and a key that expires after the session's idle limit (every access renews it).
//! A save writes only the fields the request changed.
//!
//! Each operation is one Lua script, so that "does the session still exist" and the write are
//! one atomic step: a save or an access never recreates a session that expired or logged out
//! (a plain `HSET` would, which is the resurrection Spring guards against with its
//! `isNew`/exists checks). Every key carries the session id as its hash tag, so a script's
//! keys always live in one cluster slot. Login rotates the id by creating a new session and
//! deleting the old one, never by `RENAME`, which fails across slots.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisError, RedisFuture, Script, Value};

use super::api::{SessionStore, StoreError, StoreFuture, StoreStats, StoreTraffic};
use crate::codec::SessionCodec;
use crate::session::{Session, SessionChange, SessionId};

/// Hash fields other than attributes (Spring Session's names; times in milliseconds).
const CREATION_TIME: &str = "creationTime";
const LAST_ACCESSED: &str = "lastAccessedTime";
const MAX_INACTIVE: &str = "maxInactiveInterval";
const USER: &str = "user";
const COUNTER: &str = "counter";
const VERSION: &str = "version";
/// Prefix of attribute fields, as in Spring Session.
const ATTR: &str = "sessionAttr:";

/// How a node reaches Redis, and how long it waits before answering 503.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub source: RedisSource,
    /// Prepended to every key (Spring's `spring:session` namespace).
    pub namespace: String,
    /// Bound on connecting and on each command; past it the request fails with 503.
    pub timeout: Duration,
    /// How attribute values are encoded (each is one hash field).
    pub codec: SessionCodec,
    /// When a request's changes reach Redis.
    pub flush: Flush,
}

/// Spring Session's `FlushMode`: when changes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flush {
    /// Once per request, every change in one script (Spring's default, `ON_SAVE`).
    #[default]
    OnSave,
    /// Each change as it is made (Spring's `IMMEDIATE`: every `setAttribute` writes): one
    /// script per attribute set, per removal, for the counter and for the version, in that
    /// order. Other requests see the changes sooner, and in between a reader can see a new
    /// attribute beside the old version.
    Immediate,
}

/// Where the server is.
#[derive(Debug, Clone)]
pub enum RedisSource {
    /// `redis://host:port[/db]`.
    Url(String),
    /// Ask these sentinels (`host:port`) for the primary of `master`, and ask again when it
    /// stops answering or refuses writes: the client library does not follow a failover.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
    /// A Redis Cluster, reached through any of these nodes (`host:port`); the client follows
    /// the slot map, including a replica's promotion.
    Cluster { nodes: Vec<String> },
}

/// A connection to one server, or to a cluster (routed by key).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// How soon a failing node may ask the sentinels again.
const REDISCOVER_EVERY: Duration = Duration::from_millis(100);

pub struct RedisStore {
    source: RedisSource,
    timeout: Duration,
    /// The server in use and a connection to it; `None` until a sentinel has named one, or
    /// the cluster has first answered.
    current: RwLock<Option<(String, Conn)>>,
    last_discovery: Mutex<Option<Instant>>,
    namespace: String,
    scripts: Scripts,
    codec: SessionCodec,
    flush: Flush,
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
    undecodable: AtomicU64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("source", &self.source)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Scripts {
    /// KEYS[1] session; ARGV: idle limit in ms, then field/value pairs. One command, so it is
    /// atomic and routed by its key on a cluster (a MULTI pipeline would need both).
    create: Script,
    /// KEYS[1] session; ARGV: now. Renews the idle clock and returns the hash, or nothing.
    access: Script,
    /// KEYS[1] session; ARGV: now, number of fields set, field/value pairs, names removed.
    /// Returns 1, or 0 (writing nothing) when the session is gone.
    save: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            create: Script::new(
                r"
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
",
            ),
            access: Script::new(
                r"
local ms = redis.call('HGET', KEYS[1], 'maxInactiveInterval')
if not ms then return nil end
redis.call('HSET', KEYS[1], 'lastAccessedTime', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ms)
return redis.call('HGETALL', KEYS[1])
",
            ),
            save: Script::new(
                r"
local ms = redis.call('HGET', KEYS[1], 'maxInactiveInterval')
if not ms then return 0 end
local sets = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lastAccessedTime', ARGV[1], unpack(ARGV, 3, 2 + 2 * sets))
if #ARGV > 2 + 2 * sets then
  redis.call('HDEL', KEYS[1], unpack(ARGV, 3 + 2 * sets))
end
redis.call('PEXPIRE', KEYS[1], ms)
return 1
",
            ),
        }
    }
}

/// A lazy connection: it is made on first use, and remade after a failure.
fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, RedisError> {
    let manager = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(Client::open(url)?, manager)
}

/// Whether a failure may mean the primary moved: it is gone, silent, or now a replica.
fn may_have_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
        || e.code() == Some("READONLY")
}

impl RedisStore {
    /// Connects lazily: a node starts even while Redis is down, answers 503 meanwhile, and
    /// recovers by itself once Redis is back.
    pub fn new(config: &RedisConfig) -> Result<Self, RedisError> {
        let current = match &config.source {
            RedisSource::Url(url) => {
                Some((url.clone(), Conn::Single(connect(url, config.timeout)?)))
            }
            RedisSource::Sentinel { .. } | RedisSource::Cluster { .. } => None,
        };
        Ok(Self {
            source: config.source.clone(),
            timeout: config.timeout,
            current: RwLock::new(current),
            last_discovery: Mutex::new(None),
            namespace: config.namespace.clone(),
            scripts: Scripts::new(),
            codec: config.codec,
            flush: config.flush,
            bytes_written: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            undecodable: AtomicU64::new(0),
        })
    }

    /// `<namespace>:sessions:{<id>}`: the braces make the id the cluster hash tag.
    fn key(&self, id: &SessionId) -> String {
        format!("{}:sessions:{{{id}}}", self.namespace)
    }

    fn current(&self) -> Option<Conn> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.as_ref().map(|(_, conn)| conn.clone())
    }

    /// Runs `op` on the current server. Behind sentinels, a failure that may mean a failover
    /// makes the node ask the sentinels again, and retry once if the primary changed.
    async fn run<T, F>(&self, op: impl Fn(Conn) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, RedisError>>,
    {
        let conn = match self.current() {
            Some(conn) => conn,
            None => {
                self.discover().await?;
                self.current().ok_or_else(|| no_primary(&self.source))?
            }
        };
        match op(conn).await {
            Ok(v) => Ok(v),
            Err(e) if matches!(self.source, RedisSource::Sentinel { .. }) && may_have_moved(&e) => {
                if self.discover().await? {
                    let conn = self.current().ok_or_else(|| no_primary(&self.source))?;
                    op(conn).await.map_err(unavailable)
                } else {
                    Err(unavailable(e))
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Connects to the cluster, which then keeps its own slot map.
    async fn join_cluster(&self, nodes: &[String]) -> Result<bool, StoreError> {
        let urls: Vec<String> = nodes.iter().map(|n| format!("redis://{n}")).collect();
        let client = ClusterClientBuilder::new(urls)
            .connection_timeout(self.timeout)
            .response_timeout(self.timeout)
            .retries(2)
            .build()
            .map_err(unavailable)?;
        let conn = client.get_async_connection().await.map_err(unavailable)?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.is_none() {
            *current = Some((nodes.join(","), Conn::Cluster(conn)));
        }
        Ok(true)
    }

    /// Asks the sentinels, in turn, for the primary's address (or, for a cluster, connects
    /// once); returns whether the connection changed.
    async fn discover(&self) -> Result<bool, StoreError> {
        let (sentinels, master) = match &self.source {
            RedisSource::Url(_) => return Ok(false),
            RedisSource::Cluster { nodes } if self.current().is_none() => {
                return self.join_cluster(nodes).await;
            }
            RedisSource::Cluster { .. } => return Ok(false),
            RedisSource::Sentinel { sentinels, master } => (sentinels, master),
        };
        {
            let mut last = self
                .last_discovery
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < REDISCOVER_EVERY) && self.current().is_some() {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        for sentinel in sentinels {
            let Ok(Some((host, port))) = self.ask_sentinel(sentinel, master).await else {
                continue;
            };
            let url = format!("redis://{host}:{port}");
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            if current.as_ref().is_some_and(|(u, _)| *u == url) {
                return Ok(false);
            }
            let conn = connect(&url, self.timeout).map_err(unavailable)?;
            *current = Some((url, Conn::Single(conn)));
            return Ok(true);
        }
        Err(no_primary(&self.source))
    }

    async fn ask_sentinel(
        &self,
        sentinel: &str,
        master: &str,
    ) -> Result<Option<(String, u16)>, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let mut conn = Client::open(format!("redis://{sentinel}"))?
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(master)
            .query_async(&mut conn)
            .await
    }

    async fn access(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let key = self.key(id);
        let fields: Option<Vec<(String, Vec<u8>)>> = self
            .run(|mut conn| {
                let script = self.scripts.access.clone();
                let key = key.clone();
                async move { script.key(key).arg(now_ms()).invoke_async(&mut conn).await }
            })
            .await?;
        let Some(fields) = fields else {
            return Ok(None);
        };
        self.bytes_read.fetch_add(size(&fields), Ordering::Relaxed);
        match decode(id, fields, &self.codec)? {
            Decoded::Session(s) => Ok(Some(s)),
            Decoded::Undecodable(why) => {
                let n = self.undecodable.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    eprintln!(
                        "redis store: session {id} is undecodable with {} ({n} so far), treated as gone: {why}",
                        self.codec
                    );
                }
                Ok(None)
            }
        }
    }

    /// One save script: sets and removes fields, renews the TTL; `false` if the session is
    /// gone (nothing is written then).
    async fn write_fields(
        &self,
        id: &SessionId,
        sets: &[(String, Vec<u8>)],
        removed: &[String],
    ) -> Result<bool, StoreError> {
        let key = self.key(id);
        let saved: i64 = self
            .run(|mut conn| {
                let mut call = self.scripts.save.key(&key);
                call.arg(now_ms()).arg(sets.len());
                for (field, value) in sets {
                    call.arg(field).arg(value);
                }
                for name in removed {
                    call.arg(name);
                }
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(saved == 1)
    }

    fn written(&self, fields: &[(String, Vec<u8>)]) {
        self.bytes_written
            .fetch_add(size(fields), Ordering::Relaxed);
    }
}

/// Bytes of field names and values.
fn size(fields: &[(String, Vec<u8>)]) -> u64 {
    fields.iter().map(|(f, v)| (f.len() + v.len()) as u64).sum()
}

/// A session read back, or why one of its attributes could not be decoded.
enum Decoded {
    Session(Session),
    Undecodable(crate::codec::CodecError),
}

fn no_primary(source: &RedisSource) -> StoreError {
    StoreError::Unavailable {
        store: "redis",
        source: format!("no sentinel named a primary ({source:?})").into(),
    }
}

fn unavailable(e: RedisError) -> StoreError {
    if e.is_timeout() {
        StoreError::Unanswered {
            store: "redis",
            source: Box::new(e),
        }
    } else {
        StoreError::Unavailable {
            store: "redis",
            source: Box::new(e),
        }
    }
}

fn corrupt(why: String) -> StoreError {
    StoreError::Corrupt {
        store: "redis",
        source: why.into(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn attr_field(name: &str) -> String {
    format!("{ATTR}{name}")
}

/// Rebuilds a session from its hash fields. Metadata that does not parse is corruption; an
/// attribute the codec cannot read is a session this node cannot use.
fn decode(
    id: &SessionId,
    fields: Vec<(String, Vec<u8>)>,
    codec: &SessionCodec,
) -> Result<Decoded, StoreError> {
    let text = |v: &[u8], field: &str| {
        std::str::from_utf8(v)
            .map(str::to_owned)
            .map_err(|_| corrupt(format!("session {id}: field {field} is not UTF-8")))
    };
    let number = |v: &[u8], field: &str| {
        text(v, field)?
            .parse::<u64>()
            .map_err(|_| corrupt(format!("session {id}: field {field} is not a number")))
    };
    let mut session = Session::new(id.clone(), String::new(), Duration::ZERO);
    for (field, value) in fields {
        match field.as_str() {
            USER => session.user = text(&value, USER)?,
            COUNTER => session.counter = number(&value, COUNTER)?,
            VERSION => session.version = number(&value, VERSION)?,
            MAX_INACTIVE => {
                session.max_inactive = Duration::from_millis(number(&value, MAX_INACTIVE)?);
            }
            CREATION_TIME | LAST_ACCESSED => {}
            other => {
                if let Some(name) = other.strip_prefix(ATTR) {
                    match codec.decode_attr(&value) {
                        Ok(attr) => session.attrs.insert(name.to_string(), attr),
                        Err(e) => return Ok(Decoded::Undecodable(e)),
                    };
                }
            }
        }
    }
    Ok(Decoded::Session(session))
}

impl SessionStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn create(&self, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let key = self.key(&session.id);
            let now = now_ms();
            let mut fields: Vec<(String, Vec<u8>)> = vec![
                (CREATION_TIME.into(), now.to_string().into_bytes()),
                (LAST_ACCESSED.into(), now.to_string().into_bytes()),
                (
                    MAX_INACTIVE.into(),
                    millis(session.max_inactive).to_string().into_bytes(),
                ),
                (USER.into(), session.user.clone().into_bytes()),
                (COUNTER.into(), session.counter.to_string().into_bytes()),
                (VERSION.into(), session.version.to_string().into_bytes()),
            ];
            fields.extend(
                session
                    .attrs
                    .iter()
                    .map(|(name, attr)| (attr_field(name), self.codec.encode_attr(attr))),
            );
            self.written(&fields);
            let ttl = millis(session.max_inactive);
            self.run(|mut conn| {
                let mut call = self.scripts.create.key(&key);
                call.arg(ttl);
                for (field, value) in &fields {
                    call.arg(field).arg(value);
                }
                async move { call.invoke_async::<()>(&mut conn).await }
            })
            .await
        })
    }

    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<Session>> {
        Box::pin(self.access(id))
    }

    fn save<'a>(&'a self, id: &'a SessionId, change: &'a SessionChange) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut sets: Vec<(String, Vec<u8>)> = change
                .set
                .iter()
                .map(|(name, attr)| (attr_field(name), self.codec.encode_attr(attr)))
                .collect();
            if let Some(counter) = change.counter {
                sets.push((COUNTER.into(), counter.to_string().into_bytes()));
            }
            sets.push((VERSION.into(), change.version.to_string().into_bytes()));
            let removed: Vec<String> = change.removed.iter().map(|n| attr_field(n)).collect();
            self.written(&sets);
            if self.flush == Flush::OnSave {
                return self.write_fields(id, &sets, &removed).await;
            }
            // Attributes set, then removed, then the counter and the version.
            let (attrs, meta) = sets.split_at(change.set.len());
            let steps = attrs
                .iter()
                .map(|set| (std::slice::from_ref(set), &[][..]))
                .chain(removed.iter().map(|r| (&[][..], std::slice::from_ref(r))))
                .chain(meta.iter().map(|set| (std::slice::from_ref(set), &[][..])));
            for (sets, removed) in steps {
                if !self.write_fields(id, sets, removed).await? {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }

    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.access(id).await?.is_some()) })
    }

    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = self.key(id);
            let removed: i64 = self
                .run(|mut conn| {
                    let key = key.clone();
                    async move { redis::cmd("DEL").arg(key).query_async(&mut conn).await }
                })
                .await?;
            Ok(removed > 0)
        })
    }

    /// Redis expires keys by itself (the TTL is the idle limit).
    fn expire_idle(&self) -> StoreFuture<'_, usize> {
        Box::pin(std::future::ready(Ok(0)))
    }

    /// Sessions live in Redis, not here: this node counts none of them, only its traffic.
    fn stats(&self) -> StoreStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreStats {
            traffic: Some(StoreTraffic {
                bytes_written: get(&self.bytes_written),
                bytes_read: get(&self.bytes_read),
                sessions_undecodable: get(&self.undecodable),
            }),
            ..StoreStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::session::Attr;

    /// A real `redis-server` on a free loopback port, without persistence, killed on drop.
    #[derive(Debug)]
    struct Server {
        port: u16,
        _child: tokio::process::Child,
        /// Files of its own (a sentinel's or a cluster node's configuration), removed with it.
        dir: Option<std::path::PathBuf>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            if let Some(dir) = &self.dir {
                let _ = std::fs::remove_dir_all(dir);
            }
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

        async fn start_on(port: u16) -> Self {
            Self::start_with(port, &[]).await
        }

        /// A replica of `primary`.
        async fn replica_of(primary: &Server) -> Self {
            let primary = primary.port.to_string();
            Self::start_with(Self::free_port(), &["--replicaof", "127.0.0.1", &primary]).await
        }

        /// A sentinel watching `primary` as `mymaster` (quorum 2, down after 500 ms).
        async fn sentinel(primary: &Server) -> Self {
            let port = Self::free_port();
            let dir = std::env::temp_dir().join(format!("sessionbench-sentinel-{port}"));
            std::fs::create_dir_all(&dir).expect("sentinel dir");
            let conf = dir.join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 2\nsentinel down-after-milliseconds mymaster 500\nsentinel failover-timeout mymaster 3000\n",
                    dir.display(),
                    primary.port
                ),
            )
            .expect("sentinel.conf");
            let child = tokio::process::Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start redis-server --sentinel ({e}): install it with ci/setup")
                });
            let mut server = Self::ready(port, child).await;
            server.dir = Some(dir);
            server
        }

        async fn start_with(port: u16, extra: &[&str]) -> Self {
            let child = tokio::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(extra)
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start redis-server ({e}): install it with ci/setup")
                });
            Self::ready(port, child).await
        }

        async fn ready(port: u16, child: tokio::process::Child) -> Self {
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
                dir: None,
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
                source: RedisSource::Url(format!("redis://127.0.0.1:{}", self.port)),
                namespace: "sessionbench".into(),
                timeout: Duration::from_millis(500),
                codec: SessionCodec::default(),
                flush: Flush::OnSave,
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

    /// on-save writes a request's changes in one script; immediate writes each attribute, the
    /// counter and the version in a script of its own, and the result is the same session.
    #[tokio::test]
    async fn immediate_flush_writes_each_change_on_its_own() {
        let server = Server::start().await;
        let mut conn = server.connect().await;
        for (flush, scripts) in [(Flush::OnSave, 1), (Flush::Immediate, 4)] {
            let store = RedisStore::new(&RedisConfig {
                flush,
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
            source: RedisSource::Url(format!("redis://127.0.0.1:{}", server.port)),
            namespace: "sessionbench".into(),
            timeout: Duration::from_millis(300),
            codec: SessionCodec::default(),
            flush: Flush::OnSave,
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
            source: RedisSource::Url(format!("redis://127.0.0.1:{port}")),
            namespace: "sessionbench".into(),
            timeout: Duration::from_millis(300),
            codec: SessionCodec::default(),
            flush: Flush::OnSave,
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
                let port = Server::free_port();
                let dir = std::env::temp_dir().join(format!("sessionbench-cluster-{port}"));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).expect("cluster node dir");
                let dir_arg = dir.display().to_string();
                // Not the default port + 10000, which can be past 65535.
                let bus = Server::free_port().to_string();
                let extra = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-port",
                    bus.as_str(),
                    "--dir",
                    dir_arg.as_str(),
                ];
                let mut server = Server::start_with(port, &extra).await;
                server.dir = Some(dir);
                servers.push(server);
            }
            let mut create = tokio::process::Command::new("redis-cli");
            create.arg("--cluster").arg("create");
            for s in &servers {
                create.arg(format!("127.0.0.1:{}", s.port));
            }
            let out = create
                .args(["--cluster-replicas", "1", "--cluster-yes"])
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
}
