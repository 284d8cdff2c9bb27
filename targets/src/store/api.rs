//! The `SessionStore` trait: what a node needs from wherever sessions live.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterStatsView;
use crate::session::{Session, SessionChange, SessionId};

/// A boxed future, so the node can hold any store as `Arc<dyn SessionStore>` chosen at start-up.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where a node keeps sessions.
///
/// Operations are shaped after what Tomcat's managers and Spring Session do per request:
/// a request loads the session (an access, which resets its idle clock), and saves only what it
/// changed. A session that is gone (invalidated or expired) is never recreated by a save.
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// Short name for logs and metrics (`local`, `delta`, `redis`, …).
    fn kind(&self) -> &'static str;

    /// Stores a new session (after login). Its idle clock starts now.
    fn create(&self, session: Session) -> StoreFuture<'_, ()>;

    /// Returns the session if it exists and has not been idle longer than its max-inactive
    /// interval. A load is an access: it resets the idle clock.
    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<Session>>;

    /// Writes only what `change` names (and resets the idle clock). Returns `false`, writing
    /// nothing, when the session no longer exists.
    fn save<'a>(&'a self, id: &'a SessionId, change: &'a SessionChange) -> StoreFuture<'a, bool>;

    /// Resets the idle clock without reading the session. Returns `false` if it is gone.
    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool>;

    /// Removes the session. Returns whether it existed.
    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool>;

    /// Removes every session idle longer than its max-inactive interval and returns how many.
    /// Nodes call this periodically so expiry happens even for sessions nobody reads again;
    /// stores whose backend expires keys by itself (Redis TTL) may return 0.
    fn expire_idle(&self) -> StoreFuture<'_, usize>;

    /// Counters for `/metrics`.
    fn stats(&self) -> StoreStats;

    /// Takes the session's lock as `token` for `ttl` (whole-locked saves, as
    /// memcached-session-manager's locking modes): `Some(true)` taken, `Some(false)` held by
    /// another request; `None` when this store shares no locks between nodes (the node then
    /// locks in its own memory).
    fn try_lock<'a>(
        &'a self,
        _id: &'a SessionId,
        _token: &'a str,
        _ttl: std::time::Duration,
    ) -> StoreFuture<'a, Option<bool>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Releases the lock `token` holds (a lock another request took since is left alone).
    fn unlock<'a>(&'a self, _id: &'a SessionId, _token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Counters a store exposes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StoreStats {
    /// Sessions held by this store (for a shared store: as far as this node can tell).
    pub sessions: u64,
    /// Sessions removed by expiry since start.
    pub expired: u64,
    /// Copies of sessions another node serves, kept here as their backup (`backup` store).
    pub copies: u64,
    /// Replication traffic, for clustered stores.
    pub replication: Option<ClusterStatsView>,
    /// Traffic to a shared store (Redis).
    pub traffic: Option<StoreTraffic>,
}

/// What a node sent to and read from a shared store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct StoreTraffic {
    /// Bytes of field names and values written (without the protocol's framing).
    pub bytes_written: u64,
    /// Bytes of field names and values read back.
    pub bytes_read: u64,
    /// Sessions this node could not decode (another codec, or a session schema it does not
    /// know) and so treated as gone, as Spring Session's `SafeRedisSessionMapper` advises.
    pub sessions_undecodable: u64,
}

/// Why a store operation failed. A missing session is not an error (`None`/`false`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached: nothing was applied; the node answers 503.
    #[error("session store `{store}` is unavailable")]
    Unavailable {
        store: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend did not answer in time. The command may have gone out and be applied
    /// later (a paused Redis runs what it queued when it resumes), so the node answers 504,
    /// which a client must read as "maybe applied", never as "refused".
    #[error("session store `{store}` did not answer in time")]
    Unanswered {
        store: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stored bytes could not be decoded into a session.
    #[error("session store `{store}` holds an undecodable session")]
    Corrupt {
        store: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
