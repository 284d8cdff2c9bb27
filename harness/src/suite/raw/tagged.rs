//! Tables whose keys depend on one of their values: a target's keys on its `strategy`, a
//! fault's on its `kind`. Each tag has a type of its own that refuses every other key, so
//! what a strategy or kind takes is written once, in its type.

use std::cell::Cell;
use std::collections::BTreeMap;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};

/// A table the first step of parsing leaves for the second, which types it by its tag.
pub type Later = BTreeMap<String, IgnoredAny>;

/// A table whose tag was missing or unknown (reported): its keys are not judged, but the
/// ones other checks need are kept, so they do not report it a second time.
#[derive(Debug, Clone, Default)]
pub struct Untyped {
    /// A target's `name`: other keys may name it.
    pub name: Option<String>,
    /// A fault's `at`: judged as any fault's.
    pub at: Option<String>,
}

/// A type chosen by a tag key: one variant per tag, each with exactly its keys.
pub trait Tagged: Sized {
    /// The key that chooses (`strategy`, `kind`).
    const TAG: &'static str;
    /// What such a table is, in messages (`target`, `fault`).
    const WHAT: &'static str;

    /// Every tag, in the order messages list them.
    fn tags() -> Vec<&'static str>;

    /// The table as the type of `tag`, a known one.
    fn from_tag<'de, D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error>;

    /// Why a table of this tag takes fewer keys than others, said where one is refused.
    fn note(_tag: &str) -> Option<&'static str> {
        None
    }
}

/// The keys a table of `tag` may hold, as its type's serde derive lists them.
pub fn keys<T: Tagged>(tag: &str) -> &'static [&'static str] {
    let fields = Fields(Cell::new(&[]));
    let _ = T::from_tag(tag, &fields);
    fields.0.get()
}

/// The message for `key`, given in a table of `tag` that does not take it: which tags do,
/// or `None` when no tag does (a misspelt key, which serde's own message covers).
pub fn misplaced<T: Tagged>(tag: &str, key: &str) -> Option<String> {
    let owners: Vec<&str> = T::tags()
        .into_iter()
        .filter(|t| *t != tag && keys::<T>(t).contains(&key))
        .collect();
    let what = T::WHAT;
    let have = match owners.as_slice() {
        [] => return None,
        [one] => format!("only {} \"{one}\" {what} has it", article(one)),
        [first @ .., last] => {
            let first: Vec<String> = first.iter().map(|t| format!("\"{t}\"")).collect();
            format!("only {} and \"{last}\" {what}s have it", first.join(", "))
        }
    };
    let note = T::note(tag).map(|n| format!(" ({n})")).unwrap_or_default();
    Some(format!(
        "`{key}` is not a key of {} \"{tag}\" {what}{note}: {have}",
        article(tag)
    ))
}

/// "an" before a tag said with a vowel first ("an \"external\" target"), else "a".
fn article(tag: &str) -> &'static str {
    if tag.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A deserializer that only notes the field names a derived struct asks for.
struct Fields(Cell<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &Fields {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's fields are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(fields);
        Err(de::Error::custom("fields noted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
