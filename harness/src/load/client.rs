//! A keep-alive HTTP/1.1 client for one virtual user: bound to its own loopback source address
//! (so `ip-hash` and nginx see distinct clients), carrying a cookie jar, and doing its I/O
//! inline on its own task (the same exchange code as the load balancer's).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hyper::Method;
use hyper::header::{COOKIE, HOST, HeaderMap, HeaderValue, SET_COOKIE};
use sessionbench_targets::http1::Conn;
use tokio::net::TcpSocket;

use crate::protocol::{Call, Reply};

/// Largest answer read; session views with large padding stay far below.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// `127.A.B.1` for user `i`: distinct in the second and third octets, which nginx's `ip_hash`
/// needs (it hashes only the first three), and all local on Linux.
pub fn source_address(i: u64) -> IpAddr {
    let a = 1 + (i / 250) % 254;
    let b = 1 + i % 250;
    IpAddr::V4(Ipv4Addr::new(127, a as u8, b as u8, 1))
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// No connection could be made: certainly not sent.
    Connect,
    /// Writing the request failed: the peer had closed the connection, nothing was processed.
    NotSent,
    /// Sent, but the connection broke before an answer: may have been applied.
    Broken,
}

#[derive(Debug)]
pub struct Client {
    source: IpAddr,
    target: SocketAddr,
    conn: Option<Conn>,
    /// Host and cookies, rebuilt only when the jar changes.
    headers: HeaderMap,
    jar: BTreeMap<String, String>,
}

impl Client {
    pub fn new(source: IpAddr, target: SocketAddr) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            HOST,
            HeaderValue::try_from(target.to_string()).expect("an address is a valid header value"),
        );
        Self {
            source,
            target,
            conn: None,
            headers,
            jar: BTreeMap::new(),
        }
    }

    async fn connect(&self) -> std::io::Result<Conn> {
        let socket = if self.target.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if self.source.is_ipv4() == self.target.is_ipv4() {
            socket.bind(SocketAddr::new(self.source, 0))?;
        }
        let stream = socket.connect(self.target).await?;
        stream.set_nodelay(true)?;
        Ok(Conn::new(stream))
    }

    /// The cookies the user holds.
    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.jar.clone()
    }

    /// Replaces the jar (e.g. to replay a logged-out cookie).
    pub fn set_cookies(&mut self, jar: BTreeMap<String, String>) {
        self.jar = jar;
        self.sync_cookie_header();
    }

    fn sync_cookie_header(&mut self) {
        let line: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match HeaderValue::try_from(line.join("; ")) {
            Ok(v) if !self.jar.is_empty() => {
                self.headers.insert(COOKIE, v);
            }
            _ => {
                self.headers.remove(COOKIE);
            }
        }
    }

    /// Sends one request with an optional JSON body (probes, metrics, admin calls).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, SendFailure> {
        let call = Call::new(method, path.to_string());
        let call = match body {
            Some(v) => call.json(v),
            None => call,
        };
        self.call(&call).await
    }

    /// Whether the jar holds a cookie called `name`.
    pub fn has_cookie(&self, name: &str) -> bool {
        self.jar.contains_key(name)
    }

    /// Sends one request on the user's connection (opening one if needed), following cookies.
    pub async fn call(&mut self, call: &Call) -> Result<Reply, SendFailure> {
        if self.conn.as_ref().is_some_and(|c| !c.is_open()) {
            self.conn = None;
        }
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await.map_err(|_| SendFailure::Connect)?,
        };
        // The call's headers join the user's for this request only (one may replace `Host`).
        let replaced: Vec<_> = call
            .headers
            .iter()
            .map(|(name, value)| (name, self.headers.insert(name.clone(), value.clone())))
            .collect();
        let sent = conn
            .send(&call.method, &call.path, &self.headers, &call.body)
            .await;
        // Backwards, so a header the call set twice ends as it began.
        for (name, before) in replaced.into_iter().rev() {
            match before {
                Some(v) => self.headers.insert(name.clone(), v),
                None => self.headers.remove(name),
            };
        }
        sent.map_err(|_| SendFailure::NotSent)?;
        let answer = conn
            .receive(&call.method, MAX_RESPONSE)
            .await
            .map_err(|_| SendFailure::Broken)?;
        if answer.reusable {
            self.conn = Some(conn);
        }
        let mut jar_changed = false;
        for set_cookie in answer.headers.get_all(SET_COOKIE) {
            if let Ok(text) = set_cookie.to_str() {
                jar_changed |= self.store_cookie(text);
            }
        }
        if jar_changed {
            self.sync_cookie_header();
        }
        Ok(Reply {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
        })
    }

    fn store_cookie(&mut self, set_cookie: &str) -> bool {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
            return false;
        };
        if parts.any(|a| a.trim().eq_ignore_ascii_case("Max-Age=0")) {
            self.jar.remove(name).is_some()
        } else {
            self.jar
                .insert(name.to_string(), value.to_string())
                .as_deref()
                != Some(value)
        }
    }

    /// Drops the connection, e.g. after a timeout left it in an unknown state.
    pub fn disconnect(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use hyper::header::CONTENT_TYPE;

    use super::*;

    /// A server that answers each request with its head, on one keep-alive connection.
    async fn echo_heads(listener: tokio::net::TcpListener) {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let body_len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |n| n.trim().parse::<usize>().expect("length"));
                if buf.len() < end + 4 + body_len {
                    break;
                }
                buf.drain(..end + 4 + body_len);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{head}",
                    head.len()
                );
                stream.write_all(answer.as_bytes()).await.expect("write");
            }
            let n = stream.read(&mut chunk).await.expect("read");
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    #[tokio::test]
    async fn a_calls_headers_go_with_it_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(echo_heads(listener));
        let mut client = Client::new(IpAddr::from([127, 0, 0, 1]), addr);
        let head = |r: Reply| String::from_utf8(r.body.to_vec()).expect("utf-8");
        let mut call = Call::new(Method::POST, "/a").json(&serde_json::json!({ "x": 1 }));
        // Set twice (the JSON body's type, then the suite's), and the host replaced.
        call.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("text/plain")));
        call.headers
            .push((HOST, HeaderValue::from_static("shop.test")));
        let first = head(client.call(&call).await.expect("answer"));
        assert!(first.contains("content-type: text/plain"), "{first}");
        assert!(first.contains("host: shop.test"), "{first}");
        let second = head(client.send(Method::GET, "/b", None).await.expect("answer"));
        assert!(!second.contains("content-type"), "{second}");
        assert!(second.contains(&format!("host: {addr}")), "{second}");
    }
}
