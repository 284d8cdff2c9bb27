//! Reaching Redis: one server by URL, the primary the sentinels name (asked again on a
//! failover), or a cluster that routes by key; and what a failure means for the request.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisError, RedisFuture, Value};

use super::{RedisSource, RedisStore};
use crate::store::api::StoreError;

/// A connection to one server, or to a cluster (routed by key).
#[derive(Clone)]
pub(super) enum Conn {
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
pub(super) const REDISCOVER_EVERY: Duration = Duration::from_millis(100);

/// A lazy connection: it is made on first use, and remade after a failure. A `rediss://` URL
/// speaks TLS, trusting `ca_pem` if given; `password` signs in.
pub(super) fn connect(
    url: &str,
    ca_pem: Option<&[u8]>,
    password: Option<&crate::secret::Secret>,
    timeout: Duration,
) -> Result<ConnectionManager, RedisError> {
    use redis::IntoConnectionInfo;
    let mut info = url.into_connection_info()?;
    if let Some(password) = password {
        let settings = info
            .redis_settings()
            .clone()
            .set_password(password.expose());
        info = info.set_redis_settings(settings);
    }
    let manager = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    let client = match ca_pem {
        Some(pem) => Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            },
        )?,
        None => Client::open(info)?,
    };
    ConnectionManager::new_lazy_with_config(client, manager)
}

/// Whether a failure may mean the primary moved: it is gone, silent, or now a replica.
pub(super) fn may_have_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
        || e.code() == Some("READONLY")
}

impl RedisStore {
    pub(super) fn current(&self) -> Option<Conn> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.as_ref().map(|(_, conn)| conn.clone())
    }

    /// Runs `op` on the current server. Behind sentinels, a failure that may mean a failover
    /// makes the node ask the sentinels again, and retry once if the primary changed.
    pub(super) async fn run<T, F>(&self, op: impl Fn(Conn) -> F) -> Result<T, StoreError>
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
    pub(super) async fn join_cluster(&self, nodes: &[String]) -> Result<bool, StoreError> {
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
    pub(super) async fn discover(&self) -> Result<bool, StoreError> {
        let (sentinels, master) = match &self.source {
            RedisSource::Url { .. } => return Ok(false),
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
            let conn = connect(&url, None, None, self.timeout).map_err(unavailable)?;
            *current = Some((url, Conn::Single(conn)));
            return Ok(true);
        }
        Err(no_primary(&self.source))
    }

    pub(super) async fn ask_sentinel(
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
}

pub(super) fn no_primary(source: &RedisSource) -> StoreError {
    StoreError::Unavailable {
        store: "redis",
        source: format!("no sentinel named a primary ({source:?})").into(),
    }
}

pub(super) fn unavailable(e: RedisError) -> StoreError {
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
