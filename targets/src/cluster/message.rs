//! What nodes say to each other. JSON for now; the codec issue makes it pluggable.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::session::{Session, SessionChange, SessionId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Message {
    /// First frame on a link: who is calling, and where it listens (so a node that learns of a
    /// new member connects back: members can join at run time).
    Hello {
        node: String,
        cluster: SocketAddr,
    },
    /// Sent when a link is idle, so a dead peer is noticed by a failing write.
    Heartbeat,
    Create {
        session: Session,
    },
    Change {
        id: SessionId,
        change: SessionChange,
    },
    Invalidate {
        id: SessionId,
    },
    /// A starting node asks for every session (full state transfer). It names itself so the
    /// responder links back to it before taking the snapshot: then every change is either in
    /// the snapshot or sent on the link afterwards.
    StateRequest {
        node: String,
        cluster: SocketAddr,
    },
    State {
        sessions: Vec<Session>,
    },
    /// The receiver applied message `seq` (synchronous replication waits for these).
    Ack {
        seq: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: String,
    pub seq: u64,
    /// The sender waits for an `Ack`.
    pub ack: bool,
    pub message: Message,
}
