//! The set of backends and each one's live state, shared by the proxy, the health checker and
//! the admin API.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::names::NamedAddr;

/// One backend: where it is and what the balancer currently believes about it.
#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    up: AtomicBool,
    /// Consecutive health-check results in the current direction, for fall/rise.
    streak: AtomicU32,
    pub(super) inflight: AtomicUsize,
    requests: AtomicU64,
    failures: AtomicU64,
}

impl Backend {
    fn new(spec: &NamedAddr) -> Self {
        Self {
            name: spec.name.clone(),
            addr: spec.addr,
            up: AtomicBool::new(true),
            streak: AtomicU32::new(0),
            inflight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Passive detection: a request could not reach it. Marks it down at once, so the very next
    /// request is redispatched instead of waiting for the next health check.
    pub(super) fn failed_request(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if self.up.swap(false, Ordering::Relaxed) {
            self.streak.store(0, Ordering::Relaxed);
            eprintln!(
                "lb: backend {} ({}) marked down after a failed request",
                self.name, self.addr
            );
        }
    }

    pub(super) fn started_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one active health-check result; flips the state after `fall` failures in a row
    /// (when up) or `rise` passes in a row (when down).
    pub(super) fn health_result(&self, passed: bool, fall: u32, rise: u32) {
        if passed == self.is_up() {
            self.streak.store(0, Ordering::Relaxed);
            return;
        }
        let streak = self.streak.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= if passed { rise } else { fall } {
            self.up.store(passed, Ordering::Relaxed);
            self.streak.store(0, Ordering::Relaxed);
            let state = if passed { "up" } else { "down" };
            eprintln!(
                "lb: backend {} ({}) marked {state} by health check",
                self.name, self.addr
            );
        }
    }

    pub fn view(&self) -> BackendView {
        BackendView {
            name: self.name.clone(),
            addr: self.addr,
            up: self.is_up(),
            inflight: self.inflight.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// A backend as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct BackendView {
    pub name: String,
    pub addr: SocketAddr,
    pub up: bool,
    pub inflight: usize,
    pub requests: u64,
    pub failures: u64,
}

/// The current backend list. Readers take a cheap snapshot; changes replace the whole list, so
/// a request sees one consistent list from start to end.
#[derive(Debug)]
pub struct Backends {
    list: RwLock<Arc<[Arc<Backend>]>>,
}

/// Why the backend list could not be changed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChangeError {
    #[error("a backend named `{0}` already exists")]
    Exists(String),
    #[error("no backend named `{0}`")]
    Unknown(String),
}

impl Backends {
    pub fn new(specs: &[NamedAddr]) -> Self {
        let list: Vec<_> = specs.iter().map(|s| Arc::new(Backend::new(s))).collect();
        Self {
            list: RwLock::new(list.into()),
        }
    }

    pub fn snapshot(&self) -> Arc<[Arc<Backend>]> {
        self.list
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Appends a backend, as nginx's upstream list grows on scale-out (so hash policies remap).
    pub fn add(&self, spec: &NamedAddr) -> Result<(), ChangeError> {
        let mut list = self
            .list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if list.iter().any(|b| b.name == spec.name) {
            return Err(ChangeError::Exists(spec.name.clone()));
        }
        let mut next = list.to_vec();
        next.push(Arc::new(Backend::new(spec)));
        *list = next.into();
        Ok(())
    }

    pub fn remove(&self, name: &str) -> Result<(), ChangeError> {
        let mut list = self
            .list
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !list.iter().any(|b| b.name == name) {
            return Err(ChangeError::Unknown(name.into()));
        }
        let next: Vec<_> = list.iter().filter(|b| b.name != name).cloned().collect();
        *list = next.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, port: u16) -> NamedAddr {
        NamedAddr {
            name: name.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    #[test]
    fn fall_and_rise_need_consecutive_results() {
        let b = Backend::new(&spec("n1", 1));
        b.health_result(false, 2, 3);
        b.health_result(true, 2, 3);
        b.health_result(false, 2, 3);
        assert!(b.is_up(), "failures were not consecutive");
        b.health_result(false, 2, 3);
        assert!(!b.is_up());
        b.health_result(true, 2, 3);
        b.health_result(true, 2, 3);
        assert!(!b.is_up());
        b.health_result(true, 2, 3);
        assert!(b.is_up());
    }

    #[test]
    fn passive_failure_marks_down_at_once() {
        let b = Backend::new(&spec("n1", 1));
        b.failed_request();
        assert!(!b.is_up());
        assert_eq!(b.view().failures, 1);
    }

    #[test]
    fn add_and_remove_keep_names_unique() {
        let backends = Backends::new(&[spec("n1", 1)]);
        assert_eq!(
            backends.add(&spec("n1", 2)),
            Err(ChangeError::Exists("n1".into()))
        );
        backends.add(&spec("n2", 2)).expect("new name");
        let old = backends.snapshot();
        backends.remove("n1").expect("exists");
        assert_eq!(
            backends.remove("n1"),
            Err(ChangeError::Unknown("n1".into()))
        );
        assert_eq!(
            old.len(),
            2,
            "a snapshot taken before a change is unaffected"
        );
        let names: Vec<_> = backends.snapshot().iter().map(|b| b.name.clone()).collect();
        assert_eq!(names, ["n2"]);
    }
}
