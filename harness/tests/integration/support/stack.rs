//! Starting real processes of this binary, and a small HTTP client with a cookie jar and a
//! chosen loopback source address.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sessionbench_common::readiness::Ready;
use sessionbench_common::secret::CLUSTER_SECRET_ENV;

/// The cluster secret of nodes the tests start (from the environment, as the harness gives it).
pub const TEST_SECRET: &str = "s3cret";
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpSocket;
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_sessionbench");

/// A run's history as JSON lines, as `sessionbench history export` writes it (a history
/// still being written reads up to its last whole block).
pub fn history_text(run_dir: &std::path::Path) -> String {
    try_history_text(run_dir)
        .unwrap_or_else(|e| panic!("history export {}: {e}", run_dir.display()))
}

/// As [`history_text`], or why the export failed (a run that has not written its first
/// block yet has no header to read).
pub fn try_history_text(run_dir: &std::path::Path) -> Result<String, String> {
    let out = std::process::Command::new(BIN)
        .args(["history", "export"])
        .arg(run_dir)
        .output()
        .expect("run sessionbench history export");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8(out.stdout).expect("JSON lines are UTF-8"))
}

/// A running child process of this binary; killed when dropped, so no test leaves one behind.
pub struct Proc {
    child: Child,
    pub ready: Ready,
    pub args: Vec<String>,
}

impl Proc {
    /// Runs `sessionbench ARGS…` and waits for its readiness line.
    pub async fn start(args: &[String]) -> Self {
        let mut command = Command::new(BIN);
        // Clustered nodes need a secret; one started to run without says so.
        if !args.iter().any(|a| a == "--insecure-replication") {
            command.env(CLUSTER_SECRET_ENV, TEST_SECRET);
        }
        let mut child = command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sessionbench");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(ready) = Ready::parse(&line) {
                    return ready;
                }
            }
            panic!("sessionbench {args:?} exited without a readiness line");
        })
        .await
        .unwrap_or_else(|_| panic!("sessionbench {args:?} not ready within 10 s"));
        Self {
            child,
            ready,
            args: args.to_vec(),
        }
    }

    pub async fn node(id: &str, extra: &[&str]) -> Self {
        let mut args = vec!["node".to_string(), "--id".into(), id.into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::start(&args).await
    }

    /// The `--id` it was started with.
    pub fn id(&self) -> &str {
        self.args
            .iter()
            .position(|a| a == "--id")
            .and_then(|i| self.args.get(i + 1))
            .expect("started with --id")
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Sends `signal` (a `kill -s` name) to the process.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// SIGKILL, and wait until the process is gone (its port then refuses connections).
    pub async fn crash(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reap");
    }

    pub async fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{:?} still running after {within:?}", self.args))
            .expect("wait")
    }
}

/// Nodes behind one LB.
pub struct Cluster {
    pub nodes: Vec<Proc>,
    pub lb: Proc,
}

impl Cluster {
    /// `n` nodes (`node1`…) started with `node_args`, and an LB with `lb_args` in front.
    pub async fn start(n: usize, node_args: &[&str], lb_args: &[&str]) -> Self {
        let mut nodes = Vec::new();
        for i in 1..=n {
            nodes.push(Proc::node(&format!("node{i}"), node_args).await);
        }
        let mut args: Vec<String> = vec!["lb".into()];
        for node in &nodes {
            args.push("--backend".into());
            args.push(format!("{}={}", node.ready.id, node.ready.addr));
        }
        args.extend(lb_args.iter().map(|s| s.to_string()));
        let lb = Proc::start(&args).await;
        Self { nodes, lb }
    }

    pub fn addr(&self) -> SocketAddr {
        self.lb.ready.addr
    }

    pub fn admin(&self) -> SocketAddr {
        self.lb
            .ready
            .admin
            .expect("the LB announces its admin address")
    }

    pub fn node_index(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.ready.id == id)
            .expect("known node")
    }
}

/// An answer, with the node that produced it (from the node's response header).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub node: Option<String>,
    pub body: Value,
    pub set_cookies: Vec<String>,
}

/// One user: a keep-alive connection from its own source address, and a cookie jar.
pub struct User {
    source: IpAddr,
    target: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    pub jar: BTreeMap<String, String>,
}

impl User {
    pub fn new(target: SocketAddr) -> Self {
        Self::from(IpAddr::V4(Ipv4Addr::LOCALHOST), target)
    }

    pub fn from(source: IpAddr, target: SocketAddr) -> Self {
        Self {
            source,
            target,
            sender: None,
            jar: BTreeMap::new(),
        }
    }

    async fn connect(&self) -> std::io::Result<SendRequest<Full<Bytes>>> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(self.source, 0))?;
        let stream = socket.connect(self.target).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// Sends one request on the user's connection (opening one if needed), following cookies.
    pub async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("request to {}: {e}", self.target))
    }

    pub async fn try_call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await.map_err(|e| e.to_string())?);
        }
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.target.to_string());
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(COOKIE, cookies.join("; "));
        }
        let payload = match body {
            Some(v) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let sender = self.sender.as_mut().expect("connected above");
        // HTTP/1 takes the next request only once the previous exchange has fully finished.
        let sent = match sender.ready().await {
            Ok(()) => {
                sender
                    .send_request(req.body(Full::new(payload)).expect("request"))
                    .await
            }
            Err(e) => Err(e),
        };
        let response = sent.map_err(|e| {
            self.sender = None;
            e.to_string()
        })?;
        let status = response.status();
        let node = response
            .headers()
            .get("x-sessionbench-node")
            .map(|v| v.to_str().expect("ascii").to_string());
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect();
        for c in &set_cookies {
            self.store_cookie(c);
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            node,
            body,
            set_cookies,
        })
    }

    fn store_cookie(&mut self, set_cookie: &str) {
        let Some((pair, attrs)) = set_cookie.split_once(';').or(Some((set_cookie, ""))) else {
            return;
        };
        let Some((name, value)) = pair.trim().split_once('=') else {
            return;
        };
        if attrs.contains("Max-Age=0") {
            self.jar.remove(name);
        } else {
            self.jar.insert(name.to_string(), value.to_string());
        }
    }

    pub async fn login(&mut self, user: &str) -> Reply {
        let reply = self
            .call(
                Method::POST,
                "/login",
                Some(serde_json::json!({ "user": user })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login: {:?}", reply.body);
        reply
    }

    pub async fn read(&mut self) -> Reply {
        self.call(Method::GET, "/session", None).await
    }
}

/// GET an admin or plain JSON endpoint on a fresh connection.
pub async fn get_json(addr: SocketAddr, path: &str) -> Value {
    User::new(addr).call(Method::GET, path, None).await.body
}

/// Waits up to 5 s for every process whose command line names `run_dir` (nodes, balancers,
/// JVMs, Redis: each names its files there) to be gone, and fails naming those left.
pub fn assert_nothing_left_running(run_dir: &std::path::Path) {
    let waited = std::time::Instant::now();
    loop {
        let ps = std::process::Command::new("pgrep")
            .args(["-af", &run_dir.display().to_string()])
            .output()
            .expect("pgrep");
        let left = String::from_utf8_lossy(&ps.stdout).trim().to_string();
        if left.is_empty() {
            return;
        }
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(5),
            "left running:\n{left}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
