//! Cluster membership and the replication channel: one outgoing link per peer (connect with
//! backoff, `Hello`, heartbeats, acks), one server for incoming links (apply, ack, answer state
//! requests), and full state transfer when a node starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, mpsc, oneshot};

use super::frame::FrameCodec;
use super::message::{Envelope, Message};
use crate::store::{LocalStore, SessionStore};

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
    pub replication: Replication,
    /// An idle link sends a heartbeat this often; a failed write marks the peer dead.
    pub heartbeat: Duration,
    /// Synchronous replication waits this long for a peer's ack, then counts it dead.
    pub ack_timeout: Duration,
    /// How long a starting node waits for a peer's full state before starting empty.
    pub state_transfer_timeout: Duration,
}

/// Replication traffic counters, shown in `/metrics`.
#[derive(Debug, Default)]
pub struct ClusterStats {
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    messages_sent: AtomicU64,
    messages_received: AtomicU64,
    frames_rejected: AtomicU64,
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
    pub peers_live: u64,
    pub state_transfer: String,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// An outgoing link to one peer.
#[derive(Debug)]
struct Link {
    addr: SocketAddr,
    queue: mpsc::UnboundedSender<Vec<u8>>,
    live: AtomicBool,
    /// Wakes the link from its reconnect backoff (the peer just said hello: it is back).
    kick: Notify,
}

/// This node's view of the cluster.
#[derive(Debug)]
pub struct Cluster {
    config: ClusterConfig,
    addr: SocketAddr,
    store: Arc<LocalStore>,
    links: Mutex<HashMap<String, Arc<Link>>>,
    seq: AtomicU64,
    acks: Mutex<HashMap<(String, u64), oneshot::Sender<()>>>,
    stats: ClusterStats,
    state_transfer: Mutex<String>,
    /// While the full state is being fetched, changes that arrive are held here and applied
    /// after it, in order (Tomcat's DeltaManager queues them the same way).
    held: Mutex<Option<Vec<Message>>>,
}

impl Cluster {
    /// Serves `listener` for incoming links, fetches the full state from a peer (or times out
    /// and says so), then links to every known peer.
    pub async fn start(
        config: ClusterConfig,
        listener: tokio::net::TcpListener,
        store: Arc<LocalStore>,
    ) -> std::io::Result<Arc<Self>> {
        let addr = listener.local_addr()?;
        let cluster = Arc::new(Self {
            config,
            addr,
            store,
            links: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(1),
            acks: Mutex::new(HashMap::new()),
            stats: ClusterStats::default(),
            state_transfer: Mutex::new("no peers".into()),
            held: Mutex::new(None),
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
        cluster.transfer_state().await;
        for (peer, addr) in cluster.config.peers.clone() {
            cluster.link(&peer, addr);
        }
        Ok(cluster)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    fn envelope(&self, message: Message, ack: bool) -> (u64, Vec<u8>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let envelope = Envelope {
            from: self.config.node.clone(),
            seq,
            ack,
            message,
        };
        (
            seq,
            serde_json::to_vec(&envelope).expect("messages serialise"),
        )
    }

    /// Sends `message` to every live peer; with synchronous replication, returns once each
    /// has applied it (a peer that does not ack in time is counted dead).
    pub async fn broadcast(&self, message: Message) {
        let sync = self.config.replication == Replication::Sync;
        let (seq, payload) = self.envelope(message, sync);
        let live: Vec<(String, Arc<Link>)> = {
            let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
            links
                .iter()
                .filter(|(_, l)| l.live.load(Ordering::Relaxed))
                .map(|(p, l)| (p.clone(), l.clone()))
                .collect()
        };
        let mut waits = Vec::new();
        for (peer, link) in live {
            if sync {
                let (tx, rx) = oneshot::channel();
                self.acks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((peer.clone(), seq), tx);
                waits.push((peer, link.clone(), rx));
            }
            let _ = link.queue.send(payload.clone());
        }
        for (peer, link, rx) in waits {
            if !matches!(
                tokio::time::timeout(self.config.ack_timeout, rx).await,
                Ok(Ok(()))
            ) {
                self.acks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&(peer.clone(), seq));
                if link.live.swap(false, Ordering::Relaxed) {
                    eprintln!(
                        "node {}: peer {peer} did not ack within {:?}; counted dead",
                        self.config.node, self.config.ack_timeout
                    );
                }
            }
        }
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
        mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
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
                link.live.store(false, Ordering::Relaxed);
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
            link.live.store(true, Ordering::Relaxed);
            backoff = Duration::from_millis(50);
            let acker = self.clone();
            let ack_peer = peer.clone();
            let ack_codec = codec.clone();
            let mut reader = tokio::spawn(async move {
                while let Ok(Some((payload, size))) = ack_codec.read(&mut rd).await {
                    add(&acker.stats.bytes_received, size);
                    if let Ok(Envelope {
                        message: Message::Ack { seq },
                        ..
                    }) = serde_json::from_slice(&payload)
                    {
                        if let Some(tx) = acker
                            .acks
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&(ack_peer.clone(), seq))
                        {
                            let _ = tx.send(());
                        }
                    }
                }
            });
            loop {
                let next = tokio::select! {
                    m = outgoing.recv() => match m { Some(m) => m, None => return },
                    () = tokio::time::sleep(self.config.heartbeat) => self.envelope(Message::Heartbeat, false).1,
                    _ = &mut reader => break,
                };
                if self.write(&mut wr, &next).await.is_err() {
                    break;
                }
            }
            reader.abort();
            link.live.store(false, Ordering::Relaxed);
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
            let envelope: Envelope = match serde_json::from_slice(&payload) {
                Ok(e) => e,
                Err(e) => return self.reject(&format!("undecodable message: {e}")),
            };
            let (seq, ack) = (envelope.seq, envelope.ack);
            // Only answering a state request writes here; if that fails the link is gone.
            if self.apply(envelope, &mut wr).await.is_err() {
                return;
            }
            if ack {
                let (_, reply) = self.envelope(Message::Ack { seq }, false);
                if self.write(&mut wr, &reply).await.is_err() {
                    return;
                }
            }
        }
    }

    fn reject(&self, why: &str) {
        add(&self.stats.frames_rejected, 1);
        eprintln!("node {}: replication link closed: {why}", self.config.node);
    }

    async fn apply(
        self: &Arc<Self>,
        envelope: Envelope,
        wr: &mut OwnedWriteHalf,
    ) -> Result<(), super::FrameError> {
        match envelope.message {
            Message::Hello { node, cluster } => self.link(&node, cluster),
            Message::StateRequest { node, cluster } => {
                // Link back first and wait for it, so changes after the snapshot reach the
                // joiner on that link (it holds them until the state is in).
                self.link(&node, cluster);
                self.await_live(&node, self.config.state_transfer_timeout)
                    .await;
                let (_, state) = self.envelope(
                    Message::State {
                        sessions: self.store.snapshot(),
                    },
                    false,
                );
                self.write(wr, &state).await?;
            }
            Message::State { .. } | Message::Heartbeat | Message::Ack { .. } => {}
            change => {
                {
                    let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(queue) = held.as_mut() {
                        queue.push(change);
                        return Ok(());
                    }
                }
                self.apply_change(change).await;
            }
        }
        Ok(())
    }

    async fn apply_change(&self, change: Message) {
        let store = &self.store;
        match change {
            Message::Create { session } => {
                let _ = store.create(session).await;
            }
            Message::Change { id, change } => {
                let _ = store.save(&id, &change).await;
            }
            Message::Invalidate { id } => {
                let _ = store.invalidate(&id).await;
            }
            _ => {}
        }
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

    /// Asks the known peers, in order, for their sessions; the first full answer wins. With no
    /// answer within the timeout the node starts empty, and says so in its log and metrics.
    async fn transfer_state(&self) {
        if self.config.peers.is_empty() {
            return;
        }
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
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
            for change in batch {
                self.apply_change(change).await;
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
        while let Some((payload, size)) = self.config.codec.read(&mut rd).await? {
            add(&self.stats.bytes_received, size);
            if let Ok(Envelope {
                message: Message::State { sessions },
                ..
            }) = serde_json::from_slice(&payload)
            {
                let n = sessions.len();
                for s in sessions {
                    let _ = self.store.create(s).await;
                }
                return Ok(n);
            }
        }
        Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
    }
}
