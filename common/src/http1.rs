//! The client side of an HTTP/1.1 exchange, done inline on one keep-alive connection: write the
//! request, read and frame the response. The load balancer uses it towards its backends and
//! the load driver towards the target.
//!
//! hyper's client runs every connection as a task of its own and hands requests and responses
//! to it through channels; for small requests that hand-off cost more CPU per request than nginx
//! spends in all (docs/benchmarks.md). Here the caller's own task does the I/O. Responses are
//! read whole (nginx's `proxy_buffering on`), so a connection is free as soon as its answer is in.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most header bytes a response may have; more is an error, not a reason to grow forever.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// A backend's answer, read to its end.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The connection can carry another request.
    pub reusable: bool,
}

/// Why reading an answer failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The connection closed before a single byte of the answer: on a reused connection this
    /// is the keep-alive race (the backend closed it while idle), and the request was not
    /// processed by a live server.
    #[error("connection closed before the response")]
    ClosedEarly,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
}

/// One keep-alive connection to a backend, with its buffers kept across requests: over TCP,
/// or over any stream (the load driver's TLS).
#[derive(Debug)]
pub struct Conn<S = TcpStream> {
    stream: S,
    read: BytesMut,
    write: Vec<u8>,
}

impl Conn<TcpStream> {
    /// Whether an idle connection still looks open. An idle HTTP/1 connection has nothing to
    /// read, so any read readiness means the peer closed it (or sent garbage). Answered from the
    /// reactor's state, without a system call.
    pub fn is_open(&self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        self.stream.poll_read_ready(&mut cx).is_pending()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            read: BytesMut::with_capacity(8 * 1024),
            write: Vec::with_capacity(1024),
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Writes the request in one system call (head and body together).
    pub async fn send(
        &mut self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> std::io::Result<()> {
        let w = &mut self.write;
        w.clear();
        w.extend_from_slice(method.as_str().as_bytes());
        w.push(b' ');
        w.extend_from_slice(path.as_bytes());
        w.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers {
            if name != header::CONTENT_LENGTH {
                w.extend_from_slice(name.as_str().as_bytes());
                w.extend_from_slice(b": ");
                w.extend_from_slice(value.as_bytes());
                w.extend_from_slice(b"\r\n");
            }
        }
        if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            w.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(body);
        self.stream.write_all(&self.write).await?;
        // A TLS stream may keep the last records until flushed; for TCP this does nothing.
        self.stream.flush().await
    }

    /// Reads more bytes; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.read.capacity() - self.read.len() < 4096 {
            self.read.reserve(8 * 1024);
        }
        self.stream.read_buf(&mut self.read).await
    }

    /// Reads one answer to a request made with `method`, skipping interim (1xx) responses.
    pub async fn receive(&mut self, method: &Method, limit: usize) -> Result<Answer, ReadError> {
        let mut received_any = !self.read.is_empty();
        let (status, version, headers) = loop {
            match parse_head(&self.read)? {
                Some((consumed, status, version, headers)) => {
                    self.read.advance(consumed);
                    if status.is_informational() {
                        if status == StatusCode::SWITCHING_PROTOCOLS {
                            return Err(ReadError::Malformed(
                                "protocol upgrades are not proxied".into(),
                            ));
                        }
                        continue;
                    }
                    break (status, version, headers);
                }
                None if self.read.len() > MAX_HEAD => {
                    return Err(ReadError::Malformed(format!(
                        "head longer than {MAX_HEAD} bytes"
                    )));
                }
                None => {
                    if self.fill().await? == 0 {
                        return Err(if received_any {
                            ReadError::Malformed("connection closed inside the head".into())
                        } else {
                            ReadError::ClosedEarly
                        });
                    }
                    received_any = true;
                }
            }
        };
        let mut reusable = keeps_alive(version, &headers);
        let no_body = *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let body = if no_body {
            Bytes::new()
        } else if headers.contains_key(header::TRANSFER_ENCODING) {
            if !is_chunked(&headers) {
                return Err(ReadError::Malformed(
                    "transfer-encoding other than chunked".into(),
                ));
            }
            self.read_chunked(limit).await?
        } else if let Some(length) = content_length(&headers)? {
            if length > limit {
                return Err(ReadError::TooLarge(limit));
            }
            while self.read.len() < length {
                if self.fill().await? == 0 {
                    return Err(ReadError::Malformed(
                        "connection closed inside the body".into(),
                    ));
                }
            }
            self.read.split_to(length).freeze()
        } else {
            // Neither length nor chunks: the body ends when the connection does.
            reusable = false;
            while self.fill().await? != 0 {
                if self.read.len() > limit {
                    return Err(ReadError::TooLarge(limit));
                }
            }
            self.read.split().freeze()
        };
        // Bytes beyond the answer mean the two ends disagree about framing: never reuse.
        reusable &= self.read.is_empty();
        Ok(Answer {
            status,
            headers,
            body,
            reusable,
        })
    }

    async fn read_chunked(&mut self, limit: usize) -> Result<Bytes, ReadError> {
        let mut body = BytesMut::new();
        loop {
            let line = self.line().await?;
            let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size_text)
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| ReadError::Malformed("bad chunk size".into()))?;
            if size == 0 {
                // Trailers, then the empty line that ends the message.
                while !self.line().await?.is_empty() {}
                return Ok(body.freeze());
            }
            if body.len() + size > limit {
                return Err(ReadError::TooLarge(limit));
            }
            while self.read.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err(ReadError::Malformed(
                        "connection closed inside a chunk".into(),
                    ));
                }
            }
            body.extend_from_slice(&self.read[..size]);
            if &self.read[size..size + 2] != b"\r\n" {
                return Err(ReadError::Malformed("chunk not followed by CRLF".into()));
            }
            self.read.advance(size + 2);
        }
    }

    /// The next CRLF-terminated line, without its CRLF.
    async fn line(&mut self) -> Result<Bytes, ReadError> {
        loop {
            if let Some(end) = self.read.windows(2).position(|w| w == b"\r\n") {
                let line = self.read.split_to(end).freeze();
                self.read.advance(2);
                return Ok(line);
            }
            if self.read.len() > MAX_HEAD {
                return Err(ReadError::Malformed("line too long".into()));
            }
            if self.fill().await? == 0 {
                return Err(ReadError::Malformed(
                    "connection closed inside chunked framing".into(),
                ));
            }
        }
    }
}

type Head = (usize, StatusCode, Version, HeaderMap);

/// Parses a response head at the start of `buf`: `None` if more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let consumed = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ReadError::Malformed(e.to_string())),
    };
    let malformed = |what: &str| ReadError::Malformed(what.to_string());
    let status = response
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| malformed("bad status"))?;
    let version = if response.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for h in response.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| malformed("bad header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| malformed("bad header value"))?;
        headers.append(name, value);
    }
    Ok(Some((consumed, status, version, headers)))
}

fn tokens(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
}

fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    if version == Version::HTTP_10 {
        tokens(headers, header::CONNECTION).any(|t| t == "keep-alive")
    } else {
        !tokens(headers, header::CONNECTION).any(|t| t == "close")
    }
}

fn is_chunked(headers: &HeaderMap) -> bool {
    tokens(headers, header::TRANSFER_ENCODING).last().as_deref() == Some("chunked")
}

fn content_length(headers: &HeaderMap) -> Result<Option<usize>, ReadError> {
    let mut found: Option<usize> = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let n = value
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| ReadError::Malformed("bad content-length".into()))?;
        if found.is_some_and(|f| f != n) {
            return Err(ReadError::Malformed(
                "conflicting content-length values".into(),
            ));
        }
        found = Some(n);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A connection whose backend answers `raw` (then closes if `close`), after reading the
    /// request; returns what the backend received too.
    async fn exchange(
        method: Method,
        raw: &'static [u8],
        close: bool,
    ) -> (Result<Answer, ReadError>, Vec<u8>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let backend = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut got = vec![0; 4096];
            let n = s.read(&mut got).await.expect("read");
            got.truncate(n);
            s.write_all(raw).await.expect("write");
            if !close {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            got
        });
        let mut conn = Conn::new(TcpStream::connect(addr).await.expect("connect"));
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("backend"));
        conn.send(&method, "/session?x=1", &headers, b"{}")
            .await
            .expect("send");
        let answer = conn.receive(&method, 1024).await;
        (answer, backend.await.expect("backend"))
    }

    #[tokio::test]
    async fn writes_origin_form_with_length() {
        let (answer, sent) = exchange(
            Method::POST,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            false,
        )
        .await;
        let sent = String::from_utf8(sent).expect("ascii");
        assert_eq!(
            sent,
            "POST /session?x=1 HTTP/1.1\r\nhost: backend\r\ncontent-length: 2\r\n\r\n{}"
        );
        let a = answer.expect("answer");
        assert_eq!(
            (a.status, &a.body[..], a.reusable),
            (StatusCode::OK, &b"ok"[..], true)
        );
    }

    #[tokio::test]
    async fn frames_chunked_interim_and_close_delimited_bodies() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nt: 1\r\n\r\n";
        let a = exchange(Method::GET, raw, false).await.0.expect("answer");
        assert_eq!(
            (a.status, &a.body[..], a.reusable),
            (StatusCode::CREATED, &b"abcde"[..], true)
        );
        let a = exchange(Method::GET, b"HTTP/1.0 200 OK\r\n\r\nuntil close", true)
            .await
            .0
            .expect("answer");
        assert_eq!((&a.body[..], a.reusable), (&b"until close"[..], false));
        let a = exchange(
            Method::HEAD,
            b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n",
            false,
        )
        .await
        .0
        .expect("answer");
        assert_eq!((a.body.len(), a.reusable), (0, true));
        let a = exchange(
            Method::GET,
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            true,
        )
        .await
        .0;
        assert!(!a.expect("answer").reusable);
    }

    #[tokio::test]
    async fn rejects_what_cannot_be_framed_safely() {
        let cases: [(&'static [u8], &str); 5] = [
            (b"", "closed before"),
            (b"HTTP/1.1 200 OK\r\ncontent-len", "inside the head"),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
                "conflicting",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n",
                "larger than 1024",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                "bad chunk size",
            ),
        ];
        for (raw, expected) in cases {
            let error = exchange(Method::GET, raw, true)
                .await
                .0
                .expect_err("must fail");
            assert!(
                error.to_string().contains(expected),
                "{:?}: {error}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
