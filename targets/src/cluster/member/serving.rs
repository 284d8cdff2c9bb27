//! Incoming links: each peer's frames applied in order, acked, and state requests answered.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpStream;

use super::{Cluster, add};
use crate::cluster::frame::FrameWriter;
use crate::cluster::message::Message;
use crate::cluster::wire;
use crate::codec::CodecError;
use crate::session::Session;

impl Cluster {
    /// One incoming link: apply what arrives, ack it when asked, answer state requests. A frame
    /// that is oversized, unauthenticated or undecodable closes the link and is counted.
    pub(super) async fn serve(self: Arc<Self>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr, peer) = match self.config.codec.accept(stream, &self.config.node).await
        {
            Ok(ends) => ends,
            Err(e) => return self.reject(&e.to_string()),
        };
        loop {
            let (payload, size) = match rd.read().await {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => return self.reject(&e.to_string()),
            };
            add(&self.stats.bytes_received, size);
            add(&self.stats.messages_received, 1);
            let decoded = match wire::decode(&payload, &self.config.sessions) {
                Ok(d) => d,
                Err(e) => return self.reject(&format!("undecodable message: {e}")),
            };
            // The keys hold the peer to its name; a message naming another is no peer's.
            if decoded.from != peer {
                return self.reject(&format!(
                    "a message from `{}` on the link of `{peer}`",
                    decoded.from
                ));
            }
            self.undecodable(&decoded.from, &decoded.undecodable);
            let (seq, ack) = (decoded.seq, decoded.ack);
            // Only answering a state request writes here; if that fails the link is gone. A
            // message whose session could not be decoded is acked unapplied: the sender need
            // not wait for what this node will never read.
            let session = match decoded.message {
                Some(message) => match self.apply(message, &mut wr).await {
                    Ok(session) => session,
                    Err(_) => return,
                },
                None => None,
            };
            if ack {
                let (_, reply) = self.envelope(Message::Ack { seq, session }, false);
                if self.write(&mut wr, &reply).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Counts sessions a peer sent that this node cannot read, and logs the first and then
    /// every power of two (a codec or schema mismatch would otherwise flood the log).
    pub(super) fn undecodable(&self, from: &str, errors: &[CodecError]) {
        for e in errors {
            let n = self
                .stats
                .sessions_undecodable
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            if n.is_power_of_two() {
                eprintln!(
                    "node {}: cannot decode a session from {from} ({n} so far; codec {}): {e}",
                    self.config.node, self.config.sessions
                );
            }
        }
    }

    pub(super) fn reject(&self, why: &str) {
        add(&self.stats.frames_rejected, 1);
        eprintln!("node {}: replication link closed: {why}", self.config.node);
    }

    pub(super) async fn apply(
        self: &Arc<Self>,
        message: Message,
        wr: &mut FrameWriter,
    ) -> Result<Option<Session>, crate::cluster::FrameError> {
        match message {
            Message::Hello { node, cluster } => {
                if let Some(addr) = self.address_of(&node, cluster) {
                    self.link(&node, addr);
                }
                self.greeted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(node);
                self.greeting.notify_waiters();
            }
            Message::StateRequest { node, cluster } => {
                // Link back first and wait for it, so changes after the snapshot reach the
                // joiner on that link (it holds them until the state is in).
                if let Some(addr) = self.address_of(&node, cluster) {
                    self.link(&node, addr);
                    self.await_live(&node, self.config.state_transfer_timeout)
                        .await;
                }
                for part in self.state_parts(self.replica.state()) {
                    self.write(wr, &part).await?;
                }
            }
            Message::State { .. } | Message::Heartbeat | Message::Ack { .. } => {}
            message => {
                if message.is_update() {
                    let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(queue) = held.as_mut() {
                        queue.push(message);
                        return Ok(None);
                    }
                }
                return Ok(self.replica.apply(message).await);
            }
        }
        Ok(None)
    }
}
