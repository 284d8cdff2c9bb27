//! Frames on the replication channel: a 4-byte big-endian length, then, with a shared secret,
//! a 32-byte HMAC-SHA256 tag of the payload, then the payload.
//!
//! A frame above the size limit is refused from its length alone, before any of it is read, so
//! a peer cannot make a node allocate what it likes. A bad tag, a short read or an oversized
//! length is an error that closes the connection.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

type Tag = Hmac<Sha256>;

/// Length of the authentication tag when a secret is set.
pub(super) const TAG_LEN: usize = 32;

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes is over the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    #[error("frame authentication failed (wrong or missing cluster secret)")]
    Unauthenticated,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The channel's settings, shared by both ends.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    pub limit: usize,
    pub secret: Option<Vec<u8>>,
}

impl FrameCodec {
    fn tag(&self, payload: &[u8]) -> Option<[u8; TAG_LEN]> {
        let secret = self.secret.as_ref()?;
        let mut mac = Tag::new_from_slice(secret).expect("HMAC accepts keys of any length");
        mac.update(payload);
        Some(mac.finalize().into_bytes().into())
    }

    /// Writes one frame (in one write, so frames from one task never interleave).
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        out: &mut W,
        payload: &[u8],
    ) -> Result<usize, FrameError> {
        let tag = self.tag(payload);
        let body_len = payload.len() + tag.map_or(0, |t| t.len());
        if body_len > self.limit {
            return Err(FrameError::TooLarge {
                len: body_len,
                limit: self.limit,
            });
        }
        let mut frame = Vec::with_capacity(4 + body_len);
        frame.extend_from_slice(
            &u32::try_from(body_len)
                .expect("below the limit")
                .to_be_bytes(),
        );
        if let Some(tag) = tag {
            frame.extend_from_slice(&tag);
        }
        frame.extend_from_slice(payload);
        out.write_all(&frame).await?;
        Ok(frame.len())
    }

    /// Reads one frame and returns its payload and its size on the wire; `Ok(None)` at a clean
    /// end of stream between frames.
    pub async fn read<R: AsyncRead + Unpin>(
        &self,
        input: &mut R,
    ) -> Result<Option<(Vec<u8>, usize)>, FrameError> {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > self.limit {
            return Err(FrameError::TooLarge {
                len,
                limit: self.limit,
            });
        }
        let mut body = vec![0u8; len];
        input.read_exact(&mut body).await?;
        let payload = match &self.secret {
            None => body,
            Some(_) => {
                if len < TAG_LEN {
                    return Err(FrameError::Unauthenticated);
                }
                let payload = body.split_off(TAG_LEN);
                let mut mac = Tag::new_from_slice(self.secret.as_deref().unwrap_or_default())
                    .expect("any key length");
                mac.update(&payload);
                mac.verify_slice(&body)
                    .map_err(|_| FrameError::Unauthenticated)?;
                payload
            }
        };
        Ok(Some((payload, 4 + len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(secret: Option<&str>) -> FrameCodec {
        FrameCodec {
            limit: 1024,
            secret: secret.map(|s| s.as_bytes().to_vec()),
        }
    }

    async fn round_trip(
        write: &FrameCodec,
        read: &FrameCodec,
        payload: &[u8],
    ) -> Result<Option<(Vec<u8>, usize)>, FrameError> {
        let mut wire = Vec::new();
        write.write(&mut wire, payload).await?;
        read.read(&mut wire.as_slice()).await
    }

    #[tokio::test]
    async fn frames_round_trip_with_and_without_a_secret() {
        for secret in [None, Some("s3cret")] {
            let c = codec(secret);
            let (payload, size) = round_trip(&c, &c, b"hello")
                .await
                .expect("ok")
                .expect("a frame");
            assert_eq!(payload, b"hello");
            assert_eq!(size, 4 + 5 + if secret.is_some() { TAG_LEN } else { 0 });
        }
        assert!(
            codec(None)
                .read(&mut &b""[..])
                .await
                .expect("clean end")
                .is_none()
        );
    }

    #[tokio::test]
    async fn wrong_or_missing_secrets_are_refused() {
        let err = round_trip(&codec(Some("a")), &codec(Some("b")), b"hello")
            .await
            .expect_err("wrong key");
        assert!(matches!(err, FrameError::Unauthenticated));
        let err = round_trip(
            &codec(None),
            &codec(Some("b")),
            b"a longer payload than one tag.....",
        )
        .await
        .expect_err("no tag");
        assert!(matches!(err, FrameError::Unauthenticated));
    }

    #[tokio::test]
    async fn oversized_and_truncated_frames_are_refused() {
        let mut wire = (1_000_000u32).to_be_bytes().to_vec();
        wire.extend_from_slice(b"whatever");
        let err = codec(None)
            .read(&mut wire.as_slice())
            .await
            .expect_err("too large");
        assert!(matches!(
            err,
            FrameError::TooLarge {
                len: 1_000_000,
                limit: 1024
            }
        ));
        let err = codec(None)
            .write(&mut Vec::new(), &[0u8; 2000])
            .await
            .expect_err("too large to send");
        assert!(matches!(err, FrameError::TooLarge { .. }));
        let mut short = 10u32.to_be_bytes().to_vec();
        short.extend_from_slice(b"abc");
        assert!(matches!(
            codec(None).read(&mut short.as_slice()).await,
            Err(FrameError::Io(_))
        ));
    }
}
