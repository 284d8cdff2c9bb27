//! Serialization formats. The serde ones share the Rust types' field order and names; Protocol
//! Buffers uses the `#[prost]` tags on the same types.

use std::fmt;
use std::str::FromStr;

use super::{CodecError, Wire};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// serde_json: text, field names on the wire.
    Json,
    /// rmp-serde's default: structs as arrays (positional, like postcard).
    Msgpack,
    /// rmp-serde with structs as maps (field names on the wire, like JSON).
    MsgpackNamed,
    /// ciborium: structs as maps with field names.
    Cbor,
    /// postcard: positional, varint integers, no field names.
    Postcard,
    /// bitcode (serde mode): positional, column-oriented.
    Bitcode,
    /// prost: numbered fields, unknown fields skipped.
    Protobuf,
}

impl Format {
    pub const ALL: [Self; 7] = [
        Self::Json,
        Self::Msgpack,
        Self::MsgpackNamed,
        Self::Cbor,
        Self::Postcard,
        Self::Bitcode,
        Self::Protobuf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Msgpack => "msgpack",
            Self::MsgpackNamed => "msgpack-named",
            Self::Cbor => "cbor",
            Self::Postcard => "postcard",
            Self::Bitcode => "bitcode",
            Self::Protobuf => "protobuf",
        }
    }

    pub fn encode<T: Wire>(self, value: &T) -> Result<Vec<u8>, CodecError> {
        let fail = |why: String| CodecError::Format {
            codec: self.name(),
            why,
        };
        match self {
            Self::Json => serde_json::to_vec(value).map_err(|e| fail(e.to_string())),
            Self::Msgpack => rmp_serde::to_vec(value).map_err(|e| fail(e.to_string())),
            Self::MsgpackNamed => rmp_serde::to_vec_named(value).map_err(|e| fail(e.to_string())),
            Self::Cbor => {
                let mut out = Vec::new();
                ciborium::into_writer(value, &mut out).map_err(|e| fail(e.to_string()))?;
                Ok(out)
            }
            Self::Postcard => postcard::to_allocvec(value).map_err(|e| fail(e.to_string())),
            Self::Bitcode => bitcode::serialize(value).map_err(|e| fail(e.to_string())),
            Self::Protobuf => Ok(value.encode_to_vec()),
        }
    }

    /// Decodes a whole value. Each library bounds its own recursion, and serde caps what it
    /// preallocates from a length prefix; the caller has already bounded the input's size.
    pub fn decode<T: Wire>(self, bytes: &[u8]) -> Result<T, CodecError> {
        let fail = |why: String| CodecError::Format {
            codec: self.name(),
            why,
        };
        match self {
            Self::Json => serde_json::from_slice(bytes).map_err(|e| fail(e.to_string())),
            Self::Msgpack | Self::MsgpackNamed => {
                rmp_serde::from_slice(bytes).map_err(|e| fail(e.to_string()))
            }
            Self::Cbor => ciborium::from_reader(bytes).map_err(|e| fail(e.to_string())),
            Self::Postcard => postcard::from_bytes(bytes).map_err(|e| fail(e.to_string())),
            Self::Bitcode => bitcode::deserialize(bytes).map_err(|e| fail(e.to_string())),
            Self::Protobuf => T::decode(bytes).map_err(|e| fail(e.to_string())),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format `{s}` (expected one of: {})", super::names()))
    }
}
