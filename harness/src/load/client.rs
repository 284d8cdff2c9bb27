//! A keep-alive HTTP/1.1 client for one virtual user: its own connection (plain or TLS), its
//! own cookie jar, and its own address: on loopback a source address of its own (so `ip-hash`
//! and nginx see distinct clients), or a forwarded-address header. Its I/O is done inline on
//! its own task (the same exchange code as the load balancer's).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use hyper::Method;
use hyper::header::{COOKIE, HOST, HeaderMap, HeaderName, HeaderValue, SET_COOKIE};
use sessionbench_common::http1::Conn;
use tokio::net::TcpSocket;

use super::jar::Jar;
use super::tls::{Stream, Tls};
use crate::protocol::{Call, Reply};
use sessionbench_model::plan::{ClientAddress, ExternalPlan, TargetUrl, TlsPlan};

/// Largest answer read; session views with large padding stay far below.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// `127.A.B.1` for user `i`: distinct in the second and third octets, which nginx's `ip_hash`
/// needs (it hashes only the first three), and all local on Linux.
pub fn source_address(i: u64) -> IpAddr {
    let [_, a, b, d] = user_octets(i);
    IpAddr::V4(Ipv4Addr::new(127, a, b, d))
}

/// `198.18.A.B` for user `i`, sent only as a header (`client-address`): the benchmarking
/// range (RFC 2544), so no proxy mistakes it for one of its own internal addresses.
pub fn forwarded_address(i: u64) -> IpAddr {
    let [_, a, b, _] = user_octets(i);
    IpAddr::V4(Ipv4Addr::new(198, 18 + (a & 1), b, a / 2 + 1))
}

fn user_octets(i: u64) -> [u8; 4] {
    let a = 1 + (i / 250) % 254;
    let b = 1 + i % 250;
    [127, a as u8, b as u8, 1]
}

/// Addresses of this host the users take in turn, instead of `127.A.B.1`: with
/// `network = "netns"`, those routed to the driver's side of the run's bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRange {
    pub first: Ipv4Addr,
    pub count: u8,
}

impl ClientRange {
    fn of(&self, user: u64) -> IpAddr {
        let offset = (user % u64::from(self.count.max(1))) as u32;
        IpAddr::V4(Ipv4Addr::from(u32::from(self.first) + offset))
    }
}

/// Where a target's users connect, and how: the address, the host they ask for (`Host`, SNI,
/// the jar's domain), TLS, and how their own address is shown.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    host: String,
    authority: HeaderValue,
    tls: Option<Tls>,
    client_address: ClientAddress,
    clients: Option<ClientRange>,
}

impl Endpoint {
    /// A process the harness runs: plain HTTP on loopback.
    pub fn plain(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: addr.ip().to_string(),
            authority: HeaderValue::try_from(addr.to_string())
                .expect("an address is a valid header value"),
            tls: None,
            client_address: ClientAddress::Source,
            clients: None,
        }
    }

    /// The same endpoint, its users connecting from `clients`.
    pub fn from_clients(self, clients: ClientRange) -> Self {
        Self {
            clients: Some(clients),
            ..self
        }
    }

    /// `url`, over TLS with `tls` for `https://`.
    pub fn new(url: &TargetUrl, tls: Option<&TlsPlan>) -> Result<Self, String> {
        let tls = if url.is_https() {
            Some(Tls::new(tls.unwrap_or(&TlsPlan::default()), &url.host)?)
        } else {
            None
        };
        Ok(Self {
            addr: url.addr,
            host: url.host.clone(),
            authority: HeaderValue::try_from(url.authority())
                .map_err(|_| format!("`{}` is not a valid Host header", url.authority()))?,
            tls,
            client_address: ClientAddress::Source,
            clients: None,
        })
    }

    /// An external target's entry.
    pub fn external(e: &ExternalPlan) -> Result<Self, String> {
        Ok(Self {
            client_address: e.client_address,
            ..Self::new(&e.url, e.tls.as_ref())?
        })
    }

    pub fn is_https(&self) -> bool {
        self.tls.is_some()
    }

    /// The path a redirect's `Location` leads to, if it stays on this endpoint (same scheme
    /// and authority); relative ones are resolved against `current`.
    pub fn local_path(&self, location: &str, current: &str) -> Result<String, String> {
        let (scheme, default_port) = if self.is_https() {
            ("https:", 443)
        } else {
            ("http:", 80)
        };
        let elsewhere = || {
            format!("a redirect to `{location}`, off the target (only its own host is followed)")
        };
        let rest = if let Some(rest) = location.strip_prefix("//") {
            Some(rest)
        } else if let Some(after) = location.strip_prefix(scheme) {
            Some(after.strip_prefix("//").ok_or_else(elsewhere)?)
        } else if location.contains("://") {
            return Err(elsewhere());
        } else {
            None
        };
        let Some(rest) = rest else {
            if location.starts_with('/') {
                return Ok(location.to_string());
            }
            let dir = current.split('?').next().unwrap_or("/");
            let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
            return Ok(format!(
                "{}{location}",
                if dir.is_empty() { "/" } else { dir }
            ));
        };
        let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let ours = self.authority.to_str().unwrap_or_default();
        let with_port = format!("{}:{default_port}", ours);
        if !(authority.eq_ignore_ascii_case(ours) || authority.eq_ignore_ascii_case(&with_port)) {
            return Err(elsewhere());
        }
        Ok(if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        })
    }

    /// Opens a connection (and makes the TLS handshake): the check before a run that the
    /// target can be reached and its certificate is trusted.
    pub async fn reach(&self) -> Result<(), SendFailure> {
        let source = IpAddr::from([127, 0, 0, 1]);
        Client::to(Arc::new(self.clone()), source, None)
            .connect()
            .await
            .map(drop)
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// No connection could be made: certainly not sent.
    Connect,
    /// TLS refused the connection (why, and what to do): certainly not sent, and trying
    /// again will not help.
    Tls(String),
    /// Writing the request failed: the peer had closed the connection, nothing was processed.
    NotSent,
    /// Sent, but the connection broke before an answer: may have been applied.
    Broken,
}

#[derive(Debug)]
pub struct Client {
    source: IpAddr,
    endpoint: Arc<Endpoint>,
    conn: Option<Conn<Stream>>,
    /// Host, the forwarded address, and the `Cookie` header while it is the same for every
    /// path (made once per change of the jar); the call's own headers join them per request.
    headers: HeaderMap,
    jar: Jar,
    /// How many answers have changed the jar: an operation's story says whether its did.
    jar_changes: u64,
}

impl Client {
    /// A client of a process on loopback, from `source`.
    pub fn new(source: IpAddr, target: SocketAddr) -> Self {
        Self::to(Arc::new(Endpoint::plain(target)), source, None)
    }

    /// User `user`'s client of `endpoint`.
    pub fn for_user(endpoint: Arc<Endpoint>, user: u64) -> Self {
        let header = match endpoint.client_address {
            ClientAddress::Source => None,
            ClientAddress::XForwardedFor => Some((
                HeaderName::from_static("x-forwarded-for"),
                forwarded_address(user).to_string(),
            )),
            ClientAddress::Forwarded => Some((
                HeaderName::from_static("forwarded"),
                format!("for={}", forwarded_address(user)),
            )),
        };
        let source = match endpoint.clients {
            Some(range) => range.of(user),
            None => source_address(user),
        };
        Self::to(endpoint, source, header)
    }

    fn to(endpoint: Arc<Endpoint>, source: IpAddr, address: Option<(HeaderName, String)>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, endpoint.authority.clone());
        if let Some((name, value)) = address {
            headers.insert(
                name,
                HeaderValue::try_from(value).expect("an address is a valid header value"),
            );
        }
        Self {
            source,
            jar: Jar::new(&endpoint.host, endpoint.is_https()),
            endpoint,
            conn: None,
            headers,
            jar_changes: 0,
        }
    }

    async fn connect(&self) -> Result<Conn<Stream>, SendFailure> {
        let target = self.endpoint.addr;
        let socket = if target.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|_| SendFailure::Connect)?;
        // A source of its own only where it can be one: on loopback, to loopback, or from
        // the clients' range of a run's own bridge.
        let local = target.ip().is_loopback() || self.endpoint.clients.is_some();
        if local && self.source.is_ipv4() == target.is_ipv4() {
            socket
                .bind(SocketAddr::new(self.source, 0))
                .map_err(|_| SendFailure::Connect)?;
        }
        let tcp = socket
            .connect(target)
            .await
            .map_err(|_| SendFailure::Connect)?;
        tcp.set_nodelay(true).map_err(|_| SendFailure::Connect)?;
        let stream = match &self.endpoint.tls {
            None => Stream::Plain(tcp),
            Some(tls) => tls
                .connect(tcp)
                .await
                .map_err(|why| why.map_or(SendFailure::Connect, SendFailure::Tls))?,
        };
        Ok(Conn::new(stream))
    }

    /// The cookies the user holds.
    pub fn jar(&self) -> Jar {
        self.jar.clone()
    }

    /// Replaces the jar (e.g. to replay a logged-out cookie).
    pub fn set_jar(&mut self, jar: Jar) {
        self.jar = jar;
        self.jar_changed();
    }

    /// Keeps the `Cookie` header among the user's own while every path gets the same one
    /// (the fast path: nothing to make per request); otherwise each call makes its own.
    fn jar_changed(&mut self) {
        let line = if self.jar.uniform() {
            self.jar
                .header("/", SystemTime::now())
                .and_then(|line| HeaderValue::try_from(line).ok())
        } else {
            None
        };
        match line {
            Some(v) => self.headers.insert(COOKIE, v),
            None => self.headers.remove(COOKIE),
        };
    }

    /// How many answers have changed the user's cookies so far.
    pub fn jar_changes(&self) -> u64 {
        self.jar_changes
    }

    /// The value of the user's cookie `name`, if it holds one.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name, SystemTime::now())
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

    /// Sends one request on the user's connection (opening one if needed), following cookies.
    pub async fn call(&mut self, call: &Call) -> Result<Reply, SendFailure> {
        if self
            .conn
            .as_ref()
            .is_some_and(|c| !idle_and_open(c.stream()))
        {
            self.conn = None;
        }
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        // Cookies that depend on the path, made for this one.
        let cookies = if self.jar.uniform() {
            None
        } else {
            self.jar
                .header(&call.path, SystemTime::now())
                .and_then(|line| HeaderValue::try_from(line).ok())
        };
        // The call's headers (and such cookies) join the user's for this request only (one
        // may replace `Host`).
        let replaced: Vec<_> = cookies
            .map(|v| (&COOKIE, v))
            .into_iter()
            .chain(call.headers.iter().map(|(n, v)| (n, v.clone())))
            .map(|(name, value)| (name, self.headers.insert(name.clone(), value)))
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
        let now = SystemTime::now();
        for set_cookie in answer.headers.get_all(SET_COOKIE) {
            if let Ok(text) = set_cookie.to_str() {
                jar_changed |= self.jar.store(text, &call.path, now);
            }
        }
        if jar_changed {
            self.jar_changes += 1;
            self.jar_changed();
        }
        Ok(Reply {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
        })
    }

    /// Drops the connection, e.g. after a timeout left it in an unknown state.
    pub fn disconnect(&mut self) {
        self.conn = None;
    }
}

/// Whether an idle connection still looks open. An idle HTTP/1 connection has nothing to read,
/// so any read readiness means the peer closed it (or sent garbage, or a TLS alert). Answered
/// from the reactor's state, without a system call.
fn idle_and_open(stream: &Stream) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    stream.tcp().poll_read_ready(&mut cx).is_pending()
}

#[cfg(test)]
pub(super) mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use hyper::header::CONTENT_TYPE;

    use super::*;

    /// A server that answers each request with its head, on the first connection only (so a
    /// second connection would go unanswered), setting a `Secure` cookie.
    async fn echo_heads(listener: tokio::net::TcpListener) {
        let (stream, _) = listener.accept().await.expect("accept");
        echo_on(stream).await;
    }

    /// Answers each request on `stream` with its head, setting a `Secure` cookie.
    pub(in crate::load) async fn echo_on<S>(mut stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
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
                    "HTTP/1.1 200 OK\r\nset-cookie: s=1; Secure; Path=/\r\ncontent-length: {}\r\n\r\n{head}",
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

    #[tokio::test]
    async fn a_user_s_address_can_travel_as_a_forwarded_header() {
        for (kind, header) in [
            (ClientAddress::XForwardedFor, "x-forwarded-for: 198.18.4.2"),
            (ClientAddress::Forwarded, "forwarded: for=198.18.4.2"),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(echo_heads(listener));
            let endpoint = Endpoint {
                client_address: kind,
                ..Endpoint::plain(addr)
            };
            let mut client = Client::for_user(Arc::new(endpoint), 253);
            let reply = client.send(Method::GET, "/", None).await.expect("answer");
            let head = String::from_utf8(reply.body.to_vec()).expect("utf-8");
            assert!(head.contains(header), "{head}");
        }
        // Distinct users, distinct addresses, none a real route's.
        let all: std::collections::BTreeSet<IpAddr> = (0..70_000).map(forwarded_address).collect();
        assert_eq!(
            all.len(),
            63_500,
            "every (second, third octet) pair of the loopback sources"
        );
    }

    #[test]
    fn redirects_are_followed_only_on_the_target_s_own_host() {
        let url = sessionbench_model::plan::TargetUrl::parse("http://127.0.0.1:8080/app", false)
            .expect("url");
        let e = Endpoint::new(&url, None).expect("endpoint");
        let local = |l: &str| e.local_path(l, "/app/login?x=1");
        assert_eq!(local("/app/account"), Ok("/app/account".into()));
        assert_eq!(local("account?y=2"), Ok("/app/account?y=2".into()));
        assert_eq!(local("http://127.0.0.1:8080/a"), Ok("/a".into()));
        assert_eq!(local("//127.0.0.1:8080?q"), Ok("/?q".into()));
        for elsewhere in [
            "http://127.0.0.1:9090/a",
            "https://127.0.0.1:8080/a",
            "http://idp.example/login",
            "//evil.test/",
        ] {
            assert!(local(elsewhere).is_err(), "{elsewhere}");
        }
    }
}
