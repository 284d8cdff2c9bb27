//! An external application's own API as written: a request per operation, where a field
//! is in an answer, and what a logged-out answer looks like.

use std::collections::BTreeMap;

use serde::Deserialize;

/// An external application's own API: a request per operation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestsRaw {
    pub login: Option<OneOrMany<RequestRaw>>,
    pub read: Option<RequestRaw>,
    pub write: Option<RequestRaw>,
    pub counter: Option<RequestRaw>,
    pub logout: Option<RequestRaw>,
}

/// A table, or an array of tables (`[[targets.requests.login]]`, one per step). Not an
/// untagged enum: that would turn a misspelt key inside into "matches no variant".
#[derive(Debug, Clone)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table, or an array of tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
            }
        }
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestRaw {
    pub method: Option<String>,
    pub path: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub json: Option<serde_json::Value>,
    pub form: Option<BTreeMap<String, String>>,
    pub body: Option<String>,
    pub user: Option<ExtractRaw>,
    pub counter: Option<ExtractRaw>,
    pub value: Option<ExtractRaw>,
    pub extract: Option<BTreeMap<String, ExtractRaw>>,
    pub follow_redirects: Option<u32>,
    pub shows: Option<ShowsRaw>,
    pub starts_at: Option<u64>,
}

/// What a logout that worked shows: a status, a field, or a field with a value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShowsRaw {
    #[serde(default, deserialize_with = "statuses")]
    pub status: Option<Vec<u16>>,
    pub pointer: Option<String>,
    pub regex: Option<String>,
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub equals: Option<String>,
}

/// Where a field is in an answer: exactly one key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExtractRaw {
    pub pointer: Option<String>,
    pub regex: Option<String>,
    pub header: Option<String>,
    pub cookie: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoggedOutRaw {
    #[serde(default, deserialize_with = "statuses")]
    pub status: Option<Vec<u16>>,
    pub redirect: Option<String>,
    pub body: Option<String>,
}

/// `status = 401` or `status = [401, 403]`.
fn statuses<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u16>>, D::Error> {
    struct Statuses;
    impl<'de> serde::de::Visitor<'de> for Statuses {
        type Value = Vec<u16>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an HTTP status (401) or a list of them ([401, 403])")
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u16::try_from(v)
                .map(|s| vec![s])
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u16::try_from(v)
                .map(|s| vec![s])
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(s) = seq.next_element()? {
                all.push(s);
            }
            Ok(all)
        }
    }
    d.deserialize_any(Statuses).map(Some)
}
