//! In-memory session clustering: a replication channel between nodes (framed, optionally
//! authenticated) and membership with reconnect and heartbeats. The clustered stores (`delta`,
//! `backup`, in `store/`) give the messages their meaning through [`Replica`].

mod error;
mod frame;
mod handshake;
mod member;
mod message;
mod replica;
pub mod wire;

pub use error::FrameError;
pub use frame::{FrameCodec, FrameReader, FrameWriter};
pub use handshake::{CHALLENGE_LEN, Handshake};
pub use member::{Cluster, ClusterConfig, ClusterStatsView, Replication};
pub use message::{Envelope, Location, Message};
pub use replica::{Replica, ReplicaFuture};
