//! Messages as bytes: the envelope in postcard (compact, and the same for every codec), the
//! sessions and changes inside it in the node's session codec. So the codec decides what
//! replication costs, as the session serializer does in a Tomcat cluster, and a node that
//! cannot read a peer's session (another format, or a schema version it does not know) still
//! reads the envelope: it counts the session as undecodable and goes on.

use super::message::{Envelope, Message};
use crate::codec::{CodecError, SessionCodec};

/// A session or change in the node's codec.
type Blob = Vec<u8>;

type WireEnvelope = Envelope<Blob, Blob>;

pub fn encode(envelope: &Envelope, codec: &SessionCodec) -> Vec<u8> {
    let session = |s| codec.encode_session(s);
    let message = match &envelope.message {
        Message::Hello { node, cluster } => Message::Hello {
            node: node.clone(),
            cluster: *cluster,
        },
        Message::Heartbeat => Message::Heartbeat,
        Message::Create { session: s } => Message::Create {
            session: session(s),
        },
        Message::Change { id, change } => Message::Change {
            id: id.clone(),
            change: codec.encode_change(change),
        },
        Message::Access { id } => Message::Access { id: id.clone() },
        Message::Invalidate { id } => Message::Invalidate { id: id.clone() },
        Message::Backup {
            session: s,
            primary,
        } => Message::Backup {
            session: session(s),
            primary: primary.clone(),
        },
        Message::Location(l) => Message::Location(l.clone()),
        Message::Retrieve { id } => Message::Retrieve { id: id.clone() },
        Message::StateRequest { node, cluster } => Message::StateRequest {
            node: node.clone(),
            cluster: *cluster,
        },
        Message::State {
            sessions,
            locations,
            more,
        } => Message::State {
            sessions: sessions.iter().map(session).collect(),
            locations: locations.clone(),
            more: *more,
        },
        Message::Ack { seq, session: s } => Message::Ack {
            seq: *seq,
            session: s.as_ref().map(session),
        },
    };
    let wire = WireEnvelope {
        from: envelope.from.clone(),
        seq: envelope.seq,
        ack: envelope.ack,
        message,
    };
    postcard::to_allocvec(&wire).expect("envelopes serialise")
}

/// An incoming message. `message` is `None` when the session or change it carries could not
/// be decoded; a state transfer or an ack instead leaves the undecodable sessions out.
#[derive(Debug)]
pub struct Decoded {
    pub from: String,
    pub seq: u64,
    pub ack: bool,
    pub message: Option<Message>,
    /// Why each session or change left out could not be read.
    pub undecodable: Vec<CodecError>,
}

/// Decodes a payload; an error means the envelope itself is unreadable (the link is closed).
pub fn decode(payload: &[u8], codec: &SessionCodec) -> Result<Decoded, postcard::Error> {
    let wire: WireEnvelope = postcard::from_bytes(payload)?;
    let mut undecodable = Vec::new();
    let message = match wire.message {
        Message::Hello { node, cluster } => Some(Message::Hello { node, cluster }),
        Message::Heartbeat => Some(Message::Heartbeat),
        Message::Create { session } => keep(&mut undecodable, codec.decode_session(&session))
            .map(|session| Message::Create { session }),
        Message::Change { id, change } => keep(&mut undecodable, codec.decode_change(&change))
            .map(|change| Message::Change { id, change }),
        Message::Access { id } => Some(Message::Access { id }),
        Message::Invalidate { id } => Some(Message::Invalidate { id }),
        Message::Backup { session, primary } => {
            keep(&mut undecodable, codec.decode_session(&session))
                .map(|session| Message::Backup { session, primary })
        }
        Message::Location(l) => Some(Message::Location(l)),
        Message::Retrieve { id } => Some(Message::Retrieve { id }),
        Message::StateRequest { node, cluster } => Some(Message::StateRequest { node, cluster }),
        Message::State {
            sessions,
            locations,
            more,
        } => Some(Message::State {
            sessions: sessions
                .iter()
                .filter_map(|s| keep(&mut undecodable, codec.decode_session(s)))
                .collect(),
            locations,
            more,
        }),
        Message::Ack { seq, session } => Some(Message::Ack {
            seq,
            session: session.and_then(|s| keep(&mut undecodable, codec.decode_session(&s))),
        }),
    };
    Ok(Decoded {
        from: wire.from,
        seq: wire.seq,
        ack: wire.ack,
        message,
        undecodable,
    })
}

/// The decoded value, or `None` with the error kept.
fn keep<T>(undecodable: &mut Vec<CodecError>, r: Result<T, CodecError>) -> Option<T> {
    r.map_err(|e| undecodable.push(e)).ok()
}
