//! Cluster membership and the replication channel: one outgoing link per peer (connect with
//! backoff, `Hello`, heartbeats, acks), one server for incoming links (apply, ack, answer state
//! requests), and full state transfer when a node starts. What messages mean is the
//! [`Replica`](crate::cluster::replica::Replica)'s business.

mod links;
mod membership;
mod serving;
mod state;

pub use membership::*;
