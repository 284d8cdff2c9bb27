//! What nodes say to each other. The sessions and changes inside are generic so that the wire
//! form ([`super::wire`]) can carry them as bytes in the node's codec.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::session::{Session, SessionChange, SessionId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message<S = Session, C = SessionChange> {
    /// First frame on a link: who is calling, and where it listens (so a node that learns of a
    /// new member connects back: members can join at run time).
    Hello { node: String, cluster: SocketAddr },
    /// Sent when a link is idle, so a dead peer is noticed by a failing write.
    Heartbeat,
    /// delta: a new session, for every peer.
    Create { session: S },
    /// What one request changed (delta: to every peer; backup: to the session's backup).
    Change { id: SessionId, change: C },
    /// delta: the session was read here, so peers' copies must not idle out (sent when the
    /// session moved here, or when peers have not heard of it for an idle limit).
    Access { id: SessionId },
    /// The session is gone (logout or expiry), for every peer.
    Invalidate { id: SessionId },
    /// backup: keep this copy; `primary` serves the session.
    Backup { session: S, primary: String },
    /// backup: where a session lives, for every node that is neither its primary nor its
    /// backup (and that drops any copy it held).
    Location(Location),
    /// backup: send me your copy (answered in the `Ack`).
    Retrieve { id: SessionId },
    /// A starting node asks for the state (full state transfer). It names itself so the
    /// responder links back to it before taking the snapshot: then every change is either in
    /// the snapshot or sent on the link afterwards.
    StateRequest { node: String, cluster: SocketAddr },
    /// The answer to `StateRequest`: every session (delta) or every location (backup).
    State {
        sessions: Vec<S>,
        locations: Vec<Location>,
        /// More parts follow: a state larger than a frame is sent in parts.
        more: bool,
    },
    /// The receiver applied message `seq` (synchronous sends wait for these); the answer to a
    /// `Retrieve` carries the session.
    Ack { seq: u64, session: Option<S> },
}

impl<S, C> Message<S, C> {
    /// Whether the message changes what the receiver holds (such messages are held, in order,
    /// while the receiver is still receiving its state).
    pub fn is_update(&self) -> bool {
        matches!(
            self,
            Self::Create { .. }
                | Self::Change { .. }
                | Self::Access { .. }
                | Self::Invalidate { .. }
                | Self::Backup { .. }
                | Self::Location(_)
        )
    }
}

/// Which node serves a session, and which keeps its copy (none while the primary is alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub id: SessionId,
    pub primary: String,
    pub backup: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<S = Session, C = SessionChange> {
    pub from: String,
    pub seq: u64,
    /// The sender waits for an `Ack`.
    pub ack: bool,
    pub message: Message<S, C>,
}
