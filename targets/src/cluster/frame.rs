//! Frames on the replication channel.
//!
//! A connection begins with a handshake (`handshake.rs`): each end's random challenge and
//! name. Each frame is then a 4-byte big-endian length, an 8-byte sequence number, the
//! payload and a tag, sealed with a key derived from the cluster secret, both challenges and
//! who sends to whom: an HMAC-SHA256 tag over sequence and payload, or, encrypted,
//! ChaCha20-Poly1305 with the sequence as nonce. Both seal and open the frame where it lies.
//! A frame captured on another connection fails its tag (the receiver's challenge differs),
//! one reflected to its sender fails it too (it was sealed for another receiver), and one
//! sent again on the same connection fails the sequence check: replays are refused.
//!
//! A frame above the size limit is refused from its length alone; until a connection someone
//! opened to this node has sent one authenticated frame it may declare only
//! [`UNAUTHENTICATED_LIMIT`] bytes, and what a frame declares is allocated only as it
//! arrives, so a peer without the secret holds little memory. A frame once begun must arrive
//! within the frame timeout, and such a connection's hello and first frame within it too.
//! Any refusal closes the connection.

use std::time::Duration;

use ring::aead::{self, CHACHA20_POLY1305, LessSafeKey, UnboundKey};
use ring::hmac;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub use super::error::FrameError;
use super::handshake::Handshake;

/// Length prefix and sequence number.
const HEADER_LEN: usize = 4 + 8;
/// The largest frame a connection may declare before one of its frames authenticated:
/// enough for a `Hello` or a `StateRequest`, little for a peer without the secret to hold.
pub const UNAUTHENTICATED_LIMIT: usize = 4 * 1024;

/// The channel's settings, shared by both ends.
#[derive(Clone)]
pub struct FrameCodec {
    pub limit: usize,
    /// Authenticates frames; `None` only with `--insecure-replication`.
    pub secret: Option<Vec<u8>>,
    /// Encrypt frames too (ChaCha20-Poly1305), so session ids and attributes are not readable
    /// on the wire.
    pub encrypt: bool,
    /// How long a begun frame, and a new connection's first frame, may take to arrive.
    pub timeout: Duration,
}

/// Never shows the secret.
impl std::fmt::Debug for FrameCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCodec")
            .field("limit", &self.limit)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("encrypt", &self.encrypt)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How one direction of one connection seals its frames.
enum Seal {
    None,
    Mac(hmac::Key),
    Aead(Box<LessSafeKey>),
}

impl Seal {
    fn new(codec: &FrameCodec, handshake: &Handshake, from: &str, to: &str) -> Self {
        let Some(secret) = &codec.secret else {
            return Self::None;
        };
        let master = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let key = hmac::sign(&master, &handshake.context(from, to));
        if codec.encrypt {
            let key = UnboundKey::new(&CHACHA20_POLY1305, key.as_ref()).expect("32-byte key");
            Self::Aead(Box::new(LessSafeKey::new(key)))
        } else {
            Self::Mac(hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()))
        }
    }

    fn overhead(&self) -> usize {
        match self {
            Self::None => tag_len(false, false),
            Self::Mac(_) => tag_len(true, false),
            Self::Aead(_) => tag_len(true, true),
        }
    }

    fn nonce(seq: u64) -> aead::Nonce {
        let mut nonce = [0u8; aead::NONCE_LEN];
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        aead::Nonce::assume_unique_for_key(nonce)
    }

    /// Seals `frame` (length, sequence number, payload) where it lies: appends the tag, and
    /// encrypts the payload when encrypting.
    fn seal(&self, seq: u64, frame: &mut Vec<u8>) {
        match self {
            Self::None => {}
            Self::Mac(key) => {
                let tag = hmac::sign(key, &frame[4..]);
                frame.extend_from_slice(tag.as_ref());
            }
            Self::Aead(key) => {
                let tag = key
                    .seal_in_place_separate_tag(
                        Self::nonce(seq),
                        aead::Aad::empty(),
                        &mut frame[HEADER_LEN..],
                    )
                    .expect("a frame is far below ChaCha20-Poly1305's limit");
                frame.extend_from_slice(tag.as_ref());
            }
        }
    }

    /// Opens `body` (sequence number, payload, tag) where it lies; returns where the payload
    /// is, or why the frame is refused.
    fn open(&self, seq: u64, body: &mut [u8]) -> Result<std::ops::Range<usize>, FrameError> {
        let end = body
            .len()
            .checked_sub(self.overhead())
            .filter(|end| *end >= 8)
            .ok_or(FrameError::Unauthenticated)?;
        match self {
            Self::None => {}
            Self::Mac(key) => {
                let (signed, tag) = body.split_at(end);
                hmac::verify(key, signed, tag).map_err(|_| FrameError::Unauthenticated)?;
            }
            Self::Aead(key) => {
                key.open_in_place(Self::nonce(seq), aead::Aad::empty(), &mut body[8..])
                    .map_err(|_| FrameError::Unauthenticated)?;
            }
        }
        Ok(8..end)
    }
}

/// Bytes of a frame's tag: none without a secret, 32 for HMAC-SHA256, 16 for
/// ChaCha20-Poly1305.
fn tag_len(secret: bool, encrypt: bool) -> usize {
    match (secret, encrypt) {
        (false, _) => 0,
        (true, false) => 32,
        (true, true) => CHACHA20_POLY1305.tag_len(),
    }
}

/// Writes one direction of a connection.
pub struct FrameWriter<W = OwnedWriteHalf> {
    out: W,
    seal: Seal,
    seq: u64,
    limit: usize,
}

impl<W> std::fmt::Debug for FrameWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameWriter(next {})", self.seq)
    }
}

/// Reads the other direction.
pub struct FrameReader<R = OwnedReadHalf> {
    input: R,
    seal: Seal,
    seq: u64,
    limit: usize,
    timeout: Duration,
    /// Until a frame has authenticated: when the first must be in.
    first_by: Option<tokio::time::Instant>,
}

impl<R> std::fmt::Debug for FrameReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameReader(next {})", self.seq)
    }
}

impl FrameCodec {
    /// Bytes a frame adds to its payload.
    pub fn overhead(&self) -> usize {
        HEADER_LEN + tag_len(self.secret.is_some(), self.encrypt)
    }

    /// The accepting side, node `me`: sends its hello, reads the connector's, then reads the
    /// connector's frames and writes its own. The hello and the first frame share one
    /// timeout, so a connection that proves nothing is gone within it. Returns the
    /// connector's name too.
    pub async fn accept(
        &self,
        stream: TcpStream,
        me: &str,
    ) -> Result<(FrameReader, FrameWriter, String), FrameError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let challenge = Handshake::challenge();
        let (mut rd, mut wr) = stream.into_split();
        wr.write_all(&Handshake::hello(&challenge, me)?).await?;
        let (theirs, connector) = Handshake::read_hello(&mut rd, me, self.timeout).await?;
        let handshake = Handshake {
            acceptor: me.into(),
            acceptor_challenge: challenge,
            connector: connector.clone(),
            connector_challenge: theirs,
        };
        let (mut r, w) = self.ends(rd, wr, &handshake, false);
        r.first_by = Some(deadline);
        Ok((r, w, connector))
    }

    /// The connecting side, node `me` dialling node `peer`: reads the acceptor's hello (within
    /// the timeout), refuses an end that is not `peer`, then sends its own. Without that
    /// check a process on a down peer's port could answer with a third node's name and relay
    /// between the two: this node's frames for `peer` would be sealed for the third.
    pub async fn connect(
        &self,
        stream: TcpStream,
        me: &str,
        peer: &str,
    ) -> Result<(FrameReader, FrameWriter), FrameError> {
        let (mut rd, mut wr) = stream.into_split();
        let (theirs, acceptor) = Handshake::read_hello(&mut rd, me, self.timeout).await?;
        if acceptor != peer {
            return Err(FrameError::Peer(format!(
                "dialled `{peer}`, and the end that answered calls itself `{acceptor}`"
            )));
        }
        let challenge = Handshake::challenge();
        wr.write_all(&Handshake::hello(&challenge, me)?).await?;
        let handshake = Handshake {
            acceptor,
            acceptor_challenge: theirs,
            connector: me.into(),
            connector_challenge: challenge,
        };
        Ok(self.ends(rd, wr, &handshake, true))
    }

    /// Both ends of a connection after `handshake`, for the side that connected or accepted.
    pub fn ends<R, W>(
        &self,
        input: R,
        out: W,
        handshake: &Handshake,
        connected: bool,
    ) -> (FrameReader<R>, FrameWriter<W>) {
        let (me, them) = if connected {
            (&handshake.connector, &handshake.acceptor)
        } else {
            (&handshake.acceptor, &handshake.connector)
        };
        (
            FrameReader {
                input,
                seal: Seal::new(self, handshake, them, me),
                seq: 0,
                limit: self.limit,
                timeout: self.timeout,
                // Only a connection someone else opened must prove itself: the connecting side
                // chose its peer, and may wait long for an ack or a state (asynchronous
                // replication sends no acks at all).
                first_by: (!connected).then(|| tokio::time::Instant::now() + self.timeout),
            },
            FrameWriter {
                out,
                seal: Seal::new(self, handshake, me, them),
                seq: 0,
                limit: self.limit,
            },
        )
    }
}

impl<W> FrameWriter<W> {
    /// What it wrote to (a capture, in tests).
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Writes one frame (in one write, so frames never interleave); returns its size.
    pub async fn write(&mut self, payload: &[u8]) -> Result<usize, FrameError> {
        let body_len = 8 + self.seal.overhead() + payload.len();
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
        frame.extend_from_slice(&self.seq.to_be_bytes());
        frame.extend_from_slice(payload);
        self.seal.seal(self.seq, &mut frame);
        self.seq += 1;
        self.out.write_all(&frame).await?;
        Ok(frame.len())
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads one frame and returns its payload and its size on the wire; `Ok(None)` at a clean
    /// end of stream between frames.
    pub async fn read(&mut self) -> Result<Option<(Vec<u8>, usize)>, FrameError> {
        let mut len = [0u8; 4];
        let first_by = self.first_by;
        let header = async {
            match first_by {
                Some(at) => tokio::time::timeout_at(at, self.input.read_exact(&mut len))
                    .await
                    .map_err(|_| FrameError::Slow(self.timeout))?,
                None => self.input.read_exact(&mut len).await,
            }
            .map_err(FrameError::from)
        };
        match header.await {
            Ok(_) => {}
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(len) as usize;
        let limit = if self.first_by.is_some() {
            self.limit.min(UNAUTHENTICATED_LIMIT)
        } else {
            self.limit
        };
        if len > limit {
            return Err(FrameError::TooLarge { len, limit });
        }
        if len < 8 {
            return Err(FrameError::Unauthenticated);
        }
        // Grows as bytes arrive: a length alone allocates nothing.
        let mut body = Vec::new();
        let deadline = first_by.unwrap_or_else(|| tokio::time::Instant::now() + self.timeout);
        let mut rest = (&mut self.input).take(len as u64);
        tokio::time::timeout_at(deadline, rest.read_to_end(&mut body))
            .await
            .map_err(|_| FrameError::Slow(self.timeout))??;
        if body.len() < len {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        let seq = u64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
        let payload = self.seal.open(seq, &mut body)?;
        body.truncate(payload.end);
        body.drain(..payload.start);
        if seq != self.seq {
            return Err(FrameError::OutOfOrder {
                seq,
                expected: self.seq,
            });
        }
        self.seq += 1;
        self.first_by = None;
        Ok(Some((body, 4 + len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::handshake::CHALLENGE_LEN;

    fn codec(secret: Option<&str>, encrypt: bool) -> FrameCodec {
        FrameCodec {
            limit: 1024,
            secret: secret.map(|s| s.as_bytes().to_vec()),
            encrypt,
            timeout: Duration::from_secs(5),
        }
    }

    /// node2 connected to node1; node1's challenge is `acceptor`'s.
    fn handshake(acceptor: u8) -> Handshake {
        Handshake {
            acceptor: "node1".into(),
            acceptor_challenge: [acceptor; CHALLENGE_LEN],
            connector: "node2".into(),
            connector_challenge: [7; CHALLENGE_LEN],
        }
    }

    /// What `write` puts on the wire, as the connecting side.
    async fn frames(c: &FrameCodec, handshake: &Handshake, payloads: &[&[u8]]) -> Vec<u8> {
        let (_, mut w) = c.ends(&b""[..], Vec::new(), handshake, true);
        for p in payloads {
            w.write(p).await.expect("written");
        }
        w.out
    }

    /// Reads every frame of `wire` as the accepting side.
    async fn read_all(c: &FrameCodec, wire: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let (mut r, _) = c.ends(wire, Vec::<u8>::new(), &handshake(3), false);
        let mut out = Vec::new();
        while let Some((p, _)) = r.read().await? {
            out.push(p);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn frames_round_trip_plain_authenticated_and_encrypted() {
        for (secret, encrypt) in [
            (None, false),
            (Some("s3cret"), false),
            (Some("s3cret"), true),
        ] {
            let c = codec(secret, encrypt);
            let wire = frames(&c, &handshake(3), &[b"hello", b"again"]).await;
            assert_eq!(wire.len(), 2 * (c.overhead() + 5));
            assert_eq!(
                read_all(&c, &wire).await.expect("read"),
                [b"hello".to_vec(), b"again".to_vec()]
            );
            let readable = wire.windows(5).any(|w| w == b"hello");
            assert_eq!(readable, !encrypt, "encrypted frames hide the payload");
        }
    }

    #[tokio::test]
    async fn wrong_or_missing_secrets_and_other_connections_frames_are_refused() {
        let wire = frames(&codec(Some("a"), false), &handshake(3), &[b"hello"]).await;
        let err = read_all(&codec(Some("b"), false), &wire)
            .await
            .expect_err("wrong key");
        assert!(matches!(err, FrameError::Unauthenticated));
        let wire = frames(
            &codec(None, false),
            &handshake(3),
            &[b"a payload longer than a tag, so it cannot pass as one"],
        )
        .await;
        let err = read_all(&codec(Some("b"), false), &wire)
            .await
            .expect_err("no tag");
        assert!(matches!(err, FrameError::Unauthenticated));
        // A frame sealed for another connection's challenge: a replay from a capture.
        for encrypt in [false, true] {
            let c = codec(Some("a"), encrypt);
            let wire = frames(&c, &handshake(9), &[b"hello"]).await;
            let err = read_all(&c, &wire).await.expect_err("another challenge");
            assert!(matches!(err, FrameError::Unauthenticated), "{err}");
        }
    }

    /// A node's own frames sent back to it (a process on a down peer's port that relays what
    /// the node sends into a connection to the node, with the challenges matched), or a
    /// frame read the other way on its connection: sealed for another receiver, refused.
    #[tokio::test]
    async fn a_frame_reflected_to_its_sender_or_read_the_other_way_is_refused() {
        for encrypt in [false, true] {
            let c = codec(Some("a"), encrypt);
            let h = handshake(3);
            // node1 accepted node2 and writes to it; the same bytes read by node1 as frames
            // from node2.
            let (_, mut w) = c.ends(&b""[..], Vec::new(), &h, false);
            w.write(b"create").await.expect("written");
            let (mut r, _) = c.ends(&w.out[..], Vec::<u8>::new(), &h, false);
            let err = r.read().await.expect_err("reflected");
            assert!(matches!(err, FrameError::Unauthenticated), "{err}");
            // node1's frames to node2 on its own connection out, read on one where node2
            // connected to node1 with the same challenges.
            let mirrored = Handshake {
                acceptor: "node2".into(),
                connector: "node1".into(),
                ..h.clone()
            };
            let wire = frames(&c, &mirrored, &[b"create"]).await;
            let err = read_all(&c, &wire).await.expect_err("mirrored");
            assert!(matches!(err, FrameError::Unauthenticated), "{err}");
        }
    }

    #[tokio::test]
    async fn an_end_that_gives_this_nodes_name_or_none_is_refused() {
        let hello = Handshake::hello(&[1; CHALLENGE_LEN], "node1").expect("hello");
        let timeout = Duration::from_secs(1);
        let err = Handshake::read_hello(&mut &hello[..], "node1", timeout)
            .await
            .expect_err("its own name");
        assert!(err.to_string().contains("this node's own name"), "{err}");
        let (challenge, name) = Handshake::read_hello(&mut &hello[..], "node2", timeout)
            .await
            .expect("another's");
        assert_eq!((challenge, name.as_str()), ([1; CHALLENGE_LEN], "node1"));
        let mut nameless = vec![1; CHALLENGE_LEN];
        nameless.push(0);
        let err = Handshake::read_hello(&mut &nameless[..], "node2", timeout)
            .await
            .expect_err("no name");
        assert!(matches!(err, FrameError::Peer(_)), "{err}");
        assert!(Handshake::hello(&[1; CHALLENGE_LEN], "").is_err());
    }

    #[tokio::test]
    async fn a_frame_sent_again_on_its_connection_is_refused() {
        let c = codec(Some("a"), false);
        let wire = frames(&c, &handshake(3), &[b"create"]).await;
        let twice = [wire.clone(), wire].concat();
        let (mut r, _) = c.ends(&twice[..], Vec::<u8>::new(), &handshake(3), false);
        assert_eq!(r.read().await.expect("first").expect("frame").0, b"create");
        let err = r.read().await.expect_err("replayed");
        assert!(
            matches!(
                err,
                FrameError::OutOfOrder {
                    seq: 0,
                    expected: 1
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn oversized_truncated_and_unauthenticated_large_frames_are_refused() {
        let mut wire = 1_000_000u32.to_be_bytes().to_vec();
        wire.extend_from_slice(b"whatever");
        let mut c = codec(None, false);
        c.limit = 2_000_000;
        let err = read_all(&c, &wire)
            .await
            .expect_err("too large before authenticating");
        assert!(matches!(
            err,
            FrameError::TooLarge {
                len: 1_000_000,
                limit: UNAUTHENTICATED_LIMIT
            }
        ));
        // The side that connected chose its peer: a large first frame (a state) is read.
        let (_, mut w) = c.ends(&b""[..], Vec::new(), &handshake(3), false);
        w.write(&[1u8; 100_000]).await.expect("a state");
        let wire = w.into_inner();
        let (mut r, _) = c.ends(&wire[..], Vec::<u8>::new(), &handshake(3), true);
        assert_eq!(
            r.read().await.expect("read").expect("a frame").0.len(),
            100_000
        );
        let c = codec(None, false);
        let (_, mut w) = c.ends(&b""[..], Vec::new(), &handshake(3), true);
        let err = w.write(&[0u8; 2000]).await.expect_err("too large to send");
        assert!(matches!(err, FrameError::TooLarge { .. }));
        let mut short = 20u32.to_be_bytes().to_vec();
        short.extend_from_slice(b"abc");
        assert!(matches!(read_all(&c, &short).await, Err(FrameError::Io(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_that_never_completes_is_given_up() {
        let c = codec(Some("a"), false);
        let (client, server) = tokio::io::duplex(64);
        let (rd, _server_wr) = tokio::io::split(server);
        let (mut r, _) = c.ends(rd, Vec::<u8>::new(), &handshake(3), false);
        let (_client_rd, mut client_wr) = tokio::io::split(client);
        client_wr
            .write_all(&100u32.to_be_bytes())
            .await
            .expect("length");
        client_wr.write_all(b"partial").await.expect("some");
        let err = r.read().await.expect_err("slow");
        assert!(matches!(err, FrameError::Slow(_)), "{err}");
    }
    #[tokio::test]
    async fn a_dial_answered_by_another_node_than_the_one_dialled_is_refused() {
        let c = codec(Some("s3cret"), false);
        for (answer, refused) in [("node3", true), ("node2", false)] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let acceptor = {
                let c = c.clone();
                tokio::spawn(async move {
                    let (stream, _) = listener.accept().await.expect("accept");
                    c.accept(stream, answer).await.map(|(_, _, peer)| peer)
                })
            };
            let stream = TcpStream::connect(addr).await.expect("connect");
            let dialled = c.connect(stream, "node1", "node2").await;
            assert_eq!(
                matches!(dialled, Err(FrameError::Peer(_))),
                refused,
                "{answer}: {:?}",
                dialled.err()
            );
            let accepted = acceptor.await.expect("the acceptor");
            assert_eq!(accepted.is_ok(), !refused, "{answer}: {accepted:?}");
        }
    }
}
