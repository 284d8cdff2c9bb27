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
}

impl Entry {
    fn is_idle(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_access) > self.session.max_inactive
    }
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
        let entry = Entry {
            last_access: Instant::now(),
            session,
        };
        self.shard(&entry.session.id)
            .insert(entry.session.id.clone(), entry);
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

    /// Removes every idle session and returns their ids (a clustered store tells its peers).
    pub fn expire_idle_ids(&self) -> Vec<SessionId> {
        let now = Instant::now();
        let mut removed = Vec::new();
        for shard in &self.shards {
            let mut map = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.retain(|id, entry| {
                let idle = entry.is_idle(now);
                if idle {
                    removed.push(id.clone());
                }
                !idle
            });
        }
        self.expired
            .fetch_add(removed.len() as u64, Ordering::Relaxed);
        removed
    }

    /// Runs `f` on the live entry for `id`, dropping it first if it has expired.
    fn with_live<T>(&self, id: &SessionId, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        let now = Instant::now();
        let mut shard = self.shard(id);
        match shard.get_mut(id) {
            Some(entry) if entry.is_idle(now) => {
                shard.remove(id);
                self.expired.fetch_add(1, Ordering::Relaxed);
                None
            }
            Some(entry) => {
                entry.last_access = now;
                Some(f(entry))
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
        let found = self.with_live(id, |entry| entry.session.clone());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save<'a>(&'a self, id: &'a SessionId, change: &'a SessionChange) -> StoreFuture<'a, bool> {
        let saved = self
            .with_live(id, |entry| entry.session.apply(change))
            .is_some();
        Box::pin(std::future::ready(Ok(saved)))
    }

    fn touch<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        let touched = self.with_live(id, |_| ()).is_some();
        Box::pin(std::future::ready(Ok(touched)))
    }

    fn invalidate<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, bool> {
        let existed = self.shard(id).remove(id).is_some();
        Box::pin(std::future::ready(Ok(existed)))
    }

    fn expire_idle(&self) -> StoreFuture<'_, usize> {
        let removed = self.expire_idle_ids().len();
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
            copies: 0,
            replication: None,
        }
    }
}

#[cfg(test)]
mod tests {
    crate::store_conformance_tests!(
        #[tokio::test(start_paused = true)]
        super::LocalStore::new()
    );
}
