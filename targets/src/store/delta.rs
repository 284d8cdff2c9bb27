//! `delta`: every node keeps every session in memory, and each request's changes (never the
//! whole session) go to every peer: Tomcat's DeltaManager. Reads are local. With synchronous
//! replication the client's answer waits until every live peer applied the change; with
//! asynchronous replication (Tomcat's default) a node that dies right after answering takes
//! the change with it: the loss window the harness measures.
//!
//! Expiry follows Tomcat too: the node that served a session last is its primary and expires
//! it, telling every peer; the other nodes hold copies that idle out only after twice the
//! limit, and hear of reads when the session moves to another node or has been quiet for an
//! idle limit.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::api::{SessionStore, StoreFuture, StoreStats};
use super::local::LocalStore;
use crate::cluster::{Cluster, ClusterConfig, Message, Replica, ReplicaFuture};
use crate::session::{Session, SessionChange, SessionId};

#[derive(Debug)]
pub struct DeltaStore {
    local: Arc<LocalStore>,
    cluster: Arc<Cluster>,
}

impl DeltaStore {
    /// Joins the cluster (taking the full state from a peer) with replication links served
    /// on `listener`.
    pub async fn start(config: ClusterConfig, listener: TcpListener) -> std::io::Result<Self> {
        let local = Arc::new(LocalStore::new());
        let replica = Arc::new(Replicas(local.clone()));
        let cluster = Cluster::start(config, listener, replica).await?;
        Ok(Self { local, cluster })
    }

    /// Where peers connect for replication.
    pub fn cluster_addr(&self) -> SocketAddr {
        self.cluster.addr()
    }

    /// A read or touch here: this node becomes the session's primary, and peers hear of it
    /// when they must.
    async fn access(&self, id: &SessionId) -> Option<Session> {
        let (session, announce) = self.local.access(id)?;
        if announce {
            self.cluster
                .broadcast(Message::Access { id: id.clone() })
                .await;
        }
        Some(session)
    }
}

/// A full copy of every session, kept up to date by what peers send.
#[derive(Debug)]
struct Replicas(Arc<LocalStore>);

impl Replica for Replicas {
    fn apply(&self, message: Message) -> ReplicaFuture<'_, Option<Session>> {
        Box::pin(async move {
            let store = &self.0;
            match message {
                Message::Create { session } => store.insert_copy(session),
                Message::Change { id, change } => {
                    store.update_copy(&id, Some(&change));
                }
                Message::Access { id } => {
                    store.update_copy(&id, None);
                }
                Message::Invalidate { id } => {
                    let _ = store.invalidate(&id).await;
                }
                _ => {}
            }
            None
        })
    }

    fn state(&self) -> Message {
        Message::State {
            sessions: self.0.snapshot(),
            locations: Vec::new(),
            more: false,
        }
    }

    fn install(&self, state: Message) -> ReplicaFuture<'_, usize> {
        Box::pin(async move {
            let Message::State { sessions, .. } = state else {
                return 0;
            };
            let n = sessions.len();
            for s in sessions {
                self.0.insert_copy(s);
            }
            n
        })
    }
}

impl SessionStore for DeltaStore {
    fn kind(&self) -> &'static str {
        "delta"
    }

    fn create(&self, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.local.create(session.clone()).await?;
            self.cluster.broadcast(Message::Create { session }).await;
            Ok(())
        })
    }

    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<Session>> {
        Box::pin(async move { Ok(self.access(id).await) })
    }

    fn save<'a>(&'a self, id: &'a SessionId, change: &'a SessionChange) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let saved = self.local.save(id, change).await?;
            if saved {
                let change = change.settled(self.local.peek(id).as_ref());
                self.cluster
                    .broadcast(Message::Change {
                        id: id.clone(),
                        change,
                    })
                    .await;
            }
            Ok(saved)
        })
    }

    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.access(id).await.is_some()) })
    }

    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let existed = self.local.invalidate(id).await?;
            // Sent even if this node no longer had it: a peer may still.
            self.cluster
                .broadcast(Message::Invalidate { id: id.clone() })
                .await;
            Ok(existed)
        })
    }

    fn expire_idle(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let expired = self.local.sweep();
            for id in &expired.served {
                self.cluster
                    .broadcast(Message::Invalidate { id: id.clone() })
                    .await;
            }
            Ok(expired.served.len() + expired.copies)
        })
    }

    fn stats(&self) -> StoreStats {
        StoreStats {
            replication: Some(self.cluster.stats()),
            ..self.local.stats()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::codec::{FormatCodec, Schema, SessionCodec};

    async fn node(
        name: &str,
        peers: Vec<(String, std::net::SocketAddr)>,
    ) -> (DeltaStore, Arc<LocalStore>) {
        node_with(name, peers, SessionCodec::default()).await
    }

    async fn node_with(
        name: &str,
        peers: Vec<(String, std::net::SocketAddr)>,
        sessions: SessionCodec,
    ) -> (DeltaStore, Arc<LocalStore>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let config = ClusterConfig {
            sessions,
            ..ClusterConfig::for_test(name, peers)
        };
        let store = DeltaStore::start(config, listener).await.expect("cluster");
        let local = store.local.clone();
        (store, local)
    }

    /// Waits until `store`, which a second node said hello to, has linked back to it.
    async fn linked_back(store: &DeltaStore) {
        for _ in 0..100 {
            if store.cluster.stats().peers_live == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no link back within 1 s");
    }

    /// A store whose every write is synchronously replicated to a second node: the checks run on
    /// the first, and must behave exactly as a single store would.
    async fn replicated_pair() -> DeltaStore {
        let (first, _) = node("a", vec![]).await;
        let (second, _) = node("b", vec![("a".into(), first.cluster.addr())]).await;
        linked_back(&first).await;
        // Dropping `second` leaves its cluster running: its tasks own it until the test ends.
        drop(second);
        first
    }

    crate::store_conformance_tests!(
        #[tokio::test]
        replicated_pair().await
    );

    #[tokio::test]
    async fn sync_writes_are_on_the_peer_when_the_write_returns_and_joiners_get_the_state() {
        let (a, _) = node("a", vec![]).await;
        let s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
        a.create(s.clone()).await.expect("create before b exists");
        let (b, b_local) = node("b", vec![("a".into(), a.cluster.addr())]).await;
        assert_eq!(
            b_local.load(&s.id).await.expect("load").map(|x| x.user),
            Some("u1".into()),
            "state transfer on join"
        );
        let transfer = b
            .stats()
            .replication
            .expect("replication stats")
            .state_transfer;
        assert_eq!(transfer, "received 1 sessions from a");
        linked_back(&a).await;
        let change = SessionChange {
            counter: Some(7),
            version: 2,
            ..Default::default()
        };
        assert!(a.save(&s.id, &change).await.expect("save"));
        assert_eq!(
            b_local.load(&s.id).await.expect("load").map(|x| x.counter),
            Some(7),
            "applied before save returned"
        );
        a.invalidate(&s.id).await.expect("invalidate");
        assert_eq!(
            b_local.load(&s.id).await.expect("load"),
            None,
            "invalidation replicated"
        );
        let stats = a.stats().replication.expect("replication stats");
        assert!(
            stats.bytes_sent > 0 && stats.messages_sent >= 3,
            "{stats:?}"
        );
    }

    #[tokio::test]
    async fn reads_on_the_primary_keep_copies_alive_and_its_expiry_reaches_every_peer() {
        let limit = Duration::from_millis(600);
        let (a, _) = node("a", vec![]).await;
        let (b, b_local) = node("b", vec![("a".into(), a.cluster.addr())]).await;
        linked_back(&a).await;
        let s = Session::new(SessionId::generate(), "u1".into(), limit);
        a.create(s.clone()).await.expect("create");
        // Read on `a` only, for more than twice the limit: `b` hears of it once `a` has been
        // quiet for a whole limit, so its copy (idle only after twice the limit) survives.
        for _ in 0..10 {
            tokio::time::sleep(limit / 4).await;
            assert!(a.load(&s.id).await.expect("load").is_some());
        }
        b.expire_idle().await.expect("sweep b");
        assert!(
            b_local.peek(&s.id).is_some(),
            "the copy outlived 2x the limit"
        );

        // Once idle on `a`, `a` expires it and tells `b`, whose copy would live on otherwise.
        tokio::time::sleep(limit + Duration::from_millis(100)).await;
        assert_eq!(a.expire_idle().await.expect("sweep a"), 1);
        assert!(b_local.peek(&s.id).is_none(), "expiry replicated");
    }

    /// A rolling deploy in miniature: `b` runs the next session schema. JSON lets it read
    /// what `a` writes (and `a` what it writes); postcard, which has no field names, does not,
    /// and `b` counts each session it had to leave out.
    #[tokio::test]
    async fn a_peer_on_the_next_schema_keeps_sessions_only_if_the_codec_allows() {
        for (codec, readable) in [("json", true), ("postcard+lz4", false)] {
            let codec: FormatCodec = codec.parse().expect("codec");
            let (a, _) = node_with("a", vec![], SessionCodec::new(codec, Schema::V1)).await;
            // Only attributes differ between the schemas.
            let with_attr = |user: &str| {
                let mut s =
                    Session::new(SessionId::generate(), user.into(), Duration::from_secs(60));
                s.attrs.insert(
                    "cart".into(),
                    crate::session::Attr {
                        value: serde_json::json!([1, 2]),
                        write: "w-1".into(),
                    },
                );
                s
            };
            let s = with_attr("u1");
            a.create(s.clone()).await.expect("create before b exists");
            let (b, b_local) = node_with(
                "b",
                vec![("a".into(), a.cluster.addr())],
                SessionCodec::new(codec, Schema::V2),
            )
            .await;
            linked_back(&a).await;
            let t = with_attr("u2");
            a.create(t.clone()).await.expect("create after b joined");
            for id in [&s.id, &t.id] {
                assert_eq!(
                    b_local.load(id).await.expect("load").is_some(),
                    readable,
                    "{codec}"
                );
            }
            let undecodable = b.stats().replication.expect("stats").sessions_undecodable;
            assert_eq!(undecodable, if readable { 0 } else { 2 }, "{codec}");
        }
    }

    /// A state larger than a frame arrives in parts: with an 8 KiB frame limit, 30 sessions
    /// of about 1 KB each all reach the joiner; one session larger than a frame cannot be
    /// sent and is the only one missing.
    #[tokio::test]
    async fn a_state_larger_than_a_frame_is_sent_in_parts() {
        let small_frames = |name: &str, peers| {
            let mut config = ClusterConfig::for_test(name, peers);
            config.codec.limit = 8 * 1024;
            config
        };
        let start = |config| async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            DeltaStore::start(config, listener).await.expect("cluster")
        };
        let a = start(small_frames("a", vec![])).await;
        let mut ids = Vec::new();
        for (i, size) in (0..31).map(|i| (i, if i == 30 { 20_000 } else { 1_000 })) {
            let mut s = Session::new(
                SessionId::generate(),
                format!("u{i}"),
                Duration::from_secs(60),
            );
            s.attrs.insert(
                "blob".into(),
                crate::session::Attr {
                    value: serde_json::json!("x".repeat(size)),
                    write: "w".into(),
                },
            );
            ids.push(s.id.clone());
            a.local.insert(s);
        }
        let b = start(small_frames("b", vec![("a".into(), a.cluster.addr())])).await;
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(b.local.peek(id).is_some(), i < 30, "session {i}");
        }
        let transfer = b.stats().replication.expect("stats").state_transfer;
        assert_eq!(transfer, "received 30 sessions from a");
    }
}
