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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};

use super::api::{SessionStore, StoreError, StoreFuture, StoreStats};
use crate::session::{Attr, Session, SessionChange, SessionId};

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
    /// `redis://host:port[/db]`.
    pub url: String,
    /// Prepended to every key (Spring's `spring:session` namespace).
    pub namespace: String,
    /// Bound on connecting and on each command; past it the request fails with 503.
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    namespace: String,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Scripts {
    /// KEYS[1] session; ARGV: now. Renews the idle clock and returns the hash, or nothing.
    access: Script,
    /// KEYS[1] session; ARGV: now, number of fields set, field/value pairs, names removed.
    /// Returns 1, or 0 (writing nothing) when the session is gone.
    save: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
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

impl RedisStore {
    /// Connects lazily: a node starts even while Redis is down, answers 503 meanwhile, and
    /// recovers by itself once Redis is back.
    pub fn new(config: &RedisConfig) -> Result<Self, RedisError> {
        let client = Client::open(config.url.as_str())?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, manager)?;
        Ok(Self {
            conn,
            namespace: config.namespace.clone(),
            scripts: Scripts::new(),
        })
    }

    /// `<namespace>:sessions:{<id>}`: the braces make the id the cluster hash tag.
    fn key(&self, id: &SessionId) -> String {
        format!("{}:sessions:{{{id}}}", self.namespace)
    }

    async fn access(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let fields: Option<Vec<(String, Vec<u8>)>> = self
            .scripts
            .access
            .key(self.key(id))
            .arg(now_ms())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        fields.map(|f| decode(id, f)).transpose()
    }
}

fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable {
        store: "redis",
        source: Box::new(e),
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

fn encode_attr(attr: &Attr) -> Vec<u8> {
    serde_json::to_vec(attr).expect("attributes serialise")
}

/// Rebuilds a session from its hash fields.
fn decode(id: &SessionId, fields: Vec<(String, Vec<u8>)>) -> Result<Session, StoreError> {
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
                    let attr = serde_json::from_slice(&value)
                        .map_err(|e| corrupt(format!("session {id}: attribute {name}: {e}")))?;
                    session.attrs.insert(name.to_string(), attr);
                }
            }
        }
    }
    Ok(session)
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
                    .map(|(name, attr)| (attr_field(name), encode_attr(attr))),
            );
            redis::pipe()
                .atomic()
                .hset_multiple(&key, &fields)
                .ignore()
                .pexpire(
                    &key,
                    i64::try_from(millis(session.max_inactive)).unwrap_or(i64::MAX),
                )
                .ignore()
                .query_async::<()>(&mut self.conn.clone())
                .await
                .map_err(unavailable)
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
                .map(|(name, attr)| (attr_field(name), encode_attr(attr)))
                .collect();
            if let Some(counter) = change.counter {
                sets.push((COUNTER.into(), counter.to_string().into_bytes()));
            }
            sets.push((VERSION.into(), change.version.to_string().into_bytes()));
            let mut call = self.scripts.save.key(self.key(id));
            call.arg(now_ms()).arg(sets.len());
            for (field, value) in &sets {
                call.arg(field).arg(value);
            }
            for name in &change.removed {
                call.arg(attr_field(name));
            }
            let saved: i64 = call
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            Ok(saved == 1)
        })
    }

    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.access(id).await?.is_some()) })
    }

    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let removed: i64 = redis::cmd("DEL")
                .arg(self.key(id))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            Ok(removed > 0)
        })
    }

    /// Redis expires keys by itself (the TTL is the idle limit).
    fn expire_idle(&self) -> StoreFuture<'_, usize> {
        Box::pin(std::future::ready(Ok(0)))
    }

    /// Sessions live in Redis, not here: this node counts none of them.
    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    /// A real `redis-server` on a free loopback port, without persistence, killed on drop.
    #[derive(Debug)]
    struct Server {
        port: u16,
        _child: tokio::process::Child,
    }

    impl Server {
        async fn start() -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            Self::start_on(port).await
        }

        async fn start_on(port: u16) -> Self {
            let child = tokio::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start redis-server ({e}): install it with ci/setup")
                });
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
            }
        }

        fn config(&self) -> RedisConfig {
            RedisConfig {
                url: format!("redis://127.0.0.1:{}", self.port),
                namespace: "sessionbench".into(),
                timeout: Duration::from_millis(500),
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
            let server = Server::start().await;
            Self {
                store: RedisStore::new(&server.config()).expect("client"),
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
        let mut conn = store.conn.clone();
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
    async fn unreachable_redis_fails_fast_and_the_store_recovers_when_it_is_back() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = RedisConfig {
            url: format!("redis://127.0.0.1:{port}"),
            namespace: "sessionbench".into(),
            timeout: Duration::from_millis(300),
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
}
