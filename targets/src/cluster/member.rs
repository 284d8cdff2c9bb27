//! Cluster membership and the replication channel: one outgoing link per peer (connect with
//! backoff, `Hello`, heartbeats, acks), one server for incoming links (apply, ack, answer state
//! requests), and full state transfer when a node starts. What messages mean is the
//! [`Replica`]'s business.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, mpsc, oneshot};

use super::frame::FrameCodec;
use super::message::{Envelope, Message};
use super::replica::Replica;
use super::wire;
use crate::codec::{CodecError, SessionCodec};
use crate::session::Session;

/// When a change is acknowledged to the client: before peers have it (Tomcat's default) or
/// after every live peer applied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    Async,
    Sync,
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub node: String,
    /// Members known at start (a static list, as Tomcat's StaticMembershipService). Others
    /// join at run time by saying `Hello`.
    pub peers: Vec<(String, SocketAddr)>,
    pub codec: FrameCodec,
    /// How the sessions and changes inside messages are encoded.
    pub sessions: SessionCodec,
    pub replication: Replication,
    /// An idle link sends a heartbeat this often; a failed write marks the peer dead.
    pub heartbeat: Duration,
    /// Synchronous replication waits this long for a peer's ack, then counts it dead.
    pub ack_timeout: Duration,
    /// How long a starting node waits for a peer's full state before starting empty.
    pub state_transfer_timeout: Duration,
    /// Messages sent without waiting for an ack (asynchronous replication) leave this much
    /// later: a sender's queue under load, or a slow link. It widens the window in which a
    /// crash loses changes the client was told were saved, so a kill can expose it.
    pub async_delay: Duration,
}

#[cfg(test)]
impl ClusterConfig {
    /// In-process tests: authenticated, synchronous, short timeouts, and heartbeats rare
    /// enough that none lands inside an exchange a test counts.
    pub(crate) fn for_test(node: &str, peers: Vec<(String, SocketAddr)>) -> Self {
        Self {
            node: node.into(),
            peers,
            codec: FrameCodec {
                limit: 1024 * 1024,
                secret: Some(b"test".to_vec()),
            },
            sessions: SessionCodec::default(),
            replication: Replication::Sync,
            heartbeat: Duration::from_secs(30),
            ack_timeout: Duration::from_secs(1),
            state_transfer_timeout: Duration::from_secs(1),
            async_delay: Duration::ZERO,
        }
    }
}

/// Replication traffic counters, shown in `/metrics`.
#[derive(Debug, Default)]
pub struct ClusterStats {
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    messages_sent: AtomicU64,
    messages_received: AtomicU64,
    frames_rejected: AtomicU64,
    sessions_undecodable: AtomicU64,
}

/// What `/metrics` shows of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClusterStatsView {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    pub frames_rejected: u64,
    /// Sessions or changes from peers this node could not decode (another codec, or a
    /// session schema it does not know): left out, as if never received.
    pub sessions_undecodable: u64,
    pub peers_live: u64,
    pub state_transfer: String,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// A frame waiting on a link, and when it may leave.
type Outgoing = (Bytes, Option<tokio::time::Instant>);

/// An outgoing link to one peer.
#[derive(Debug)]
struct Link {
    addr: SocketAddr,
    queue: mpsc::UnboundedSender<Outgoing>,
    live: AtomicBool,
    /// Counts the link's connections.
    connections: AtomicU64,
    /// The last connection the peer's side ended (closed, or broke a write): what was queued
    /// on it may have gone to a process that is gone (a restarted peer), and is sent again on
    /// the next. One this node replaced itself (a peer that stopped acking) is not.
    ended_by_peer: AtomicU64,
    /// Told whenever a new connection is up, so what was lost with the last one goes again.
    reconnected: Notify,
    /// Wakes the link from its reconnect backoff (the peer just said hello: it is back), or
    /// makes a live one connect again (it was counted dead while connected).
    kick: Notify,
}

/// A send waiting for its ack (keyed by peer and sequence number); an ack may carry a session.
type AckWaiter = oneshot::Sender<Option<Session>>;

/// A message sent for an ack: what is needed to wait for it, or send it again.
struct Sent {
    /// The link's connection count when it was queued.
    connection: u64,
    rx: oneshot::Receiver<Option<Session>>,
    payload: Bytes,
    link: Arc<Link>,
}

/// This node's view of the cluster.
#[derive(Debug)]
pub struct Cluster {
    config: ClusterConfig,
    addr: SocketAddr,
    replica: Arc<dyn Replica>,
    links: Mutex<HashMap<String, Arc<Link>>>,
    seq: AtomicU64,
    acks: Mutex<HashMap<(String, u64), AckWaiter>>,
    stats: ClusterStats,
    state_transfer: Mutex<String>,
    /// While the full state is being fetched, updates that arrive are held here and applied
    /// after it, in order (Tomcat's DeltaManager queues them the same way).
    held: Mutex<Option<Vec<Message>>>,
}

impl Cluster {
    /// Serves `listener` for incoming links, links to every known peer (which link back, so
    /// their updates reach this node from now on and are held), then fetches the state from a
    /// peer (or times out and says so) and applies what was held.
    pub async fn start(
        config: ClusterConfig,
        listener: tokio::net::TcpListener,
        replica: Arc<dyn Replica>,
    ) -> std::io::Result<Arc<Self>> {
        let addr = listener.local_addr()?;
        let joining = !config.peers.is_empty();
        let cluster = Arc::new(Self {
            config,
            addr,
            replica,
            links: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(1),
            acks: Mutex::new(HashMap::new()),
            stats: ClusterStats::default(),
            state_transfer: Mutex::new("no peers".into()),
            held: Mutex::new(joining.then(Vec::new)),
        });
        let server = cluster.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(server.clone().serve(stream));
                    }
                    Err(e) => {
                        eprintln!("node {}: cluster accept failed: {e}", server.config.node);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        for (peer, addr) in cluster.config.peers.clone() {
            cluster.link(&peer, addr);
        }
        if joining {
            // Peers link back when they read our hello; give the hellos a moment to go out.
            let peers: Vec<String> = cluster
                .config
                .peers
                .iter()
                .map(|(p, _)| p.clone())
                .collect();
            for peer in peers {
                cluster.await_live(&peer, Duration::from_millis(500)).await;
            }
            cluster.transfer_state().await;
        }
        Ok(cluster)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Peers whose link is up, in name order.
    pub fn live_peers(&self) -> Vec<String> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let mut live: Vec<String> = links
            .iter()
            .filter(|(_, l)| l.live.load(Ordering::Relaxed))
            .map(|(p, _)| p.clone())
            .collect();
        live.sort();
        live
    }

    pub fn stats(&self) -> ClusterStatsView {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        ClusterStatsView {
            bytes_sent: get(&self.stats.bytes_sent),
            bytes_received: get(&self.stats.bytes_received),
            messages_sent: get(&self.stats.messages_sent),
            messages_received: get(&self.stats.messages_received),
            frames_rejected: get(&self.stats.frames_rejected),
            sessions_undecodable: get(&self.stats.sessions_undecodable),
            peers_live: links
                .values()
                .filter(|l| l.live.load(Ordering::Relaxed))
                .count() as u64,
            state_transfer: self
                .state_transfer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// The message framed for the wire; shared, not copied, by every peer it goes to.
    fn envelope(&self, message: Message, ack: bool) -> (u64, Bytes) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let envelope = Envelope {
            from: self.config.node.clone(),
            seq,
            ack,
            message,
        };
        (seq, wire::encode(&envelope, &self.config.sessions).into())
    }

    /// Sends `message` to every live peer; with synchronous replication, returns once each
    /// has applied it (a peer that does not ack in time is counted dead).
    pub async fn broadcast(&self, message: Message) {
        let sync = self.config.replication == Replication::Sync;
        let (seq, payload) = self.envelope(message, sync);
        let sends = self
            .live_peers()
            .into_iter()
            .map(|peer| (peer, seq, payload.clone()))
            .collect();
        self.deliver(sends, sync).await;
    }

    /// Sends each message to its peer and waits until every one is applied; returns the peers
    /// that are down or did not ack in time (they are counted dead).
    pub async fn send_each(&self, messages: Vec<(String, Message)>) -> Vec<String> {
        let sends = messages
            .into_iter()
            .map(|(peer, m)| {
                let (seq, payload) = self.envelope(m, true);
                (peer, seq, payload)
            })
            .collect();
        self.deliver(sends, true)
            .await
            .into_iter()
            .filter_map(|(peer, answer)| answer.is_none().then_some(peer))
            .collect()
    }

    /// Asks `peer` and waits for its answer: `None` if it is down or silent, else the session
    /// its ack carried.
    pub async fn request(&self, peer: &str, message: Message) -> Option<Option<Session>> {
        let (seq, payload) = self.envelope(message, true);
        let mut answers = self
            .deliver(vec![(peer.to_string(), seq, payload)], true)
            .await;
        answers.pop().and_then(|(_, answer)| answer)
    }

    /// Queues each payload on its peer's link; when `wait`, collects every ack (`None` for a
    /// peer that is down or does not ack within the ack timeout).
    async fn deliver(
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

    fn await_ack(&self, peer: &str, seq: u64) -> oneshot::Receiver<Option<Session>> {
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
    async fn acked(&self, peer: &str, seq: u64, sent: Sent) -> Option<Option<Session>> {
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
    fn mark_down(&self, peer: &str, link: &Link, why: &str) {
        if link.live.swap(false, Ordering::Relaxed) {
            eprintln!("node {}: peer {peer} {why}; counted dead", self.config.node);
            self.replica.peer_down(peer);
        }
    }

    /// Where to reach `peer`: at the address this node was given for it, if any (so a proxy
    /// placed in between stays in between), else where its hello says it listens.
    fn address_of(&self, peer: &str, announced: SocketAddr) -> SocketAddr {
        self.config
            .peers
            .iter()
            .find(|(name, _)| name == peer)
            .map_or(announced, |(_, addr)| *addr)
    }

    /// Starts (or replaces) the outgoing link to `peer`.
    fn link(self: &Arc<Self>, peer: &str, addr: SocketAddr) {
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
    async fn run_link(
        self: Arc<Self>,
        peer: String,
        link: Arc<Link>,
        mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    ) {
        let mut backoff = Duration::from_millis(50);
        let codec = self.config.codec.clone();
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
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(link.addr)).await
            else {
                self.mark_down(&peer, &link, "is unreachable");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = link.kick.notified() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (mut rd, mut wr) = stream.into_split();
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
            let ack_codec = codec.clone();
            let mut reader = tokio::spawn(async move {
                while let Ok(Some((payload, size))) = ack_codec.read(&mut rd).await {
                    add(&acker.stats.bytes_received, size);
                    let Ok(decoded) = wire::decode(&payload, &acker.config.sessions) else {
                        continue;
                    };
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

    async fn write(
        &self,
        wr: &mut OwnedWriteHalf,
        payload: &[u8],
    ) -> Result<(), super::FrameError> {
        let size = self.config.codec.write(wr, payload).await?;
        add(&self.stats.bytes_sent, size);
        add(&self.stats.messages_sent, 1);
        Ok(())
    }

    /// One incoming link: apply what arrives, ack it when asked, answer state requests. A frame
    /// that is oversized, unauthenticated or undecodable closes the link and is counted.
    async fn serve(self: Arc<Self>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let codec = self.config.codec.clone();
        loop {
            let (payload, size) = match codec.read(&mut rd).await {
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
    fn undecodable(&self, from: &str, errors: &[CodecError]) {
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

    fn reject(&self, why: &str) {
        add(&self.stats.frames_rejected, 1);
        eprintln!("node {}: replication link closed: {why}", self.config.node);
    }

    async fn apply(
        self: &Arc<Self>,
        message: Message,
        wr: &mut OwnedWriteHalf,
    ) -> Result<Option<Session>, super::FrameError> {
        match message {
            Message::Hello { node, cluster } => self.link(&node, self.address_of(&node, cluster)),
            Message::StateRequest { node, cluster } => {
                // Link back first and wait for it, so changes after the snapshot reach the
                // joiner on that link (it holds them until the state is in).
                self.link(&node, self.address_of(&node, cluster));
                self.await_live(&node, self.config.state_transfer_timeout)
                    .await;
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

    async fn await_live(&self, peer: &str, within: Duration) {
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

    /// The state as frames under the frame limit: the lists are halved until each part fits.
    /// Every part says `more`, and an empty last part ends the transfer, so no part is
    /// encoded twice. A single session too large for a frame cannot be replicated at all; it
    /// is left out and logged.
    fn state_parts(&self, state: Message) -> Vec<Vec<u8>> {
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
            .saturating_sub(super::frame::TAG_LEN);
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
    async fn transfer_state(&self) {
        let fetch = async {
            for (peer, addr) in &self.config.peers {
                if let Ok(n) = self.fetch_state(*addr).await {
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

    async fn fetch_state(&self, addr: SocketAddr) -> Result<usize, super::FrameError> {
        let stream = TcpStream::connect(addr).await?;
        let (mut rd, mut wr) = stream.into_split();
        let (_, request) = self.envelope(
            Message::StateRequest {
                node: self.config.node.clone(),
                cluster: self.addr,
            },
            false,
        );
        self.write(&mut wr, &request).await?;
        let mut installed = 0;
        while let Some((payload, size)) = self.config.codec.read(&mut rd).await? {
            add(&self.stats.bytes_received, size);
            let Ok(decoded) = wire::decode(&payload, &self.config.sessions) else {
                continue;
            };
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
