//! How a replication connection begins, before any frame: each end sends a fresh random
//! challenge and its node's name, the accepting end first. Frame keys derive from both
//! challenges and from who sends to whom, so a frame sealed by one node for another verifies
//! nowhere else: not reflected back to its sender (by a process on a down peer's port that
//! relays a node's own frames to it), not on another connection (each end's own challenge
//! differs), not the other way on the same one. An end that names this node is refused.

use std::time::Duration;

use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::FrameError;

/// Each end's random challenge.
pub const CHALLENGE_LEN: usize = 16;

/// Who is at each end of a connection, and the challenge each sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub acceptor: String,
    pub acceptor_challenge: [u8; CHALLENGE_LEN],
    pub connector: String,
    pub connector_challenge: [u8; CHALLENGE_LEN],
}

impl Handshake {
    /// A fresh challenge.
    pub fn challenge() -> [u8; CHALLENGE_LEN] {
        let mut challenge = [0u8; CHALLENGE_LEN];
        rand::rng().fill_bytes(&mut challenge);
        challenge
    }

    /// One end's opening: its challenge, its name's length (one byte) and its name.
    pub fn hello(challenge: &[u8; CHALLENGE_LEN], name: &str) -> Result<Vec<u8>, FrameError> {
        let len = u8::try_from(name.len())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                FrameError::Peer(format!("a node's name is 1 to 255 bytes: `{name}`"))
            })?;
        let mut out = challenge.to_vec();
        out.push(len);
        out.extend_from_slice(name.as_bytes());
        Ok(out)
    }

    /// Reads the other end's hello within `timeout`. An end that gives this node's own name
    /// (`me`) is refused: what it sends would be this node's frames, reflected.
    pub async fn read_hello<R: AsyncRead + Unpin>(
        input: &mut R,
        me: &str,
        timeout: Duration,
    ) -> Result<([u8; CHALLENGE_LEN], String), FrameError> {
        let (challenge, name) = tokio::time::timeout(timeout, async {
            let mut challenge = [0u8; CHALLENGE_LEN];
            input.read_exact(&mut challenge).await?;
            let mut len = [0u8];
            input.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            input.read_exact(&mut name).await?;
            Ok::<_, std::io::Error>((challenge, name))
        })
        .await
        .map_err(|_| FrameError::Slow(timeout))??;
        let name = String::from_utf8(name)
            .ok()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                FrameError::Peer("the other end gave no name, or one not in UTF-8".into())
            })?;
        if name == me {
            return Err(FrameError::Peer(format!(
                "the other end calls itself `{me}`, this node's own name: its frames would be this node's own, reflected"
            )));
        }
        Ok((challenge, name))
    }

    /// What the key of frames from `from` to `to` on this connection derives from (with the
    /// secret): each name after its length, so no two pairs read the same, then both
    /// challenges.
    pub(super) fn context(&self, from: &str, to: &str) -> Vec<u8> {
        let mut context = b"sessionbench replication 2 ".to_vec();
        for name in [from, to] {
            context.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            context.extend_from_slice(name.as_bytes());
        }
        context.extend_from_slice(&self.acceptor_challenge);
        context.extend_from_slice(&self.connector_challenge);
        context
    }
}
