//! Session stores: the one trait the node talks to, and its implementations.
//!
//! The node never knows where sessions live. Replication (delta, backup) and Redis slot in
//! as further implementations of [`SessionStore`], and every one runs the same
//! `conformance` suite.

mod api;
mod backup;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod delta;
mod local;
mod redis;
pub mod redis_server;

pub use api::{SessionStore, StoreError, StoreFuture, StoreStats, StoreTraffic};
pub use backup::BackupStore;
pub use delta::DeltaStore;
pub use local::{Expired, LocalStore};
pub use redis::{Flush, RedisConfig, RedisSource, RedisStore};
