//! The session model shared by the node and every store: ids, attributes and the view that
//! every response carries (the harness's oracle).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Bytes of randomness in a session id: 128 bits, as OWASP asks for at least 64 bits of entropy.
const ID_BYTES: usize = 16;

/// A session id without any route suffix: 32 lowercase hex digits from the OS-seeded CSPRNG.
///
/// Hex is URL-safe and cookie-safe without escaping, and contains no `.` so a route suffix can
/// be told apart unambiguously.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let mut s = String::with_capacity(ID_BYTES * 2);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        Self(s)
    }

    /// Parses an id as it appears in a cookie, without route suffix; `None` if it is not one
    /// this node could have issued (which makes a forged or mangled cookie a client error).
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == ID_BYTES * 2 && s.bytes().all(|b| HEX.contains(&b))).then(|| Self(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

/// One attribute: its value and the id of the write that set it, so a reader can tell which
/// write it observes (values alone can repeat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attr {
    pub value: serde_json::Value,
    pub write: String,
}

/// The whole state of a session as a store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Session {
    pub id: SessionId,
    pub user: String,
    pub counter: u64,
    pub attrs: BTreeMap<String, Attr>,
    /// Bumped by every saved change; lets a reader order the states it observes.
    pub version: u64,
    /// Idle time after which the session expires; kept per session as Tomcat and Spring do.
    #[serde(with = "duration_ms", rename = "max-inactive-ms")]
    pub max_inactive: Duration,
}

impl Session {
    /// A fresh session for `user`, version 1.
    pub fn new(id: SessionId, user: String, max_inactive: Duration) -> Self {
        Self {
            id,
            user,
            counter: 0,
            attrs: BTreeMap::new(),
            version: 1,
            max_inactive,
        }
    }

    /// Applies a change as a store would, so every store shares one definition of "apply".
    pub fn apply(&mut self, change: &SessionChange) {
        for (name, attr) in &change.set {
            self.attrs.insert(name.clone(), attr.clone());
        }
        for name in &change.removed {
            self.attrs.remove(name);
        }
        if let Some(counter) = change.counter {
            self.counter = counter;
        }
        self.counter += change.increment;
        // Changes saved side by side (a page's parallel requests) each name the version they
        // make from the one they loaded: the session keeps the highest, never goes back.
        self.version = self.version.max(change.version);
    }
}

/// What one request changed: only these fields are written, never the whole session, so
/// concurrent writes to different attributes do not overwrite each other (Spring Session's
/// delta save, Tomcat's DeltaRequest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionChange {
    pub set: BTreeMap<String, Attr>,
    pub removed: Vec<String>,
    pub counter: Option<u64>,
    /// Added to the counter where it is stored, not computed from the copy the request
    /// loaded: concurrent increments all count (Redis `HINCRBY`). Replication sends the
    /// resulting counter instead (see [`SessionChange::settled`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub increment: u64,
    /// The version the session has after this change.
    pub version: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SessionChange {
    /// This change with its increment turned into the counter `session` (the copy it was
    /// applied to) now has: what peers are sent, which they apply as it is.
    pub fn settled(&self, session: Option<&Session>) -> Self {
        let mut change = self.clone();
        if change.increment > 0 {
            change.counter = session.map(|s| s.counter).or(change.counter);
            change.increment = 0;
        }
        change
    }
}

/// What a response carries: the whole session plus the node that served it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// The id as the client sees it, including a `.<node>` route suffix when routes are on.
    pub id: String,
    pub user: String,
    pub node: String,
    pub counter: u64,
    pub attrs: BTreeMap<String, Attr>,
    pub version: u64,
}

/// Serde for a `Duration` as whole milliseconds, the unit named in the field.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_128_bit_hex_and_distinct() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| SessionId::generate()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.as_str().len(), 32);
            assert_eq!(SessionId::parse(id.as_str()).as_ref(), Some(id));
        }
    }

    #[test]
    fn parse_rejects_what_a_node_never_issues() {
        for bad in [
            "",
            "abc",
            "ABCDEF0123456789abcdef0123456789",
            &"a".repeat(33),
            "g".repeat(32).as_str(),
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn apply_sets_removes_and_bumps_version() {
        let mut s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
        let attr = Attr {
            value: serde_json::json!(7),
            write: "w-1".into(),
        };
        s.apply(&SessionChange {
            set: [("a".to_string(), attr.clone())].into(),
            counter: Some(3),
            version: 2,
            ..Default::default()
        });
        assert_eq!(
            (s.counter, s.version, s.attrs.get("a")),
            (3, 2, Some(&attr))
        );
        s.apply(&SessionChange {
            removed: vec!["a".into()],
            version: 3,
            ..Default::default()
        });
        assert!(s.attrs.is_empty());
        assert_eq!(s.counter, 3);
    }

    #[test]
    fn increments_add_up_versions_never_go_back_and_peers_get_the_counter() {
        let mut s = Session::new(SessionId::generate(), "u1".into(), Duration::from_secs(60));
        let inc = |version| SessionChange {
            increment: 1,
            version,
            ..Default::default()
        };
        // Two requests that loaded version 1 and a third that loaded 2, saved in any order.
        for change in [inc(3), inc(2), inc(2)] {
            s.apply(&change);
        }
        assert_eq!((s.counter, s.version), (3, 3));
        let settled = inc(3).settled(Some(&s));
        assert_eq!((settled.counter, settled.increment), (Some(3), 0));
        assert_eq!(inc(3).settled(None).increment, 0);
    }
}
