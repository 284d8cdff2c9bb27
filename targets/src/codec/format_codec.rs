//! A format with an optional compression: the codec a strategy is given, and its errors.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Compression, Format};
use serde::de::DeserializeOwned;

/// Default bound on one decoded value (and on the bytes handed to a decoder).
pub const DEFAULT_LIMIT: usize = 16 << 20;

/// A type every format can carry: serde for the serde formats, prost for Protocol Buffers.
/// (prost's derive also provides `Default` and `Debug`.)
pub trait Wire: Serialize + DeserializeOwned + prost::Message + Default {}

impl<T: Serialize + DeserializeOwned + prost::Message + Default> Wire for T {}

/// Turns values of `T` into bytes and back.
pub trait Codec<T> {
    fn encode(&self, value: &T) -> Result<Vec<u8>, CodecError>;
    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("{codec}: {why}")]
    Format { codec: &'static str, why: String },
    #[error("{codec}: {why}")]
    Compression { codec: &'static str, why: String },
    #[error("{what} of {len} bytes is over the {limit}-byte decode limit")]
    TooLarge {
        what: &'static str,
        len: u64,
        limit: usize,
    },
}

/// A format, a compression and a decode limit: the one codec type every store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatCodec {
    pub format: Format,
    pub compression: Compression,
    /// Largest input a decoder accepts and largest output a decompressor produces.
    pub limit: usize,
}

impl FormatCodec {
    pub fn new(format: Format, compression: Compression) -> Self {
        Self {
            format,
            compression,
            limit: DEFAULT_LIMIT,
        }
    }

    /// Every format with every compression, in a stable order (for benchmarks and tests).
    pub fn all() -> Vec<Self> {
        Format::ALL
            .iter()
            .flat_map(|&f| Compression::ALL.iter().map(move |&c| Self::new(f, c)))
            .collect()
    }

    /// Only the serialization step, without compression (for the raw encoded size).
    pub fn uncompressed(self) -> Self {
        Self {
            compression: Compression::None,
            ..self
        }
    }
}

impl Default for FormatCodec {
    fn default() -> Self {
        Self::new(Format::Json, Compression::None)
    }
}

impl<T: Wire> Codec<T> for FormatCodec {
    fn encode(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        let raw = self.format.encode(value)?;
        Ok(self.compression.compress(raw))
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        if bytes.len() > self.limit {
            return Err(CodecError::TooLarge {
                what: "input",
                len: bytes.len() as u64,
                limit: self.limit,
            });
        }
        let raw = self.compression.decompress(bytes, self.limit)?;
        self.format.decode(&raw)
    }
}

impl fmt::Display for FormatCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.compression {
            Compression::None => write!(f, "{}", self.format),
            c => write!(f, "{}+{c}", self.format),
        }
    }
}

impl FromStr for FormatCodec {
    type Err = String;

    /// `format[+compression]`, e.g. `msgpack+lz4`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (format, compression) = s.split_once('+').unwrap_or((s, "none"));
        Ok(Self::new(format.parse()?, compression.parse()?))
    }
}

impl Serialize for FormatCodec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FormatCodec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Names for `--help` and error messages: `json, msgpack, … ; none, lz4, zstd`.
pub fn names() -> String {
    let formats: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    let compressions: Vec<&str> = Compression::ALL.iter().map(|c| c.name()).collect();
    format!(
        "formats {}; compressions {}",
        formats.join(", "),
        compressions.join(", ")
    )
}
