//! The one conformance suite every [`SessionStore`] runs.
//!
//! Each check is a plain async function over a fresh store, so a store backed by a real
//! server (Redis) runs the same checks on real time while `local` runs them on paused time.
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands into one test per check.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::sleep;

use super::SessionStore;
use crate::session::{Attr, Session, SessionChange, SessionId};

/// Idle limit used by the expiry checks: long enough for a real server's TTL to be exact to
/// well within it, short enough for a real-time run.
const MAX_INACTIVE: Duration = Duration::from_secs(2);

/// Loads a session the check knows exists.
async fn must_load(store: &dyn SessionStore, id: &SessionId) -> Session {
    let loaded = store.load(id).await.expect("load");
    loaded.unwrap_or_else(|| panic!("[{}] session {id} should exist", store.kind()))
}

fn session(user: &str, max_inactive: Duration) -> Session {
    Session::new(SessionId::generate(), user.into(), max_inactive)
}

fn set(name: &str, value: serde_json::Value, write: &str, version: u64) -> SessionChange {
    let attr = Attr {
        value,
        write: write.into(),
    };
    SessionChange {
        set: [(name.to_string(), attr)].into(),
        version,
        ..Default::default()
    }
}

pub async fn create_then_load_returns_the_session(store: Arc<dyn SessionStore>) {
    let s = session("u1", MAX_INACTIVE);
    store.create(s.clone()).await.expect("create");
    let loaded = store.load(&s.id).await.expect("load");
    assert_eq!(
        loaded,
        Some(s),
        "[{}] a created session loads back unchanged",
        store.kind()
    );
}

pub async fn unknown_id_loads_nothing(store: Arc<dyn SessionStore>) {
    let id = SessionId::generate();
    assert_eq!(store.load(&id).await.expect("load"), None);
    assert!(
        !store.touch(&id).await.expect("touch"),
        "touching an unknown id reports it gone"
    );
    assert!(!store.invalidate(&id).await.expect("invalidate"));
}

pub async fn save_writes_only_what_changed(store: Arc<dyn SessionStore>) {
    let s = session("u1", MAX_INACTIVE);
    store.create(s.clone()).await.expect("create");
    assert!(
        store
            .save(&s.id, &set("a", json!(1), "w-1", 2))
            .await
            .expect("save a")
    );
    assert!(
        store
            .save(&s.id, &set("b", json!("x"), "w-2", 3))
            .await
            .expect("save b")
    );
    let counter = SessionChange {
        counter: Some(5),
        version: 4,
        ..Default::default()
    };
    assert!(store.save(&s.id, &counter).await.expect("save counter"));
    let loaded = must_load(&*store, &s.id).await;
    assert_eq!(
        loaded.attrs["a"],
        Attr {
            value: json!(1),
            write: "w-1".into()
        }
    );
    assert_eq!(
        loaded.attrs["b"],
        Attr {
            value: json!("x"),
            write: "w-2".into()
        }
    );
    assert_eq!(
        (loaded.counter, loaded.version, loaded.user.as_str()),
        (5, 4, "u1")
    );

    let remove = SessionChange {
        removed: vec!["a".into()],
        version: 5,
        ..Default::default()
    };
    assert!(store.save(&s.id, &remove).await.expect("remove a"));
    let loaded = must_load(&*store, &s.id).await;
    assert!(!loaded.attrs.contains_key("a") && loaded.attrs.contains_key("b"));
    assert_eq!(
        loaded.counter, 5,
        "a change without a counter leaves it alone"
    );
}

pub async fn concurrent_saves_to_different_attributes_all_survive(store: Arc<dyn SessionStore>) {
    let s = session("u1", MAX_INACTIVE);
    store.create(s.clone()).await.expect("create");
    let writers: Vec<_> = (0..32)
        .map(|i| {
            let (store, id) = (store.clone(), s.id.clone());
            tokio::spawn(async move {
                let change = set(&format!("k{i}"), json!(i), &format!("w-{i}"), 2);
                store.save(&id, &change).await.expect("save")
            })
        })
        .collect();
    for w in writers {
        assert!(w.await.expect("writer task"));
    }
    let loaded = must_load(&*store, &s.id).await;
    assert_eq!(
        loaded.attrs.len(),
        32,
        "no write to another attribute was lost"
    );
}

pub async fn invalidate_removes_and_save_does_not_resurrect(store: Arc<dyn SessionStore>) {
    let s = session("u1", MAX_INACTIVE);
    store.create(s.clone()).await.expect("create");
    assert!(store.invalidate(&s.id).await.expect("invalidate"));
    assert!(!store.invalidate(&s.id).await.expect("second invalidate"));
    assert!(
        !store
            .save(&s.id, &set("a", json!(1), "w-1", 2))
            .await
            .expect("save")
    );
    assert!(!store.touch(&s.id).await.expect("touch"));
    assert_eq!(
        store.load(&s.id).await.expect("load"),
        None,
        "no resurrection after logout"
    );
}

pub async fn idle_session_expires_without_being_read(store: Arc<dyn SessionStore>) {
    let idle = session("idle", MAX_INACTIVE);
    store.create(idle.clone()).await.expect("create");
    let before = store.stats().sessions;
    sleep(MAX_INACTIVE + Duration::from_millis(500)).await;
    store.expire_idle().await.expect("expire");
    // A shared store (Redis) counts no sessions on the node; its own tests check that the
    // backend drops the idle session unread.
    if before > 0 {
        assert_eq!(
            store.stats().sessions,
            before - 1,
            "[{}] the sweep removes an idle session nobody reads",
            store.kind()
        );
    }
    assert_eq!(store.load(&idle.id).await.expect("load"), None);
}

pub async fn access_keeps_a_session_alive(store: Arc<dyn SessionStore>) {
    let read = session("read", MAX_INACTIVE);
    let touched = session("touched", MAX_INACTIVE);
    let written = session("written", MAX_INACTIVE);
    for s in [&read, &touched, &written] {
        store.create(s.clone()).await.expect("create");
    }
    let step = MAX_INACTIVE * 3 / 4;
    for round in 0..3 {
        sleep(step).await;
        assert!(
            store.load(&read.id).await.expect("load").is_some(),
            "read, round {round}"
        );
        assert!(
            store.touch(&touched.id).await.expect("touch"),
            "touch, round {round}"
        );
        let change = set("r", json!(round), "w", round + 2);
        assert!(
            store.save(&written.id, &change).await.expect("save"),
            "save, round {round}"
        );
        store.expire_idle().await.expect("expire");
    }
}

pub async fn max_inactive_is_per_session(store: Arc<dyn SessionStore>) {
    let short = session("short", MAX_INACTIVE);
    let long = session("long", MAX_INACTIVE * 10);
    store.create(short.clone()).await.expect("create");
    store.create(long.clone()).await.expect("create");
    sleep(MAX_INACTIVE + Duration::from_millis(500)).await;
    assert_eq!(
        store.load(&short.id).await.expect("load"),
        None,
        "checked on read too"
    );
    assert_eq!(
        store.load(&long.id).await.expect("load").map(|s| s.user),
        Some("long".into())
    );
}

/// Expands into one test per conformance check. The first argument is the test attribute
/// (paused time for in-process stores, real time for stores backed by a server); the second
/// builds a fresh store.
#[macro_export]
macro_rules! store_conformance_tests {
    (#[$test:meta] $make:expr) => {
        $crate::store_conformance_tests!(@each #[$test] $make;
            create_then_load_returns_the_session,
            unknown_id_loads_nothing,
            save_writes_only_what_changed,
            concurrent_saves_to_different_attributes_all_survive,
            invalidate_removes_and_save_does_not_resurrect,
            idle_session_expires_without_being_read,
            access_keeps_a_session_alive,
            max_inactive_is_per_session,
        );
    };
    (@each #[$test:meta] $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[$test]
            async fn $check() {
                let store: ::std::sync::Arc<dyn $crate::store::SessionStore> =
                    ::std::sync::Arc::new($make);
                $crate::store::conformance::$check(store).await;
            }
        )*
    };
}
