//! Outgoing links, one per peer: connect with backoff, `Hello`, heartbeats, sends that wait
//! for their ack and go again on the next connection when the last one broke.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};

use super::{Cluster, Link, Outgoing, Sent, add};
use crate::cluster::frame::FrameWriter;
use crate::cluster::message::Message;
use crate::cluster::wire;
use crate::session::Session;

impl Cluster {
    /// Queues each payload on its peer's link; when `wait`, collects every ack (`None` for a
    /// peer that is down or does not ack within the ack timeout).
    pub(super) async fn deliver(
        &self,
        sends: Vec<(String, u64, Bytes)>,
        wait: bool,
    ) -> Vec<(String, Option<Option<Session>>)> {
        let mut waits = Vec::new();
        for (peer, seq, payload) in sends {
            let link = self
                .links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&peer)
                .filter(|l| l.live.load(Ordering::Relaxed))
                .cloned();
            let Some(link) = link else {
                waits.push((peer, seq, None));
                continue;
            };
            if !wait {
                let not_before = (!self.config.async_delay.is_zero())
                    .then(|| tokio::time::Instant::now() + self.config.async_delay);
                let _ = link.queue.send((payload, not_before));
                waits.push((peer, seq, None));
                continue;
            }
            let sent = Sent {
                connection: link.connections.load(Ordering::Relaxed),
                rx: self.await_ack(&peer, seq),
                payload: payload.clone(),
                link: link.clone(),
            };
            let _ = link.queue.send((payload, None));
            waits.push((peer, seq, Some(sent)));
        }
        let mut answers = Vec::new();
        for (peer, seq, sent) in waits {
            let answer = match sent {
                None => None,
                Some(sent) => self.acked(&peer, seq, sent).await,
            };
            answers.push((peer, answer));
        }
        answers
    }

    pub(super) fn await_ack(&self, peer: &str, seq: u64) -> oneshot::Receiver<Option<Session>> {
        let (tx, rx) = oneshot::channel();
        self.acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((peer.to_string(), seq), tx);
        rx
    }

    /// Waits for the ack of `sent`. A message whose connection the peer ended went to a
    /// process that is gone (the peer restarted): it is sent once more as soon as the link
    /// is back, and waited for anew. A peer that does not ack in time is counted dead.
    pub(super) async fn acked(&self, peer: &str, seq: u64, sent: Sent) -> Option<Option<Session>> {
        let Sent {
            connection,
            mut rx,
            payload,
            link,
        } = sent;
        let mut deadline = tokio::time::Instant::now() + self.config.ack_timeout;
        let mut resent = false;
        loop {
            let reconnected = link.reconnected.notified();
            let waited_out = tokio::select! {
                answer = &mut rx => match answer {
                    Ok(session) => return Some(session),
                    Err(_) => true,
                },
                () = tokio::time::sleep_until(deadline) => true,
                () = reconnected => false,
            };
            let lost_with_its_connection = link.ended_by_peer.load(Ordering::Relaxed) == connection
                && link.connections.load(Ordering::Relaxed) > connection
                && link.live.load(Ordering::Relaxed);
            if lost_with_its_connection && !resent {
                resent = true;
                rx = self.await_ack(peer, seq);
                let _ = link.queue.send((payload.clone(), None));
                deadline = tokio::time::Instant::now() + self.config.ack_timeout;
                continue;
            }
            if !waited_out {
                continue;
            }
            self.acks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(peer.to_string(), seq));
            self.mark_down(peer, &link, "did not ack in time");
            // Its link is open but counted dead: start it again, so the peer is counted live
            // once it answers (a restarted node busy with its state transfer), rather than
            // never again.
            link.kick.notify_one();
            return None;
        }
    }

    /// Marks `peer` dead (once) and tells the replica.
    pub(super) fn mark_down(&self, peer: &str, link: &Link, why: &str) {
        if link.live.swap(false, Ordering::Relaxed) {
            eprintln!("node {}: peer {peer} {why}; counted dead", self.config.node);
            self.replica.peer_down(peer);
        }
    }

    /// Where to reach `peer`: at the address this node was given for it, if any (so a proxy
    /// placed in between stays in between), else where its hello says it listens, if that is
    /// on loopback as this node's own listener is. `None`: a member that is not configured
    /// cannot make this node connect elsewhere.
    pub(super) fn address_of(&self, peer: &str, announced: SocketAddr) -> Option<SocketAddr> {
        let configured = self.config.peers.iter().find(|(name, _)| name == peer);
        match configured {
            Some((_, addr)) => Some(*addr),
            None if crate::names::allowed(announced.ip()) => Some(announced),
            None => {
                eprintln!(
                    "node {}: ignored {peer}'s address {announced}: not a configured peer, and not on loopback",
                    self.config.node
                );
                None
            }
        }
    }

    /// Starts (or replaces) the outgoing link to `peer`.
    pub(super) fn link(self: &Arc<Self>, peer: &str, addr: SocketAddr) {
        if peer == self.config.node {
            return;
        }
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(link) = links.get(peer).filter(|l| l.addr == addr) {
            if !link.live.load(Ordering::Relaxed) {
                link.kick.notify_one();
            }
            return;
        }
        let (queue, outgoing) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            addr,
            queue,
            live: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            ended_by_peer: AtomicU64::new(0),
            reconnected: Notify::new(),
            kick: Notify::new(),
        });
        links.insert(peer.to_string(), link.clone());
        tokio::spawn(self.clone().run_link(peer.to_string(), link, outgoing));
    }

    /// Keeps one link up: connect with backoff, say hello, send queued messages and heartbeats,
    /// read acks. Ends when the link is replaced.
    pub(super) async fn run_link(
        self: Arc<Self>,
        peer: String,
        link: Arc<Link>,
        mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    ) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let replaced = !self
                .links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&peer)
                .is_some_and(|l| Arc::ptr_eq(l, &link));
            if replaced {
                return;
            }
            let connected = tokio::time::timeout(Duration::from_secs(1), async {
                let stream = TcpStream::connect(link.addr).await?;
                let _ = stream.set_nodelay(true);
                self.config
                    .codec
                    .connect(stream, &self.config.node, &peer)
                    .await
            })
            .await;
            // An end that gives this node's name, or another than the peer's, is counted as a
            // refused link, as one that connects here would be: something relays frames.
            if let Ok(Err(e @ crate::cluster::FrameError::Peer(_))) = &connected {
                self.reject(&e.to_string());
            }
            let Ok(Ok((mut rd, mut wr))) = connected else {
                self.mark_down(&peer, &link, "is unreachable");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = link.kick.notified() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            };
            let (_, hello) = self.envelope(
                Message::Hello {
                    node: self.config.node.clone(),
                    cluster: self.addr,
                },
                false,
            );
            if self.write(&mut wr, &hello).await.is_err() {
                continue;
            }
            link.connections.fetch_add(1, Ordering::Relaxed);
            link.live.store(true, Ordering::Relaxed);
            link.reconnected.notify_waiters();
            backoff = Duration::from_millis(50);
            let acker = self.clone();
            let ack_peer = peer.clone();
            let mut reader = tokio::spawn(async move {
                while let Ok(Some((payload, size))) = rd.read().await {
                    add(&acker.stats.bytes_received, size);
                    let Ok(decoded) = wire::decode(&payload, &acker.config.sessions) else {
                        continue;
                    };
                    if decoded.from != ack_peer {
                        acker.reject(&format!(
                            "an answer from `{}` on the link to `{ack_peer}`",
                            decoded.from
                        ));
                        break;
                    }
                    acker.undecodable(&decoded.from, &decoded.undecodable);
                    if let Some(Message::Ack { seq, session }) = decoded.message {
                        if let Some(tx) = acker
                            .acks
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&(ack_peer.clone(), seq))
                        {
                            let _ = tx.send(session);
                        }
                    }
                }
            });
            let ended_by_peer = loop {
                let next = tokio::select! {
                    m = outgoing.recv() => match m {
                        Some((payload, not_before)) => {
                            if let Some(at) = not_before {
                                tokio::time::sleep_until(at).await;
                            }
                            payload
                        }
                        None => return,
                    },
                    () = tokio::time::sleep(self.config.heartbeat) => self.envelope(Message::Heartbeat, false).1,
                    _ = &mut reader => break true,
                    () = link.kick.notified() => break false,
                };
                if self.write(&mut wr, &next).await.is_err() {
                    break true;
                }
            };
            if ended_by_peer {
                link.ended_by_peer
                    .store(link.connections.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            reader.abort();
            self.mark_down(&peer, &link, "closed the link");
        }
    }

    pub(super) async fn write(
        &self,
        wr: &mut FrameWriter,
        payload: &[u8],
    ) -> Result<(), crate::cluster::FrameError> {
        let size = wr.write(payload).await?;
        add(&self.stats.bytes_sent, size);
        add(&self.stats.messages_sent, 1);
        Ok(())
    }
}
