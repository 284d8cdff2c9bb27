//! The node's session type on the wire, in two schema versions, as a rolling deploy meets them:
//! version 2 adds one field to every attribute (when it was written). Nodes on different
//! versions share the same Redis or the same cluster; whether a session survives the deploy
//! depends on whether the codec lets each version read what the other wrote.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::value::{Token, from_tokens, to_tokens};
use super::{Codec, CodecError, FormatCodec, Wire};
use crate::session::{Attr, Session, SessionChange};

/// Which version of the session type a node writes and expects to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    #[default]
    V1,
    /// Adds `written-at-ms` to every attribute (a field added by a new release).
    V2,
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1 => "1",
            Self::V2 => "2",
        })
    }
}

impl FromStr for Schema {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "1" => Ok(Self::V1),
            "2" => Ok(Self::V2),
            _ => Err(format!("unknown session schema `{s}` (expected 1 or 2)")),
        }
    }
}

/// An attribute as version 1 writes it.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct AttrV1 {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Token>,
    #[prost(string, tag = "2")]
    pub write: String,
}

/// Version 2: one field more. `serde(default)` is what a careful release adds so that it can
/// read what version 1 wrote; it helps only formats that name their fields.
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct AttrV2 {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Token>,
    #[prost(string, tag = "2")]
    pub write: String,
    #[prost(uint64, tag = "3")]
    #[serde(default)]
    pub written_at_ms: u64,
}

/// What the node's in-memory `Attr` becomes on the wire, per schema version.
pub trait WireAttr: Wire + Clone {
    fn from_attr(attr: &Attr) -> Self;
    fn into_attr(self) -> Result<Attr, CodecError>;
}

impl WireAttr for AttrV1 {
    fn from_attr(attr: &Attr) -> Self {
        Self {
            value: to_tokens(&attr.value),
            write: attr.write.clone(),
        }
    }

    fn into_attr(self) -> Result<Attr, CodecError> {
        Ok(Attr {
            value: from_tokens(self.value)?,
            write: self.write,
        })
    }
}

impl WireAttr for AttrV2 {
    fn from_attr(attr: &Attr) -> Self {
        Self {
            value: to_tokens(&attr.value),
            write: attr.write.clone(),
            written_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }

    fn into_attr(self) -> Result<Attr, CodecError> {
        Ok(Attr {
            value: from_tokens(self.value)?,
            write: self.write,
        })
    }
}

/// The session and change types around one attribute version (the same code for both, so
/// the versions differ only where the attribute does).
macro_rules! wire_types {
    ($module:ident, $attr:ident) => {
        pub mod $module {
            use serde::{Deserialize, Serialize};

            use super::{CodecError, WireAttr, corrupt, $attr};
            use crate::session::{Session, SessionChange, SessionId};

            #[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
            pub struct NamedAttr {
                #[prost(string, tag = "1")]
                pub name: String,
                #[prost(message, optional, tag = "2")]
                pub attr: Option<$attr>,
            }

            #[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
            pub struct SessionWire {
                #[prost(string, tag = "1")]
                pub id: String,
                #[prost(string, tag = "2")]
                pub user: String,
                #[prost(uint64, tag = "3")]
                pub counter: u64,
                #[prost(message, repeated, tag = "4")]
                pub attrs: Vec<NamedAttr>,
                #[prost(uint64, tag = "5")]
                pub version: u64,
                #[prost(uint64, tag = "6")]
                pub max_inactive_ms: u64,
            }

            #[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
            pub struct ChangeWire {
                #[prost(message, repeated, tag = "1")]
                pub set: Vec<NamedAttr>,
                #[prost(string, repeated, tag = "2")]
                pub removed: Vec<String>,
                #[prost(uint64, optional, tag = "3")]
                pub counter: Option<u64>,
                #[prost(uint64, tag = "4")]
                pub version: u64,
            }

            fn named<'a>(
                attrs: impl Iterator<Item = (&'a String, &'a crate::session::Attr)>,
            ) -> Vec<NamedAttr> {
                attrs
                    .map(|(name, attr)| NamedAttr {
                        name: name.clone(),
                        attr: Some($attr::from_attr(attr)),
                    })
                    .collect()
            }

            fn unnamed(
                attrs: Vec<NamedAttr>,
            ) -> Result<std::collections::BTreeMap<String, crate::session::Attr>, CodecError> {
                attrs
                    .into_iter()
                    .map(|a| {
                        let attr = a.attr.ok_or_else(|| corrupt("attribute without a value"))?;
                        Ok((a.name, attr.into_attr()?))
                    })
                    .collect()
            }

            impl From<&Session> for SessionWire {
                fn from(s: &Session) -> Self {
                    Self {
                        id: s.id.to_string(),
                        user: s.user.clone(),
                        counter: s.counter,
                        attrs: named(s.attrs.iter()),
                        version: s.version,
                        max_inactive_ms: s.max_inactive.as_millis() as u64,
                    }
                }
            }

            impl SessionWire {
                pub fn into_session(self) -> Result<Session, CodecError> {
                    Ok(Session {
                        id: SessionId::parse(&self.id).ok_or_else(|| corrupt("bad session id"))?,
                        user: self.user,
                        counter: self.counter,
                        attrs: unnamed(self.attrs)?,
                        version: self.version,
                        max_inactive: std::time::Duration::from_millis(self.max_inactive_ms),
                    })
                }
            }

            impl From<&SessionChange> for ChangeWire {
                fn from(c: &SessionChange) -> Self {
                    Self {
                        set: named(c.set.iter()),
                        removed: c.removed.clone(),
                        counter: c.counter,
                        version: c.version,
                    }
                }
            }

            impl ChangeWire {
                pub fn into_change(self) -> Result<SessionChange, CodecError> {
                    Ok(SessionChange {
                        set: unnamed(self.set)?,
                        removed: self.removed,
                        counter: self.counter,
                        // Replication sends changes settled: a counter, not an increment.
                        increment: 0,
                        version: self.version,
                    })
                }
            }
        }
    };
}

wire_types!(v1, AttrV1);
wire_types!(v2, AttrV2);

fn corrupt(why: &str) -> CodecError {
    CodecError::Format {
        codec: "session",
        why: why.to_string(),
    }
}

/// A codec and a schema version: how one node writes sessions, changes and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionCodec {
    pub codec: FormatCodec,
    pub schema: Schema,
}

/// Every session type encodes in every format (the round-trip tests show it).
fn encoded<T: Wire>(codec: FormatCodec, value: &T) -> Vec<u8> {
    codec
        .encode(value)
        .expect("session types encode in every format")
}

impl SessionCodec {
    pub fn new(codec: FormatCodec, schema: Schema) -> Self {
        Self { codec, schema }
    }

    pub fn encode_session(&self, s: &Session) -> Vec<u8> {
        match self.schema {
            Schema::V1 => encoded(self.codec, &v1::SessionWire::from(s)),
            Schema::V2 => encoded(self.codec, &v2::SessionWire::from(s)),
        }
    }

    pub fn decode_session(&self, bytes: &[u8]) -> Result<Session, CodecError> {
        match self.schema {
            Schema::V1 => Codec::<v1::SessionWire>::decode(&self.codec, bytes)?.into_session(),
            Schema::V2 => Codec::<v2::SessionWire>::decode(&self.codec, bytes)?.into_session(),
        }
    }

    pub fn encode_change(&self, c: &SessionChange) -> Vec<u8> {
        match self.schema {
            Schema::V1 => encoded(self.codec, &v1::ChangeWire::from(c)),
            Schema::V2 => encoded(self.codec, &v2::ChangeWire::from(c)),
        }
    }

    pub fn decode_change(&self, bytes: &[u8]) -> Result<SessionChange, CodecError> {
        match self.schema {
            Schema::V1 => Codec::<v1::ChangeWire>::decode(&self.codec, bytes)?.into_change(),
            Schema::V2 => Codec::<v2::ChangeWire>::decode(&self.codec, bytes)?.into_change(),
        }
    }

    pub fn encode_attr(&self, a: &Attr) -> Vec<u8> {
        match self.schema {
            Schema::V1 => encoded(self.codec, &AttrV1::from_attr(a)),
            Schema::V2 => encoded(self.codec, &AttrV2::from_attr(a)),
        }
    }

    pub fn decode_attr(&self, bytes: &[u8]) -> Result<Attr, CodecError> {
        match self.schema {
            Schema::V1 => Codec::<AttrV1>::decode(&self.codec, bytes)?.into_attr(),
            Schema::V2 => Codec::<AttrV2>::decode(&self.codec, bytes)?.into_attr(),
        }
    }
}

impl fmt::Display for SessionCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (session schema {})", self.codec, self.schema)
    }
}
