//! The Redis session store: configuration, connections and the [`SessionStore`] it implements.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::RedisError;

use super::connection::{Conn, connect};
use super::layout::*;
use crate::codec::SessionCodec;
use crate::session::{Session, SessionChange, SessionId};
use crate::store::api::{SessionStore, StoreError, StoreFuture, StoreStats, StoreTraffic};

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
    /// Every access renews the idle TTL (Spring's behaviour). Off, the TTL is set when the
    /// session is created and never renewed: sessions expire by age however busy they are
    /// (a negative control for the expiry checks).
    pub renew_ttl_on_access: bool,
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
    /// `redis://host:port[/db]`, or `rediss://` over TLS, trusting `ca_pem` (PEM
    /// certificates) if given, else the system's roots.
    Url {
        url: String,
        ca_pem: Option<Vec<u8>>,
        /// Never in the URL: see [`crate::secret`].
        password: Option<crate::secret::Secret>,
    },
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

/// Sessions in Redis, shared by every node: each request one script, atomic on the server.
pub struct RedisStore {
    pub(super) source: RedisSource,
    pub(super) timeout: Duration,
    /// The server in use and a connection to it; `None` until a sentinel has named one, or
    /// the cluster has first answered.
    pub(super) current: RwLock<Option<(String, Conn)>>,
    pub(super) last_discovery: Mutex<Option<Instant>>,
    pub(super) namespace: String,
    pub(super) scripts: Scripts,
    pub(super) codec: SessionCodec,
    pub(super) flush: Flush,
    pub(super) bytes_written: AtomicU64,
    pub(super) bytes_read: AtomicU64,
    pub(super) undecodable: AtomicU64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("source", &self.source)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects lazily: a node starts even while Redis is down, answers 503 meanwhile, and
    /// recovers by itself once Redis is back.
    pub fn new(config: &RedisConfig) -> Result<Self, RedisError> {
        let current = match &config.source {
            RedisSource::Url {
                url,
                ca_pem,
                password,
            } => Some((
                url.clone(),
                Conn::Single(connect(
                    url,
                    ca_pem.as_deref(),
                    password.as_ref(),
                    config.timeout,
                )?),
            )),
            RedisSource::Sentinel { .. } | RedisSource::Cluster { .. } => None,
        };
        Ok(Self {
            source: config.source.clone(),
            timeout: config.timeout,
            current: RwLock::new(current),
            last_discovery: Mutex::new(None),
            namespace: config.namespace.clone(),
            scripts: Scripts::new(config.renew_ttl_on_access),
            codec: config.codec,
            flush: config.flush,
            bytes_written: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            undecodable: AtomicU64::new(0),
        })
    }

    /// `<namespace>:sessions:{<id>}`: the braces make the id the cluster hash tag.
    pub(super) fn key(&self, id: &SessionId) -> String {
        format!("{}:sessions:{{{id}}}", self.namespace)
    }

    pub(super) async fn access(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
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
    /// Writes `sets`, removes `removed`, adds `increment` to the counter and raises the
    /// version to `version` (0: leaves it), in one script.
    pub(super) async fn write_fields(
        &self,
        id: &SessionId,
        sets: &[(String, Vec<u8>)],
        removed: &[String],
        (increment, version): (u64, u64),
    ) -> Result<bool, StoreError> {
        let key = self.key(id);
        let saved: i64 = self
            .run(|mut conn| {
                let mut call = self.scripts.save.key(&key);
                call.arg(now_ms())
                    .arg(increment)
                    .arg(version)
                    .arg(sets.len());
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

    pub(super) fn written(&self, fields: &[(String, Vec<u8>)]) {
        self.bytes_written
            .fetch_add(size(fields), Ordering::Relaxed);
    }
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
            let removed: Vec<String> = change.removed.iter().map(|n| attr_field(n)).collect();
            let meta = (change.increment, change.version);
            self.written(&sets);
            self.written(&[(VERSION.into(), change.version.to_string().into_bytes())]);
            if self.flush == Flush::OnSave {
                return self.write_fields(id, &sets, &removed, meta).await;
            }
            // Attributes set, then removed, then the counter and the version.
            let (attrs, counter) = sets.split_at(change.set.len());
            let steps = attrs
                .iter()
                .map(|set| (std::slice::from_ref(set), &[][..], (0, 0)))
                .chain(
                    removed
                        .iter()
                        .map(|r| (&[][..], std::slice::from_ref(r), (0, 0))),
                )
                .chain(std::iter::once((counter, &[][..], meta)));
            for (sets, removed, meta) in steps {
                if !self.write_fields(id, sets, removed, meta).await? {
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

    /// `SET <session>:lock TOKEN NX PX ttl`: one lock for every node sharing this Redis.
    fn try_lock<'a>(
        &'a self,
        id: &'a SessionId,
        token: &'a str,
        ttl: std::time::Duration,
    ) -> StoreFuture<'a, Option<bool>> {
        Box::pin(async move {
            let key = format!("{}:lock", self.key(id));
            let taken: Option<String> = self
                .run(|mut conn| {
                    let key = key.clone();
                    async move {
                        redis::cmd("SET")
                            .arg(key)
                            .arg(token)
                            .arg("NX")
                            .arg("PX")
                            .arg(millis(ttl).max(1))
                            .query_async(&mut conn)
                            .await
                    }
                })
                .await?;
            Ok(Some(taken.is_some()))
        })
    }

    /// Deletes the lock only if `token` still holds it (it may have expired and been taken).
    fn unlock<'a>(&'a self, id: &'a SessionId, token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = format!("{}:lock", self.key(id));
            let _: i64 = self
                .run(|mut conn| {
                    let mut call = self.scripts.unlock.key(&key);
                    call.arg(token);
                    async move { call.invoke_async(&mut conn).await }
                })
                .await?;
            Ok(())
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
