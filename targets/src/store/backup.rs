//! `backup`: each session lives on its primary (the node that last served it) and on exactly
//! one backup, chosen from the live members by rendezvous hashing; every other node keeps only
//! a location entry. This is Tomcat's BackupManager (LazyReplicatedMap): a write reaches the
//! backup before the client is answered; a node asked for a session it does not own fetches
//! the copy and becomes its primary; when the primary dies, the backup promotes itself and
//! picks a new backup. Replication traffic per write is one message, whatever the node count;
//! moving a session to another node costs a message to every member.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::net::TcpListener;
use tokio::time::Instant;

use super::api::{SessionStore, StoreFuture, StoreStats};
use super::local::LocalStore;
use crate::cluster::{Cluster, ClusterConfig, Location, Message, Replica, ReplicaFuture};
use crate::session::{Session, SessionChange, SessionId};

#[derive(Debug)]
pub struct BackupStore {
    map: Arc<BackupMap>,
    cluster: Arc<Cluster>,
}

/// Attempts at taking a session over before a request gives up on it: concurrent requests on
/// several nodes (a page's parallel fetches) take it from each other back and forth.
const TAKE_OVERS: usize = 10;

/// What one attempt to take a session over came to.
enum Taken {
    Session(Session),
    /// No live node has it.
    Gone,
    /// Another node's `Backup` made this node a copy again meanwhile: try again.
    Demoted,
}

/// Where `own` turns when the primary cannot answer.
enum Fallback {
    /// This node's copy, if it has not idled out.
    Copy(Option<Session>),
    /// The backup named in the location, then what this node had when it was taken over.
    Backup(Option<String>, Option<Session>),
}

/// What this node knows of every session in the cluster.
#[derive(Debug)]
struct BackupMap {
    node: String,
    /// Sessions this node is primary of. Idle expiry happens here only, and is replicated.
    owned: LocalStore,
    entries: Mutex<HashMap<SessionId, Entry>>,
    /// Set once the cluster is up; promotion after a peer's death sends through it.
    cluster: OnceLock<Weak<Cluster>>,
    this: Weak<BackupMap>,
}

#[derive(Debug, Clone)]
enum Entry {
    /// This node serves the session; its state is in `owned`.
    Primary { backup: Option<String> },
    /// This node keeps the copy for `primary`. Reads on the primary do not reach it, so it
    /// counts as expired only after twice the idle limit since its last update (Tomcat's rule
    /// for non-primary copies).
    Copy {
        primary: String,
        session: Session,
        updated: Instant,
    },
    /// Another node serves the session.
    Proxy {
        primary: String,
        backup: Option<String>,
        /// The session as this node last had it, as primary or backup, before another node
        /// took it over (a page's parallel requests on several nodes take it over at once):
        /// kept, so take-overs crossing each other do not leave no one with it.
        former: Option<Session>,
    },
}

impl BackupStore {
    /// Joins the cluster (taking every location from a peer) with replication links served on
    /// `listener`.
    pub async fn start(config: ClusterConfig, listener: TcpListener) -> std::io::Result<Self> {
        let map = Arc::new_cyclic(|this| BackupMap {
            node: config.node.clone(),
            owned: LocalStore::new(),
            entries: Mutex::new(HashMap::new()),
            cluster: OnceLock::new(),
            this: this.clone(),
        });
        let cluster = Cluster::start(config, listener, map.clone()).await?;
        let _ = map.cluster.set(Arc::downgrade(&cluster));
        Ok(Self { map, cluster })
    }

    /// Where peers connect for replication.
    pub fn cluster_addr(&self) -> SocketAddr {
        self.cluster.addr()
    }
}

impl BackupMap {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        // Every mutation is a single insert or remove, so a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes this node the session's primary (fetching the session if another node serves it)
    /// and loads it, which is an access. `None` if no live node has it.
    ///
    /// Taking over can cross the old primary re-homing the same session (its backup died):
    /// its `Backup` then lands here after this node took the session, and makes it a copy
    /// again. That is not a lost session: it is taken over once more, from the node that
    /// now says it is the primary (a few times at most).
    async fn own(&self, cluster: &Cluster, id: &SessionId) -> Option<Session> {
        for _ in 0..TAKE_OVERS {
            match self.take(cluster, id).await {
                Taken::Session(session) => return Some(session),
                Taken::Gone => return None,
                Taken::Demoted => eprintln!(
                    "node {}: a session taken over was re-homed by its old primary meanwhile; taking it over again",
                    self.node
                ),
            }
        }
        None
    }

    /// One attempt of [`Self::own`].
    async fn take(&self, cluster: &Cluster, id: &SessionId) -> Taken {
        let Some(entry) = self.entries().get(id).cloned() else {
            return Taken::Gone;
        };
        let (primary, fallback) = match entry {
            Entry::Primary { .. } => {
                let loaded = self.owned.load(id).await.ok().flatten();
                if loaded.is_none() {
                    // Expired here, found on read: the copy and the locations must go too.
                    self.forget(cluster, id).await;
                }
                return loaded.map_or(Taken::Gone, Taken::Session);
            }
            Entry::Copy {
                primary,
                session,
                updated,
            } => (
                primary,
                Fallback::Copy(copy_is_live(&session, updated).then_some(session)),
            ),
            Entry::Proxy {
                primary,
                backup,
                former,
            } => (primary, Fallback::Backup(backup, former)),
        };
        // The primary knows the last access, so it decides; the copy counts only when the
        // primary cannot answer (it died).
        let retrieve = |peer: String| async move {
            if peer == self.node {
                return None;
            }
            cluster
                .request(&peer, Message::Retrieve { id: id.clone() })
                .await
        };
        let found = match retrieve(primary).await {
            Some(answer) => answer,
            None => match fallback {
                Fallback::Copy(copy) => copy,
                Fallback::Backup(Some(backup), former) => {
                    retrieve(backup).await.flatten().or(former)
                }
                Fallback::Backup(None, former) => former,
            },
        };
        let Some(session) = found else {
            self.entries().remove(id);
            return Taken::Gone;
        };
        {
            let mut entries = self.entries();
            if !entries.contains_key(id) {
                return Taken::Gone; // Invalidated meanwhile.
            }
            self.owned.insert(session.clone());
            entries.insert(id.clone(), Entry::Primary { backup: None });
        }
        self.publish(cluster, session).await;
        match self.owned.load(id).await.ok().flatten() {
            Some(session) => Taken::Session(session),
            None if matches!(
                self.entries().get(id),
                Some(Entry::Copy { .. } | Entry::Proxy { .. })
            ) =>
            {
                Taken::Demoted
            }
            None => Taken::Gone,
        }
    }

    /// Sends the session to its backup and its location to every other live member, and waits
    /// until all have it. A backup that fails is replaced by the next choice.
    async fn publish(&self, cluster: &Cluster, session: Session) {
        let mut members = cluster.live_peers();
        loop {
            let backup = rendezvous(&session.id, &members).cloned();
            match self.entries().get_mut(&session.id) {
                Some(Entry::Primary { backup: b }) => b.clone_from(&backup),
                _ => return, // Invalidated or taken over meanwhile.
            }
            let location = Location {
                id: session.id.clone(),
                primary: self.node.clone(),
                backup: backup.clone(),
            };
            let messages = members
                .iter()
                .map(|peer| {
                    let message = if Some(peer) == backup.as_ref() {
                        Message::Backup {
                            session: session.clone(),
                            primary: self.node.clone(),
                        }
                    } else {
                        Message::Location(location.clone())
                    };
                    (peer.clone(), message)
                })
                .collect();
            let failed = cluster.send_each(messages).await;
            match backup {
                Some(b) if failed.contains(&b) => members.retain(|m| !failed.contains(m)),
                _ => return,
            }
        }
    }

    /// Removes the session here and on every live member.
    async fn forget(&self, cluster: &Cluster, id: &SessionId) -> bool {
        let known = self.entries().remove(id).is_some();
        let _ = self.owned.invalidate(id).await;
        let messages = cluster
            .live_peers()
            .into_iter()
            .map(|peer| (peer, Message::Invalidate { id: id.clone() }))
            .collect();
        cluster.send_each(messages).await;
        known
    }

    /// After `peer` died: promote the copies it was primary of, and pick new backups for the
    /// sessions it backed up. Sessions both owners of which are gone are lost.
    async fn rehome(&self, cluster: &Cluster, peer: &str) {
        let (mut promoted, mut republish) = (0, Vec::new());
        self.entries().retain(|id, entry| match entry {
            Entry::Copy {
                primary,
                session,
                updated,
            } if primary == peer => {
                // A copy idle for twice the limit died with its primary.
                if !copy_is_live(session, *updated) {
                    return false;
                }
                self.owned.insert(session.clone());
                republish.push(session.clone());
                *entry = Entry::Primary { backup: None };
                promoted += 1;
                true
            }
            Entry::Primary { backup } if backup.as_deref() == Some(peer) => {
                republish.extend(self.owned.peek(id));
                true
            }
            _ => true,
        });
        let rebacked = republish.len() - promoted;
        for session in republish {
            self.publish(cluster, session).await;
        }
        if promoted + rebacked > 0 {
            eprintln!(
                "node {}: peer {peer} is gone; promoted {promoted} copies, and {rebacked} sessions got a new backup",
                self.node
            );
        }
    }
}

impl Replica for BackupMap {
    fn apply(&self, message: Message) -> ReplicaFuture<'_, Option<Session>> {
        Box::pin(async move {
            match message {
                Message::Backup { session, primary } => {
                    let id = session.id.clone();
                    let _ = self.owned.invalidate(&id).await;
                    let copy = Entry::Copy {
                        primary,
                        session,
                        updated: Instant::now(),
                    };
                    self.entries().insert(id, copy);
                }
                Message::Location(Location {
                    id,
                    primary,
                    backup,
                }) => {
                    // What this node last had of it, kept for a take-over that crosses this one.
                    let former = match self.entries().get(&id) {
                        Some(Entry::Primary { .. }) => self.owned.peek(&id),
                        Some(Entry::Copy { session, .. }) => Some(session.clone()),
                        Some(Entry::Proxy { former, .. }) => former.clone(),
                        None => None,
                    };
                    let _ = self.owned.invalidate(&id).await;
                    self.entries().insert(
                        id,
                        Entry::Proxy {
                            primary,
                            backup,
                            former,
                        },
                    );
                }
                Message::Change { id, change } => {
                    if let Some(Entry::Copy {
                        session, updated, ..
                    }) = self.entries().get_mut(&id)
                    {
                        session.apply(&change);
                        *updated = Instant::now();
                    }
                }
                Message::Invalidate { id } => {
                    self.entries().remove(&id);
                    let _ = self.owned.invalidate(&id).await;
                }
                Message::Retrieve { id } => {
                    let entry = self.entries().get(&id).cloned();
                    return match entry {
                        Some(Entry::Copy {
                            session, updated, ..
                        }) => copy_is_live(&session, updated).then_some(session),
                        Some(Entry::Primary { .. }) => self.owned.peek(&id),
                        Some(Entry::Proxy { former, .. }) => former,
                        _ => None,
                    };
                }
                _ => {}
            }
            None
        })
    }

    fn state(&self) -> Message {
        let locations = self
            .entries()
            .iter()
            .map(|(id, entry)| {
                let (primary, backup) = match entry {
                    Entry::Primary { backup } => (self.node.clone(), backup.clone()),
                    Entry::Copy { primary, .. } => (primary.clone(), Some(self.node.clone())),
                    Entry::Proxy {
                        primary, backup, ..
                    } => (primary.clone(), backup.clone()),
                };
                Location {
                    id: id.clone(),
                    primary,
                    backup,
                }
            })
            .collect();
        Message::State {
            sessions: Vec::new(),
            locations,
            more: false,
        }
    }

    fn install(&self, state: Message) -> ReplicaFuture<'_, usize> {
        Box::pin(async move {
            let Message::State { locations, .. } = state else {
                return 0;
            };
            let n = locations.len();
            let mut entries = self.entries();
            for l in locations {
                // A joiner holds no copy, even of sessions that name it (from a former life).
                entries.insert(
                    l.id,
                    Entry::Proxy {
                        primary: l.primary,
                        backup: l.backup,
                        former: None,
                    },
                );
            }
            n
        })
    }

    fn peer_down(&self, peer: &str) {
        let (Some(map), Some(cluster)) = (
            self.this.upgrade(),
            self.cluster.get().and_then(Weak::upgrade),
        ) else {
            return;
        };
        let peer = peer.to_string();
        tokio::spawn(async move { map.rehome(&cluster, &peer).await });
    }
}

fn copy_is_live(session: &Session, updated: Instant) -> bool {
    updated.elapsed() <= session.max_inactive * 2
}

/// The member that ranks highest for `id` (rendezvous hashing): every node computes the same
/// choice, and a member leaving moves only the sessions it had been chosen for.
fn rendezvous<'a>(id: &SessionId, members: &'a [String]) -> Option<&'a String> {
    members.iter().max_by_key(|m| score(id, m))
}

/// FNV-1a over the id and the member name, then a 64-bit finaliser (splitmix64) so that
/// names differing in one character still spread evenly.
fn score(id: &SessionId, member: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_str().bytes().chain([0]).chain(member.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl SessionStore for BackupStore {
    fn kind(&self) -> &'static str {
        "backup"
    }

    fn create(&self, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            {
                let mut entries = self.map.entries();
                self.map.owned.insert(session.clone());
                entries.insert(session.id.clone(), Entry::Primary { backup: None });
            }
            self.map.publish(&self.cluster, session).await;
            Ok(())
        })
    }

    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<Session>> {
        Box::pin(async move { Ok(self.map.own(&self.cluster, id).await) })
    }

    fn save<'a>(&'a self, id: &'a SessionId, change: &'a SessionChange) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            // The request's load usually made this node the primary already: then the save
            // goes straight to the local copy, without loading the session a second time.
            let primary = matches!(self.map.entries().get(id), Some(Entry::Primary { .. }));
            if !primary && self.map.own(&self.cluster, id).await.is_none() {
                return Ok(false);
            }
            if !self.map.owned.save(id, change).await? {
                // Expired here, found on write: the copy and the locations must go too.
                self.map.forget(&self.cluster, id).await;
                return Ok(false);
            }
            let backup = match self.map.entries().get(id) {
                Some(Entry::Primary { backup }) => backup.clone(),
                _ => None,
            };
            if let Some(backup) = backup {
                let message = Message::Change {
                    id: id.clone(),
                    change: change.settled(self.map.owned.peek(id).as_ref()),
                };
                let failed = self.cluster.send_each(vec![(backup, message)]).await;
                // The backup died: the new one gets the whole session, change included.
                if let (false, Some(session)) = (failed.is_empty(), self.map.owned.peek(id)) {
                    self.map.publish(&self.cluster, session).await;
                }
            }
            Ok(true)
        })
    }

    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.map.own(&self.cluster, id).await.is_some()) })
    }

    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.map.forget(&self.cluster, id).await) })
    }

    fn expire_idle(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let expired = self.map.owned.sweep().served;
            for id in &expired {
                self.map.forget(&self.cluster, id).await;
            }
            Ok(expired.len())
        })
    }

    fn stats(&self) -> StoreStats {
        let copies = self
            .map
            .entries()
            .values()
            .filter(|e| matches!(e, Entry::Copy { .. }))
            .count() as u64;
        StoreStats {
            copies,
            replication: Some(self.cluster.stats()),
            ..self.map.owned.stats()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// `n` nodes, each knowing the ones before it, with every link up.
    async fn cluster(n: usize) -> Vec<BackupStore> {
        let mut nodes: Vec<BackupStore> = Vec::new();
        for i in 0..n {
            let peers = nodes
                .iter()
                .map(|s| (s.map.node.clone(), s.cluster_addr()))
                .collect();
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let name = format!("n{}", i + 1);
            nodes.push(
                BackupStore::start(ClusterConfig::for_test(&name, peers), listener)
                    .await
                    .expect("start"),
            );
        }
        for _ in 0..200 {
            if nodes.iter().all(|s| s.cluster.live_peers().len() == n - 1) {
                return nodes;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("links did not come up");
    }

    fn role(store: &BackupStore, id: &SessionId) -> &'static str {
        match store.map.entries().get(id) {
            Some(Entry::Primary { .. }) => "primary",
            Some(Entry::Copy { .. }) => "copy",
            Some(Entry::Proxy { .. }) => "proxy",
            None => "none",
        }
    }

    fn roles(nodes: &[BackupStore], id: &SessionId) -> Vec<&'static str> {
        nodes.iter().map(|n| role(n, id)).collect()
    }

    /// The whole cluster seen as one store, each operation on the next node in turn (as a
    /// round-robin balancer spreads requests); the sweep and the counts cover every node.
    #[derive(Debug)]
    struct Rotating {
        nodes: Vec<BackupStore>,
        next: std::sync::atomic::AtomicUsize,
    }

    impl Rotating {
        async fn new() -> Self {
            Self {
                nodes: cluster(3).await,
                next: 0.into(),
            }
        }

        fn next(&self) -> &BackupStore {
            let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            &self.nodes[i % self.nodes.len()]
        }
    }

    impl SessionStore for Rotating {
        fn kind(&self) -> &'static str {
            "backup (rotating over 3 nodes)"
        }
        fn create(&self, session: Session) -> StoreFuture<'_, ()> {
            self.next().create(session)
        }
        fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<Session>> {
            self.next().load(id)
        }
        fn save<'a>(&'a self, id: &'a SessionId, c: &'a SessionChange) -> StoreFuture<'a, bool> {
            self.next().save(id, c)
        }
        fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
            self.next().touch(id)
        }
        fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
            self.next().invalidate(id)
        }
        fn expire_idle(&self) -> StoreFuture<'_, usize> {
            Box::pin(async move {
                let mut n = 0;
                for node in &self.nodes {
                    n += node.expire_idle().await?;
                }
                Ok(n)
            })
        }
        fn stats(&self) -> StoreStats {
            StoreStats {
                sessions: self.nodes.iter().map(|n| n.stats().sessions).sum(),
                ..StoreStats::default()
            }
        }
    }

    /// Every operation on one node of three: the others only keep copies and locations.
    mod one_node {
        crate::store_conformance_tests!(
            #[tokio::test]
            super::cluster(3).await.remove(0)
        );
    }

    /// Every operation on another node than the last, so the session moves with each one.
    /// Concurrent requests for one session on different nodes race for ownership (as in
    /// Tomcat's BackupManager), so that check runs on one node only.
    mod rotating {
        crate::store_conformance_tests!(@each #[tokio::test] super::Rotating::new().await;
            create_then_load_returns_the_session,
            unknown_id_loads_nothing,
            save_writes_only_what_changed,
            invalidate_removes_and_save_does_not_resurrect,
            idle_session_expires_without_being_read,
            access_keeps_a_session_alive,
            max_inactive_is_per_session,
        );
    }

    #[tokio::test]
    async fn one_copy_on_the_chosen_backup_and_locations_elsewhere() {
        let nodes = cluster(4).await;
        let s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
        nodes[0].create(s.clone()).await.expect("create");
        let others: Vec<String> = ["n2", "n3", "n4"].map(String::from).to_vec();
        let chosen = rendezvous(&s.id, &others).expect("a backup").clone();
        for (i, node) in nodes.iter().enumerate().skip(1) {
            let expected = if node.map.node == chosen {
                "copy"
            } else {
                "proxy"
            };
            assert_eq!(role(node, &s.id), expected, "node n{}", i + 1);
        }

        // A write costs one message, to the backup only.
        let sent = |n: &BackupStore| n.stats().replication.expect("stats").messages_sent;
        let before: Vec<u64> = nodes.iter().map(sent).collect();
        let change = SessionChange {
            counter: Some(9),
            version: 2,
            ..Default::default()
        };
        assert!(nodes[0].save(&s.id, &change).await.expect("save"));
        let after: Vec<u64> = nodes.iter().map(sent).collect();
        assert_eq!(after[0] - before[0], 1, "one change message");
        let backup = nodes.iter().find(|n| n.map.node == chosen).expect("backup");
        match backup.map.entries().get(&s.id) {
            Some(Entry::Copy {
                session, primary, ..
            }) => {
                assert_eq!((session.counter, primary.as_str()), (9, "n1"));
            }
            other => panic!("backup holds {other:?}"),
        }

        // Served by a proxy: it fetches the copy and becomes the primary; still exactly one
        // copy, and the old primary keeps only a location.
        let proxy = nodes
            .iter()
            .position(|n| role(n, &s.id) == "proxy")
            .expect("a proxy");
        let loaded = nodes[proxy]
            .load(&s.id)
            .await
            .expect("load")
            .expect("found");
        assert_eq!(loaded.counter, 9);
        let after = roles(&nodes, &s.id);
        assert_eq!(after[proxy], "primary", "{after:?}");
        assert_eq!(
            after.iter().filter(|r| **r == "copy").count(),
            1,
            "{after:?}"
        );
        assert_eq!(
            after.iter().filter(|r| **r == "primary").count(),
            1,
            "{after:?}"
        );

        // Logout reaches every node.
        assert!(nodes[1].invalidate(&s.id).await.expect("invalidate"));
        assert_eq!(roles(&nodes, &s.id), ["none"; 4]);
    }

    #[tokio::test]
    async fn a_joining_node_learns_every_location_and_can_serve() {
        let mut nodes = cluster(2).await;
        let s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
        nodes[0].create(s.clone()).await.expect("create");
        let peers = nodes
            .iter()
            .map(|n| (n.map.node.clone(), n.cluster_addr()))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let joiner = BackupStore::start(ClusterConfig::for_test("n3", peers), listener)
            .await
            .expect("join");
        assert_eq!(
            joiner.cluster.stats().state_transfer,
            "received 1 sessions from n1"
        );
        assert_eq!(role(&joiner, &s.id), "proxy");
        let loaded = joiner.load(&s.id).await.expect("load").expect("found");
        assert_eq!(loaded.user, "u1");
        nodes.push(joiner);
        assert_eq!(roles(&nodes, &s.id)[2], "primary");
    }

    #[test]
    fn rendezvous_is_stable_and_spreads() {
        let members: Vec<String> = (1..=4).map(|i| format!("node{i}")).collect();
        let ids: Vec<SessionId> = (0..4000).map(|_| SessionId::generate()).collect();
        let mut counts = HashMap::new();
        for id in &ids {
            let chosen = rendezvous(id, &members).expect("chosen");
            assert_eq!(rendezvous(id, &members), Some(chosen), "deterministic");
            *counts.entry(chosen.clone()).or_insert(0) += 1;
            // Removing another member never changes the choice.
            let fewer: Vec<String> = members.iter().filter(|m| *m != chosen).cloned().collect();
            for gone in &fewer {
                let without: Vec<String> = members.iter().filter(|m| *m != gone).cloned().collect();
                assert_eq!(rendezvous(id, &without), Some(chosen));
            }
        }
        for (member, n) in counts {
            assert!(
                (800..1200).contains(&n),
                "{member} chosen {n} of 4000 times"
            );
        }
        assert_eq!(rendezvous(&ids[0], &[]), None);
    }
}
