//! Full state transfer: a starting node fetches every session (or location) from a live
//! peer, holding the updates that arrive meanwhile, and a live node sends its state in parts.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{Cluster, add};
use crate::cluster::message::{Envelope, Message};
use crate::cluster::wire;

impl Cluster {
    pub(super) async fn await_live(&self, peer: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            let live = self
                .links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(peer)
                .is_some_and(|l| l.live.load(Ordering::Relaxed));
            if live {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until each of `peers` has said hello on an incoming link, or `within` passed
    /// (a peer that is down never will).
    pub(super) async fn await_greeted(&self, peers: &[String], within: Duration) {
        let all = || {
            let greeted = self.greeted.lock().unwrap_or_else(|p| p.into_inner());
            peers.iter().all(|p| greeted.contains(p))
        };
        let _ = tokio::time::timeout(within, async {
            loop {
                let greeting = self.greeting.notified();
                if all() {
                    return;
                }
                greeting.await;
            }
        })
        .await;
    }

    /// The state as frames under the frame limit: the lists are halved until each part fits.
    /// Every part says `more`, and an empty last part ends the transfer, so no part is
    /// encoded twice. A single session too large for a frame cannot be replicated at all; it
    /// is left out and logged.
    pub(super) fn state_parts(&self, state: Message) -> Vec<Vec<u8>> {
        let Message::State {
            sessions,
            locations,
            ..
        } = state
        else {
            return Vec::new();
        };
        let budget = self
            .config
            .codec
            .limit
            .saturating_sub(self.config.codec.overhead());
        let mut todo = vec![(sessions, locations)];
        let mut frames = Vec::new();
        while let Some((sessions, locations)) = todo.pop() {
            let mut part = Envelope {
                from: self.config.node.clone(),
                seq: self.seq.fetch_add(1, Ordering::Relaxed),
                ack: false,
                message: Message::State {
                    sessions,
                    locations,
                    more: true,
                },
            };
            let frame = wire::encode(&part, &self.config.sessions);
            if frame.len() <= budget {
                frames.push(frame);
                continue;
            }
            let Message::State {
                ref mut sessions,
                ref mut locations,
                ..
            } = part.message
            else {
                unreachable!("built above");
            };
            // Halve the longer list; two single items go apart. Each split makes progress.
            let rest = if sessions.len() > 1 {
                (sessions.split_off(sessions.len() / 2), Vec::new())
            } else if locations.len() > 1 {
                (Vec::new(), locations.split_off(locations.len() / 2))
            } else if !sessions.is_empty() && !locations.is_empty() {
                (Vec::new(), std::mem::take(locations))
            } else {
                eprintln!(
                    "node {}: state transfer leaves out a session of {} bytes, over the {}-byte frame limit",
                    self.config.node,
                    frame.len(),
                    self.config.codec.limit
                );
                continue;
            };
            todo.push(rest);
            todo.push((std::mem::take(sessions), std::mem::take(locations)));
        }
        frames.push(
            self.envelope(
                Message::State {
                    sessions: Vec::new(),
                    locations: Vec::new(),
                    more: false,
                },
                false,
            )
            .1
            .to_vec(),
        );
        frames
    }

    /// Asks the known peers, in order, for their sessions; the first full answer wins. With no
    /// answer within the timeout the node starts empty, and says so in its log and metrics.
    pub(super) async fn transfer_state(&self) {
        let fetch = async {
            for (peer, addr) in &self.config.peers {
                if let Ok(n) = self.fetch_state(peer, *addr).await {
                    return Some(format!("received {n} sessions from {peer}"));
                }
            }
            None
        };
        let outcome = match tokio::time::timeout(self.config.state_transfer_timeout, fetch).await {
            Ok(Some(done)) => done,
            _ => format!(
                "timed out after {:?}: started empty",
                self.config.state_transfer_timeout
            ),
        };
        eprintln!("node {}: state transfer: {outcome}", self.config.node);
        *self
            .state_transfer
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = outcome;
        // Apply what arrived meanwhile, in order; stop holding only once nothing is left, so a
        // change never overtakes an earlier one.
        loop {
            let batch = {
                let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                match held.as_mut() {
                    Some(queue) if !queue.is_empty() => std::mem::take(queue),
                    _ => {
                        *held = None;
                        break;
                    }
                }
            };
            for update in batch {
                self.replica.apply(update).await;
            }
        }
    }

    pub(super) async fn fetch_state(
        &self,
        peer: &str,
        addr: SocketAddr,
    ) -> Result<usize, crate::cluster::FrameError> {
        let stream = TcpStream::connect(addr).await?;
        let (mut rd, mut wr) = self
            .config
            .codec
            .connect(stream, &self.config.node, peer)
            .await?;
        let (_, request) = self.envelope(
            Message::StateRequest {
                node: self.config.node.clone(),
                cluster: self.addr,
            },
            false,
        );
        self.write(&mut wr, &request).await?;
        let mut installed = 0;
        while let Some((payload, size)) = rd.read().await? {
            add(&self.stats.bytes_received, size);
            let Ok(decoded) = wire::decode(&payload, &self.config.sessions) else {
                continue;
            };
            if decoded.from != peer {
                return Err(crate::cluster::FrameError::Peer(format!(
                    "a state from `{}` on the link to `{peer}`",
                    decoded.from
                )));
            }
            self.undecodable(&decoded.from, &decoded.undecodable);
            if let Some(state @ Message::State { more, .. }) = decoded.message {
                installed += self.replica.install(state).await;
                if !more {
                    return Ok(installed);
                }
            }
        }
        Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
    }
}
