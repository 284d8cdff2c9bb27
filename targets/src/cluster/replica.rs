//! What a clustered store does with what peers send. The cluster moves messages; the store
//! behind it (delta, backup) decides what they mean.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use super::message::Message;
use crate::session::Session;

pub type ReplicaFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Replica: Send + Sync + Debug + 'static {
    /// Applies an update or request from a peer. The returned session answers a `Retrieve`
    /// (it travels in the `Ack`).
    fn apply(&self, message: Message) -> ReplicaFuture<'_, Option<Session>>;

    /// What a joining node receives (a `State` message).
    fn state(&self) -> Message;

    /// Installs a `State` answer; returns how many sessions it named.
    fn install(&self, state: Message) -> ReplicaFuture<'_, usize>;

    /// The link to `peer` went down (it died, or stopped answering).
    fn peer_down(&self, _peer: &str) {}
}
