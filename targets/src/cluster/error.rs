//! Why a replication connection was refused: by its handshake or by one of its frames.

use std::time::Duration;

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes is over the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    #[error(
        "frame authentication failed (wrong or missing cluster secret, or a frame replayed from another connection)"
    )]
    Unauthenticated,
    #[error("frame {seq} replayed or out of order (expected {expected})")]
    OutOfOrder { seq: u64, expected: u64 },
    #[error("frame not complete within {0:?}")]
    Slow(Duration),
    /// The handshake named no node, or this one.
    #[error("{0}")]
    Peer(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
