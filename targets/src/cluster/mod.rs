//! In-memory session clustering: a replication channel between nodes (framed, optionally
//! authenticated), membership with reconnect and heartbeats, and the `delta` store that sends
//! each request's changes to every peer, as Tomcat's DeltaManager does.

mod frame;
mod member;
mod message;

pub use frame::{FrameCodec, FrameError};
pub use member::{Cluster, ClusterConfig, ClusterStatsView, Replication};
pub use message::{Envelope, Message};
