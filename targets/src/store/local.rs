//! `local`: sessions in this process's memory, as Tomcat's StandardManager keeps them. They
//! vanish when the process dies, which is what sticky and round-robin strategies expose.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::api::{SessionStore, StoreFuture, StoreStats};
use crate::session::{Session, SessionChange, SessionId};

/// Independent locks, so requests for different sessions rarely wait on each other.
const SHARDS: usize = 16;

/// In-memory store with idle expiry.
///
/// Idle time is measured on tokio's clock so tests can pause and advance it.
#[derive(Debug)]
pub struct LocalStore {
    shards: Vec<Mutex<HashMap<SessionId, Entry>>>,
    hasher: RandomState,
    expired: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    session: Session,
    last_access: Instant,
    /// Kept for another node that serves the session (clustering). That node's reads do not
    /// reach it, so it counts as idle only after twice the limit (Tomcat's rule for
    /// non-primary copies). A local access makes it this node's again.
    copy: bool,
    /// When peers last heard of this session from this node or told it of it.
    replicated: Instant,
}

impl Entry {
    fn new(session: Session, copy: bool) -> Self {
        let now = Instant::now();
        Self {
            session,
            last_access: now,
            copy,
            replicated: now,
        }
    }

    fn is_idle(&self, now: Instant) -> bool {
        let limit = self.session.max_inactive * if self.copy { 2 } else { 1 };
        now.saturating_duration_since(self.last_access) > limit
    }
}

/// What a sweep removed.
#[derive(Debug, Default)]
pub struct Expired {
    /// Sessions this node served: a clustered store tells its peers.
    pub served: Vec<SessionId>,
    /// Copies whose serving node fell silent.
    pub copies: usize,
}

impl Default for LocalStore {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalStore {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            expired: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: &SessionId) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        let i = usize::try_from(self.hasher.hash_one(id) % SHARDS as u64)
            .expect("a shard index below SHARDS fits usize");
        // A panic while holding the lock cannot leave an entry half-written (every mutation
        // is a single insert/remove/assignment), so a poisoned map is still consistent.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every live session, for a full state transfer to a joining node.
    pub fn snapshot(&self) -> Vec<Session> {
        let now = Instant::now();
        self.shards
            .iter()
            .flat_map(|shard| {
                let map = shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                map.values()
                    .filter(|e| !e.is_idle(now))
                    .map(|e| e.session.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Stores a session (its idle clock starts now); what `create` does, callable under a
    /// caller's lock.
    pub fn insert(&self, session: Session) {
        self.shard(&session.id)
            .insert(session.id.clone(), Entry::new(session, false));
    }

    /// Keeps a copy of a session another node serves (it created or changed it).
    pub fn insert_copy(&self, session: Session) {
        self.shard(&session.id)
            .insert(session.id.clone(), Entry::new(session, true));
    }

    /// Applies a change another node made, or only its access (`change` is `None`); the entry
    /// becomes a copy with a fresh clock. `false` if the session is not here.
    pub fn update_copy(&self, id: &SessionId, change: Option<&SessionChange>) -> bool {
        let now = Instant::now();
        let mut shard = self.shard(id);
        let Some(entry) = shard.get_mut(id).filter(|e| !e.is_idle(now)) else {
            return false;
        };
        if let Some(change) = change {
            entry.session.apply(change);
        }
        entry.copy = true;
        entry.last_access = now;
        entry.replicated = now;
        true
    }

    /// A local access (a request): returns the session, and whether peers must hear of the
    /// access (Tomcat's DeltaManager rule: the session was another node's, or peers have not
    /// heard of it for a whole idle limit and their copies could expire).
    pub fn access(&self, id: &SessionId) -> Option<(Session, bool)> {
        self.with_live(id, |entry, announce| (entry.session.clone(), announce))
    }

    /// The session if it is live, without counting as an access (replication reads it on
    /// behalf of another node).
    pub fn peek(&self, id: &SessionId) -> Option<Session> {
        let now = Instant::now();
        self.shard(id)
            .get(id)
            .filter(|e| !e.is_idle(now))
            .map(|e| e.session.clone())
    }

    /// Removes every idle session.
    pub fn sweep(&self) -> Expired {
        let now = Instant::now();
        let mut expired = Expired::default();
        for shard in &self.shards {
            let mut map = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.retain(|id, entry| {
                let idle = entry.is_idle(now);
                match (idle, entry.copy) {
                    (true, true) => expired.copies += 1,
                    (true, false) => expired.served.push(id.clone()),
                    (false, _) => {}
                }
                !idle
            });
        }
        let n = expired.served.len() + expired.copies;
        self.expired.fetch_add(n as u64, Ordering::Relaxed);
        expired
    }

    /// Runs `f` on the live entry for `id` as a local access (dropping the entry first if it
    /// has expired). `f` also learns whether peers must hear of the access.
    fn with_live<T>(&self, id: &SessionId, f: impl FnOnce(&mut Entry, bool) -> T) -> Option<T> {
        let now = Instant::now();
        let mut shard = self.shard(id);
        match shard.get_mut(id) {
            Some(entry) if entry.is_idle(now) => {
                shard.remove(id);
                self.expired.fetch_add(1, Ordering::Relaxed);
                None
            }
            Some(entry) => {
                let quiet = now.saturating_duration_since(entry.replicated);
                let announce = entry.copy || quiet > entry.session.max_inactive;
                if announce {
                    entry.replicated = now;
                }
                entry.copy = false;
                entry.last_access = now;
                Some(f(entry, announce))
            }
            None => None,
        }
    }
}

impl SessionStore for LocalStore {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn create(&self, session: Session) -> StoreFuture<'_, ()> {
        self.insert(session);
        Box::pin(std::future::ready(Ok(())))
    }

    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<Session>> {
        let found = self.with_live(id, |entry, _| entry.session.clone());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save<'a>(&'a self, id: &'a SessionId, change: &'a SessionChange) -> StoreFuture<'a, bool> {
        let saved = self
            .with_live(id, |entry, _| entry.session.apply(change))
            .is_some();
        Box::pin(std::future::ready(Ok(saved)))
    }

    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        let touched = self.with_live(id, |_, _| ()).is_some();
        Box::pin(std::future::ready(Ok(touched)))
    }

    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        let existed = self.shard(id).remove(id).is_some();
        Box::pin(std::future::ready(Ok(existed)))
    }

    fn expire_idle(&self) -> StoreFuture<'_, usize> {
        let expired = self.sweep();
        let removed = expired.served.len() + expired.copies;
        Box::pin(std::future::ready(Ok(removed)))
    }

    fn stats(&self) -> StoreStats {
        let sessions = self
            .shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .len() as u64
            })
            .sum();
        StoreStats {
            sessions,
            expired: self.expired.load(Ordering::Relaxed),
            ..StoreStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    crate::store_conformance_tests!(
        #[tokio::test(start_paused = true)]
        super::LocalStore::new()
    );

    const LIMIT: Duration = Duration::from_secs(10);

    fn session() -> Session {
        Session::new(SessionId::generate(), "u".into(), LIMIT)
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_idles_out_after_twice_the_limit_and_a_local_access_makes_it_ours() {
        let store = LocalStore::new();
        let (copy, served) = (session(), session());
        store.insert_copy(copy.clone());
        store.insert(served.clone());
        tokio::time::advance(LIMIT + Duration::from_secs(1)).await;
        let swept = store.sweep();
        assert_eq!((swept.served, swept.copies), (vec![served.id], 0));
        assert!(
            store.update_copy(&copy.id, None),
            "a peer's access refreshes it"
        );
        tokio::time::advance(LIMIT * 2 - Duration::from_secs(1)).await;
        let (_, announce) = store.access(&copy.id).expect("still a live copy");
        assert!(announce, "the session moved here: peers must hear of it");
        tokio::time::advance(LIMIT + Duration::from_secs(1)).await;
        let swept = store.sweep();
        assert_eq!(
            (swept.served, swept.copies),
            (vec![copy.id], 0),
            "served here now: the single limit applies, and peers are told"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reads_are_announced_only_after_a_quiet_idle_limit() {
        let store = LocalStore::new();
        let s = session();
        store.insert(s.clone());
        let mut announced = Vec::new();
        for _ in 0..6 {
            tokio::time::advance(LIMIT / 2 - Duration::from_millis(1)).await;
            announced.push(store.access(&s.id).expect("alive").1);
        }
        // Quiet for 5 s, 10 s (not more than the limit), then 15 s: announce, and again.
        assert_eq!(announced, [false, false, true, false, false, true]);
    }
}
