//! How sessions become bytes: a serialization format, an optional compression, and a bound on
//! what a decoder may produce.
//!
//! A codec is named `format[+compression]` (`msgpack+lz4`, `json`, `protobuf+zstd`). Every
//! strategy that sends or stores sessions takes one: Redis for attribute values, delta and
//! backup for the sessions and changes inside replication messages. Decoding never trusts its
//! input: random, truncated or corrupted bytes give an error, and nothing it allocates grows
//! past [`FormatCodec::limit`].

mod compression;
mod format;
mod format_codec;
pub mod session;
pub mod shapes;
#[cfg(test)]
mod tests;
mod value;

pub use compression::Compression;
pub use format::Format;
pub use format_codec::*;
pub use session::{Schema, SessionCodec};
