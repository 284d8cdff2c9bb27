//! In-memory session clustering: a replication channel between nodes (framed, optionally
//! authenticated) and membership with reconnect and heartbeats. The clustered stores (`delta`,
//! `backup`, in `store/`) give the messages their meaning through [`Replica`].

mod frame;
mod member;
mod message;
mod replica;
pub mod wire;

pub use frame::{CHALLENGE_LEN, FrameCodec, FrameError, FrameReader, FrameWriter};
pub use member::{Cluster, ClusterConfig, ClusterStatsView, Replication};
pub use message::{Envelope, Location, Message};
pub use replica::{Replica, ReplicaFuture};
