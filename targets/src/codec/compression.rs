//! Optional compression after serialization. Decompression is bounded before it allocates:
//! both lz4 (as used here) and zstd frames state their decompressed size, which is checked
//! against the limit first, so a small "bomb" cannot make a node allocate gigabytes.

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

use super::CodecError;

/// zstd's default level: a balance the node pays on every request.
const ZSTD_LEVEL: i32 = 3;

thread_local! {
    /// zstd contexts are costly to make (about 10 µs, more than compressing a small session),
    /// so each thread keeps one of each, as servers do.
    static ZSTD: RefCell<Option<(zstd::bulk::Compressor<'static>, zstd::bulk::Decompressor<'static>)>> =
        const { RefCell::new(None) };
}

/// Runs `f` with this thread's zstd contexts.
fn with_zstd<T>(
    f: impl FnOnce(&mut zstd::bulk::Compressor<'static>, &mut zstd::bulk::Decompressor<'static>) -> T,
) -> T {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (c, d) = slot.get_or_insert_with(|| {
            (
                zstd::bulk::Compressor::new(ZSTD_LEVEL).expect("a zstd context"),
                zstd::bulk::Decompressor::new().expect("a zstd context"),
            )
        });
        f(c, d)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    /// lz4_flex block format with the decompressed size prepended (4 bytes, little-endian).
    Lz4,
    /// zstd frame (with its content size) at level 3.
    Zstd,
}

impl Compression {
    pub const ALL: [Self; 3] = [Self::None, Self::Lz4, Self::Zstd];

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }

    pub fn compress(self, raw: Vec<u8>) -> Vec<u8> {
        match self {
            Self::None => raw,
            Self::Lz4 => lz4_flex::block::compress_prepend_size(&raw),
            Self::Zstd => with_zstd(|c, _| c.compress(&raw)).expect("zstd compresses memory"),
        }
    }

    /// Decompresses, refusing any output larger than `limit`.
    pub fn decompress(self, bytes: &[u8], limit: usize) -> Result<Vec<u8>, CodecError> {
        let fail = |why: String| CodecError::Compression {
            codec: self.name(),
            why,
        };
        let check = |len: u64| {
            if len > limit as u64 {
                Err(CodecError::TooLarge {
                    what: "decompressed value",
                    len,
                    limit,
                })
            } else {
                Ok(len as usize)
            }
        };
        match self {
            Self::None => Ok(bytes.to_vec()),
            Self::Lz4 => {
                let (size, body) = bytes
                    .split_first_chunk::<4>()
                    .ok_or_else(|| fail("shorter than its size prefix".into()))?;
                let size = check(u64::from(u32::from_le_bytes(*size)))?;
                let mut out = vec![0; size];
                let n = lz4_flex::block::decompress_into(body, &mut out)
                    .map_err(|e| fail(e.to_string()))?;
                if n != size {
                    return Err(fail(format!("{n} bytes where the prefix says {size}")));
                }
                Ok(out)
            }
            Self::Zstd => {
                let size = zstd::zstd_safe::get_frame_content_size(bytes)
                    .map_err(|_| fail("not a zstd frame".into()))?
                    .ok_or_else(|| fail("frame does not state its size".into()))?;
                let size = check(size)?;
                let out =
                    with_zstd(|_, d| d.decompress(bytes, size)).map_err(|e| fail(e.to_string()))?;
                if out.len() != size {
                    return Err(fail(format!(
                        "{} bytes where the frame says {size}",
                        out.len()
                    )));
                }
                Ok(out)
            }
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown compression `{s}` (expected one of: {})",
                    super::names()
                )
            })
    }
}
