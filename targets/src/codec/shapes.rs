//! Session shapes for comparing codecs, after what web applications keep in sessions: a login
//! (about 200 bytes as JSON), a shopping cart of 20 items (about 2 KB) and cached search
//! results (about 100 KB). Contents come from a seeded generator, so every run measures the
//! same bytes. `LoginV2*` are the login's next versions for the schema-evolution matrix.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Version 1 of the login session.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct Login {
    #[prost(uint64, tag = "1")]
    pub user_id: u64,
    #[prost(string, tag = "2")]
    pub username: String,
    #[prost(string, repeated, tag = "3")]
    pub roles: Vec<String>,
    #[prost(string, tag = "4")]
    pub locale: String,
    #[prost(string, tag = "5")]
    pub csrf_token: String,
    #[prost(uint64, tag = "6")]
    pub login_at_ms: u64,
}

/// Version 2, a field added at the end (with `serde(default)`, as a careful release does).
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct LoginV2Added {
    #[prost(uint64, tag = "1")]
    pub user_id: u64,
    #[prost(string, tag = "2")]
    pub username: String,
    #[prost(string, repeated, tag = "3")]
    pub roles: Vec<String>,
    #[prost(string, tag = "4")]
    pub locale: String,
    #[prost(string, tag = "5")]
    pub csrf_token: String,
    #[prost(uint64, tag = "6")]
    pub login_at_ms: u64,
    #[prost(string, tag = "7")]
    #[serde(default)]
    pub theme: String,
}

/// Version 2, `locale` removed (its protobuf tag left unused).
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct LoginV2Removed {
    #[prost(uint64, tag = "1")]
    pub user_id: u64,
    #[prost(string, tag = "2")]
    pub username: String,
    #[prost(string, repeated, tag = "3")]
    pub roles: Vec<String>,
    #[prost(string, tag = "5")]
    pub csrf_token: String,
    #[prost(uint64, tag = "6")]
    pub login_at_ms: u64,
}

/// Version 2, `username` renamed to `login_name` (same place, same protobuf tag, no alias).
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct LoginV2Renamed {
    #[prost(uint64, tag = "1")]
    pub user_id: u64,
    #[prost(string, tag = "2")]
    pub login_name: String,
    #[prost(string, repeated, tag = "3")]
    pub roles: Vec<String>,
    #[prost(string, tag = "4")]
    pub locale: String,
    #[prost(string, tag = "5")]
    pub csrf_token: String,
    #[prost(uint64, tag = "6")]
    pub login_at_ms: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct Cart {
    #[prost(uint64, tag = "1")]
    pub user_id: u64,
    #[prost(string, tag = "2")]
    pub currency: String,
    #[prost(message, repeated, tag = "3")]
    pub items: Vec<CartItem>,
    #[prost(string, tag = "4")]
    pub coupon: String,
    #[prost(uint64, tag = "5")]
    pub updated_at_ms: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct CartItem {
    #[prost(string, tag = "1")]
    pub sku: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(uint32, tag = "3")]
    pub quantity: u32,
    #[prost(uint64, tag = "4")]
    pub unit_price_cents: u64,
    #[prost(string, repeated, tag = "5")]
    pub options: Vec<String>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct Cached {
    #[prost(string, tag = "1")]
    pub query: String,
    #[prost(message, repeated, tag = "2")]
    pub hits: Vec<SearchHit>,
    #[prost(uint64, tag = "3")]
    pub fetched_at_ms: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct SearchHit {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub title: String,
    #[prost(string, tag = "3")]
    pub url: String,
    #[prost(double, tag = "4")]
    pub score: f64,
    #[prost(string, repeated, tag = "5")]
    pub tags: Vec<String>,
    #[prost(string, tag = "6")]
    pub snippet: String,
}

const WORDS: [&str; 24] = [
    "session", "cart", "blue", "shirt", "cotton", "large", "sale", "winter", "coat", "wool",
    "black", "boots", "leather", "gift", "card", "red", "scarf", "linen", "summer", "dress",
    "green", "socks", "pack", "classic",
];

fn words(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn hex(rng: &mut StdRng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

const NOW_MS: u64 = 1_790_000_000_000;

pub fn login(seed: u64) -> Login {
    let rng = &mut StdRng::seed_from_u64(seed);
    Login {
        user_id: rng.random_range(1..10_000_000),
        username: format!("user{}", rng.random_range(1..100_000)),
        roles: vec!["customer".into(), "newsletter".into(), "beta-tester".into()],
        locale: "en-GB".into(),
        csrf_token: hex(rng, 16),
        login_at_ms: NOW_MS + rng.random_range(0..1_000_000),
    }
}

pub fn cart(seed: u64) -> Cart {
    let rng = &mut StdRng::seed_from_u64(seed);
    Cart {
        user_id: rng.random_range(1..10_000_000),
        currency: "EUR".into(),
        items: (0..20)
            .map(|_| CartItem {
                sku: format!("SKU-{:08}", rng.random_range(0..100_000_000)),
                name: words(rng, 3),
                quantity: rng.random_range(1..5),
                unit_price_cents: rng.random_range(99..50_000),
                options: vec![format!("size:{}", words(rng, 1)), "gift-wrap:no".into()],
            })
            .collect(),
        coupon: "WINTER10".into(),
        updated_at_ms: NOW_MS,
    }
}

pub fn cached(seed: u64) -> Cached {
    let rng = &mut StdRng::seed_from_u64(seed);
    Cached {
        query: words(rng, 3),
        hits: (0..360)
            .map(|i| SearchHit {
                id: 1_000_000 + i,
                title: words(rng, 6),
                url: format!(
                    "https://shop.example/p/{}/{}",
                    rng.random_range(0..1_000_000),
                    hex(rng, 4)
                ),
                score: rng.random_range(0.0..100.0),
                tags: (0..3).map(|_| words(rng, 1)).collect(),
                snippet: words(rng, 14),
            })
            .collect(),
        fetched_at_ms: NOW_MS,
    }
}

/// Cached search results as a JSON value of at least `bytes` bytes (as JSON text), for the
/// node's `--padding-bytes`: structured data compresses and serializes as real sessions do,
/// where a run of one letter would flatter every compressor.
pub fn cached_value(bytes: usize) -> serde_json::Value {
    let rng = &mut StdRng::seed_from_u64(bytes as u64);
    let mut hits = Vec::new();
    let mut size = 2;
    let mut id = 1_000_000;
    while size < bytes {
        let hit = serde_json::json!({
            "id": id,
            "title": words(rng, 6),
            "url": format!("https://shop.example/p/{}/{}", rng.random_range(0..1_000_000), hex(rng, 4)),
            "score": rng.random_range(0.0..100.0),
            "tags": (0..3).map(|_| words(rng, 1)).collect::<Vec<_>>(),
            "snippet": words(rng, 14),
        });
        size += hit.to_string().len() + 1;
        hits.push(hit);
        id += 1;
    }
    serde_json::Value::Array(hits)
}

/// The node's own session: three attributes as the load driver writes them.
pub fn node_session(seed: u64) -> crate::session::Session {
    let rng = &mut StdRng::seed_from_u64(seed);
    let mut id = [0u8; 32];
    id.iter_mut()
        .for_each(|b| *b = b"0123456789abcdef"[rng.random_range(0..16)]);
    let id = std::str::from_utf8(&id)
        .ok()
        .and_then(crate::session::SessionId::parse);
    let mut session = crate::session::Session::new(
        id.expect("32 hex digits"),
        format!("user{}", rng.random_range(1..100_000)),
        std::time::Duration::from_secs(1800),
    );
    session.counter = rng.random_range(0..100);
    session.version = 7;
    for name in ["a", "b", "c"] {
        session.attrs.insert(
            name.into(),
            crate::session::Attr {
                value: serde_json::json!(rng.random_range(0..1_000_000u64)),
                write: format!("w-{}", hex(rng, 6)),
            },
        );
    }
    session
}

/// How login versions compare: the fields both sides have must come through unchanged.
pub trait LoginVersion: super::Wire + Clone + PartialEq {
    fn from_v1(v1: &Login) -> Self;
    /// Whether the fields this version shares with version 1 hold what `v1` holds.
    fn shared_with_v1(&self, v1: &Login) -> bool {
        *self == Self::from_v1(v1)
    }
}

impl LoginVersion for LoginV2Added {
    fn from_v1(v: &Login) -> Self {
        Self {
            user_id: v.user_id,
            username: v.username.clone(),
            roles: v.roles.clone(),
            locale: v.locale.clone(),
            csrf_token: v.csrf_token.clone(),
            login_at_ms: v.login_at_ms,
            theme: "dark".into(),
        }
    }
    /// The added field is not shared: whatever it holds, the rest must match.
    fn shared_with_v1(&self, v: &Login) -> bool {
        *self
            == Self {
                theme: self.theme.clone(),
                ..Self::from_v1(v)
            }
    }
}

impl LoginVersion for LoginV2Removed {
    fn from_v1(v: &Login) -> Self {
        Self {
            user_id: v.user_id,
            username: v.username.clone(),
            roles: v.roles.clone(),
            csrf_token: v.csrf_token.clone(),
            login_at_ms: v.login_at_ms,
        }
    }
}

impl LoginVersion for LoginV2Renamed {
    fn from_v1(v: &Login) -> Self {
        Self {
            user_id: v.user_id,
            login_name: v.username.clone(),
            roles: v.roles.clone(),
            locale: v.locale.clone(),
            csrf_token: v.csrf_token.clone(),
            login_at_ms: v.login_at_ms,
        }
    }
}

/// Whether a deploy from version 1 to version `V` keeps sessions in this codec's format:
/// can version 2 read what version 1 wrote (`new_reads_old`), and the reverse (needed while
/// old and new nodes run side by side)? Reading means decoding without error and getting
/// every shared field back unchanged, not merely decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Evolution {
    pub new_reads_old: bool,
    pub old_reads_new: bool,
}

pub fn evolution<V: LoginVersion>(codec: super::FormatCodec) -> Evolution {
    use super::Codec;
    let old = login(1);
    let new = V::from_v1(&old);
    let new_reads_old = codec
        .encode(&old)
        .and_then(|b| Codec::<V>::decode(&codec, &b))
        .is_ok_and(|v| v.shared_with_v1(&old));
    let old_reads_new = codec
        .encode(&new)
        .and_then(|b| Codec::<Login>::decode(&codec, &b))
        .is_ok_and(|v| new.shared_with_v1(&v));
    Evolution {
        new_reads_old,
        old_reads_new,
    }
}
