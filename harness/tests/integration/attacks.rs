//! A hostile process on the same machine, written as the attacks: on the replication port (read
//! every session, forge a Create or an Invalidate, make a node connect out, replay a captured
//! frame, hold memory with half-sent frames) and on the HTTP ports (headers or a body that
//! never end, idle connections, a huge declared body, too many connections).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use sessionbench_targets::cluster::{
    Envelope, FrameCodec, FrameReader, FrameWriter, Handshake, Message, wire,
};
use sessionbench_targets::codec::SessionCodec;
use sessionbench_targets::session::{Session, SessionId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cluster::intruder_handshake;
use crate::support::{BIN, Proc, TEST_SECRET, User, get_json};

fn codec(secret: &str) -> FrameCodec {
    FrameCodec {
        limit: 1 << 20,
        secret: Some(secret.as_bytes().to_vec()),
        encrypt: false,
        timeout: Duration::from_secs(5),
    }
}

fn payload(message: Message) -> Vec<u8> {
    let envelope = Envelope {
        from: "intruder".into(),
        seq: 1,
        ack: false,
        message,
    };
    wire::encode(&envelope, &SessionCodec::default())
}

/// A peer's end of a link to `node`, sealed with `secret`.
async fn link(node: &Proc, secret: &str) -> (FrameReader, FrameWriter) {
    let stream = TcpStream::connect(node.ready.cluster.expect("cluster address"))
        .await
        .expect("connect");
    codec(secret)
        .connect(stream, "intruder", node.id())
        .await
        .expect("the handshake")
}

/// Whether the node ended the link without answering.
async fn ended(r: &mut FrameReader) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), r.read()).await,
        Ok(Ok(None) | Err(_))
    )
}

async fn delta(id: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["--store", "delta", "--replication", "sync"];
    args.extend_from_slice(extra);
    Proc::node(id, &args).await
}

/// A user holding session `id` (a cookie it did not get from the node).
fn holder(node: &Proc, id: &SessionId) -> User {
    let mut user = User::new(node.ready.addr);
    user.jar.insert("SESSION".into(), id.to_string());
    user
}

fn forged_session(user: &str) -> Session {
    Session::new(
        SessionId::generate(),
        user.into(),
        Duration::from_secs(1800),
    )
}

#[tokio::test]
async fn without_the_secret_a_local_process_can_neither_read_nor_forge_sessions() {
    let node = delta("node1", &[]).await;
    let mut alice = User::new(node.ready.addr);
    alice.login("alice").await;

    // The dump: a state request answers nothing.
    let trap = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (mut r, mut w) = link(&node, "not the secret").await;
    w.write(&payload(Message::StateRequest {
        node: "intruder".into(),
        cluster: trap.local_addr().expect("addr"),
    }))
    .await
    .expect("sent");
    assert!(
        ended(&mut r).await,
        "no state for a process without the secret"
    );

    // A forged Create is not served; a forged Invalidate does not log alice out.
    let forged = forged_session("mallory");
    let (mut r, mut w) = link(&node, "not the secret").await;
    w.write(&payload(Message::Create {
        session: forged.clone(),
    }))
    .await
    .expect("sent");
    assert!(ended(&mut r).await);
    assert_eq!(
        holder(&node, &forged.id).read().await.status,
        StatusCode::UNAUTHORIZED
    );
    let alice_id = SessionId::parse(alice.jar["SESSION"].as_str()).expect("alice's id");
    let (mut r, mut w) = link(&node, "not the secret").await;
    w.write(&payload(Message::Invalidate { id: alice_id }))
        .await
        .expect("sent");
    assert!(ended(&mut r).await);
    assert_eq!(
        alice.read().await.status,
        StatusCode::OK,
        "alice is still in"
    );

    // A hello does not make the node connect to an address of the sender's choice.
    let (mut r, mut w) = link(&node, "not the secret").await;
    w.write(&payload(Message::Hello {
        node: "intruder".into(),
        cluster: trap.local_addr().expect("addr"),
    }))
    .await
    .expect("sent");
    assert!(ended(&mut r).await);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), trap.accept())
            .await
            .is_err(),
        "the node connected out"
    );
    let metrics = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(metrics["replication"]["frames-rejected"], 4, "{metrics}");

    // The control: with the secret, the same Create is served. The refusals above are the
    // secret's doing, not a Create this node would never take.
    let (_r, mut w) = link(&node, TEST_SECRET).await;
    w.write(&payload(Message::Create {
        session: forged.clone(),
    }))
    .await
    .expect("sent");
    let deadline = Instant::now() + Duration::from_secs(3);
    while holder(&node, &forged.id).read().await.status != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "a Create with the secret is served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_replayed_frame_cannot_bring_back_a_logged_out_session() {
    let node = delta("node1", &[]).await;
    let session = forged_session("bob");
    // The capture: what a peer sent on one connection, byte for byte.
    let mut first = TcpStream::connect(node.ready.cluster.expect("cluster"))
        .await
        .expect("connect");
    let challenge = Handshake::challenge();
    let agreed = intruder_handshake(&mut first, challenge).await;
    let (_, mut w) = codec(TEST_SECRET).ends(tokio::io::empty(), Vec::new(), &agreed, true);
    w.write(&payload(Message::Create {
        session: session.clone(),
    }))
    .await
    .expect("sealed");
    let captured = w.into_inner();
    first.write_all(&captured).await.expect("sent");
    let mut bob = holder(&node, &session.id);
    let deadline = Instant::now() + Duration::from_secs(3);
    while bob.read().await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "the peer's Create is served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        bob.call(hyper::Method::POST, "/logout", None).await.status,
        StatusCode::OK
    );

    // Sent again on its own connection, then on a new one: refused both times.
    first.write_all(&captured).await.expect("replayed");
    let mut again = TcpStream::connect(node.ready.cluster.expect("cluster"))
        .await
        .expect("connect");
    // The same hello (challenge and name): the node's own challenge is new.
    intruder_handshake(&mut again, challenge).await;
    again.write_all(&captured).await.expect("replayed");
    for s in [&mut first, &mut again] {
        let closed = until_closed(s, Duration::from_secs(2)).await;
        assert!(closed.is_some(), "a replay closes the link");
    }
    assert_eq!(
        holder(&node, &session.id).read().await.status,
        StatusCode::UNAUTHORIZED,
        "the logged-out session stays out"
    );
    let metrics = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(metrics["replication"]["frames-rejected"], 2, "{metrics}");
}

/// A process on a down peer's port (a node keeps dialling it) that relays the node's own
/// replication back into a connection to the node, the node's challenge answered with
/// itself, so every key would match but for the names: refused each way it can be done, and
/// counted. The held `Create` of a session logged out meanwhile does not bring it back.
#[tokio::test]
async fn a_nodes_own_frames_relayed_back_to_it_are_refused() {
    let trap = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let peer = format!("node2={}", trap.local_addr().expect("addr"));
    let node = Proc::node(
        "node1",
        &["--store", "delta", "--frame-timeout", "1s", "--peer", &peer],
    )
    .await;
    let cluster = node.ready.cluster.expect("cluster");
    let rejected = || async {
        let metrics = get_json(node.ready.addr, "/metrics").await;
        metrics["replication"]["frames-rejected"]
            .as_u64()
            .expect("frames-rejected")
    };
    // Answering as node1 itself; as node2, node1's hello relayed as it is; as node2, with
    // node1's hello renamed node2, so only the frames' keys can tell.
    for (answer, renamed) in [("node1", None), ("node2", None), ("node2", Some("node2"))] {
        let before = rejected().await;
        // node1 gives up a dial unanswered for a second, so one accepted late may be stale:
        // the next is taken.
        let mut dials = 0;
        let (mut out, mut back, node1s) = loop {
            dials += 1;
            assert!(dials <= 5, "no fresh dial from node1");
            let (mut out, _) = tokio::time::timeout(Duration::from_secs(5), trap.accept())
                .await
                .expect("node1 dials its peer's port")
                .expect("accept");
            let mut back = TcpStream::connect(cluster).await.expect("connect");
            let (theirs, _) = Handshake::read_hello(&mut back, "relay", Duration::from_secs(2))
                .await
                .expect("node1's hello");
            let answered = out
                .write_all(&Handshake::hello(&theirs, answer).expect("hello"))
                .await;
            if answered.is_err() {
                continue;
            }
            if answer == "node1" {
                break (out, back, None);
            }
            match Handshake::read_hello(&mut out, "relay", Duration::from_secs(2)).await {
                Ok(hello) => break (out, back, Some(hello)),
                Err(_) => continue,
            }
        };
        let Some((challenge, name)) = node1s else {
            let closed = |s| until_closed(s, Duration::from_secs(3));
            assert!(closed(&mut out).await.is_some(), "node1 hung up on itself");
            assert!(
                closed(&mut back).await.is_some(),
                "the relay's link was closed"
            );
            assert!(rejected().await > before, "counted");
            continue;
        };
        assert_eq!(name, "node1", "node1 answers as the connecting end");
        // What node1 sends meanwhile is held: a session's Create, then its logout.
        let mut user = User::new(node.ready.addr);
        assert_eq!(user.login("alice").await.status, StatusCode::OK);
        let id = user.jar["SESSION"].clone();
        assert_eq!(
            user.call(hyper::Method::POST, "/logout", None).await.status,
            StatusCode::OK
        );
        let hello = Handshake::hello(&challenge, renamed.unwrap_or(&name)).expect("hello");
        back.write_all(&hello).await.expect("relayed hello");
        let mut held = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(2), out.read(&mut held))
            .await
            .expect("node1's frames")
            .expect("read");
        let _ = back.write_all(&held[..n]).await;
        assert!(
            until_closed(&mut back, Duration::from_secs(3))
                .await
                .is_some(),
            "{answer}/{renamed:?}: the relayed link stays open"
        );
        assert!(
            rejected().await > before,
            "{answer}/{renamed:?}: not counted"
        );
        let mut holder = User::new(node.ready.addr);
        holder.jar.insert("SESSION".into(), id);
        assert_eq!(
            holder.read().await.status,
            StatusCode::UNAUTHORIZED,
            "{answer}/{renamed:?}: the logged-out session came back"
        );
    }
}

/// The relay without the secret: on node2's port, it answers node1's dial with node3's
/// challenge and name, to hand node1's frames for node2 on to node3 (sealed for node1 to
/// node3, node3 would take them). node1 refuses an end that is not the node it dialled.
#[tokio::test]
async fn a_dial_answered_in_a_third_nodes_name_is_refused() {
    let trap = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let node3 = delta("node3", &[]).await;
    let peer = format!("node2={}", trap.local_addr().expect("addr"));
    let node1 = Proc::node(
        "node1",
        &["--store", "delta", "--frame-timeout", "1s", "--peer", &peer],
    )
    .await;
    let rejected = || async {
        get_json(node1.ready.addr, "/metrics").await["replication"]["frames-rejected"]
            .as_u64()
            .expect("frames-rejected")
    };
    let before = rejected().await;
    // Dials node1 gave up on (unanswered for a second, or its state transfer's) close for
    // other reasons and count nothing: the next is taken.
    for dial in 1.. {
        assert!(dial <= 8, "no dial refused for the name it answered");
        let (mut out, _) = tokio::time::timeout(Duration::from_secs(5), trap.accept())
            .await
            .expect("node1 dials its peer's port")
            .expect("accept");
        let mut back = TcpStream::connect(node3.ready.cluster.expect("cluster"))
            .await
            .expect("connect");
        let (challenge, name) = Handshake::read_hello(&mut back, "relay", Duration::from_secs(2))
            .await
            .expect("node3's hello");
        assert_eq!(name, "node3");
        let hello = Handshake::hello(&challenge, &name).expect("hello");
        if out.write_all(&hello).await.is_err() {
            continue;
        }
        let mut answer = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(3), out.read(&mut answer)).await {
            Ok(Ok(0) | Err(_)) => {}
            Ok(Ok(n)) => panic!("node1 answered node3's name on node2's port ({n} bytes)"),
            Err(_) => panic!("node1 kept a link to node2 that node3's name answered"),
        }
        if rejected().await > before {
            break;
        }
    }
}

/// The node's resident memory, from its own /proc status.
fn rss_kb(node: &Proc) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid())).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn half_sent_frames_hold_little_memory_and_are_dropped_after_the_frame_timeout() {
    let node = delta("node1", &["--frame-timeout", "1s"]).await;
    let cluster = node.ready.cluster.expect("cluster");
    let before = rss_kb(&node);
    // 100 connections declaring 1 MiB frames (the finding: 8.6 MB became 111 MB), and 100
    // declaring frames under the unauthenticated limit that never complete.
    let mut held = Vec::new();
    for declared in [1u32 << 20, 4000] {
        for _ in 0..100 {
            let mut s = TcpStream::connect(cluster).await.expect("connect");
            intruder_handshake(&mut s, Handshake::challenge()).await;
            s.write_all(&declared.to_be_bytes()).await.expect("length");
            let _ = s.write_all(&[7u8; 1000]).await;
            held.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown = rss_kb(&node).saturating_sub(before);
    eprintln!("200 half-sent frames: node resident memory {before} kB, then +{grown} kB");
    assert!(
        grown < 8 * 1024,
        "200 half-sent frames grew the node by {grown} kB"
    );
    // All closed by the frame timeout (1 s) and a margin.
    let started = Instant::now();
    for s in &mut held {
        let closed = until_closed(s, Duration::from_secs(3)).await;
        assert!(
            closed.is_some(),
            "a half-sent frame was held past the timeout"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    let metrics = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(metrics["replication"]["frames-rejected"], 200, "{metrics}");
    assert_eq!(
        User::new(node.ready.addr).login("after").await.status,
        StatusCode::OK
    );
}

#[test]
fn a_clustered_node_without_a_secret_refuses_to_start() {
    let out = std::process::Command::new(BIN)
        .args(["node", "--id", "n1", "--store", "backup"])
        .env_remove(sessionbench_common::secret::CLUSTER_SECRET_ENV)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("SESSIONBENCH_CLUSTER_SECRET") && err.contains("--insecure-replication"),
        "{err}"
    );
}

/// Reads (and drops) what `s` receives until the other side closes it; how long that took
/// (`None`: still open after `within`).
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = vec![0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .map(|()| started.elapsed())
}

/// Opens a connection to `addr` and sends `bytes`; how long until the server closed it.
async fn closed_within(addr: SocketAddr, bytes: &[u8], within: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    until_closed(&mut s, within).await
}

/// Opens a connection to `addr`, sends `first`, then `drip` every `every` (a slow client
/// that keeps sending); how long until the server closed it.
async fn dripped_until_closed(
    addr: SocketAddr,
    first: &[u8],
    drip: &[u8],
    every: Duration,
    within: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(first).await.expect("write");
    let mut buf = vec![0u8; 4096];
    while started.elapsed() < within {
        tokio::select! {
            read = s.read(&mut buf) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return Some(started.elapsed());
                }
            }
            () = tokio::time::sleep(every) => {
                if s.write_all(drip).await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

/// The node and a balancer in front of it, both with `limits`.
async fn node_and_lb(limits: &[&str]) -> (Proc, Proc) {
    let node = Proc::node("node1", limits).await;
    let mut lb_args: Vec<String> = vec!["lb".into(), "--backend".into()];
    lb_args.push(format!("node1={}", node.ready.addr));
    lb_args.extend(limits.iter().map(|a| a.to_string()));
    let lb = Proc::start(&lb_args).await;
    (node, lb)
}

/// Closed by its own timeout: within a tenth of it (and a little for scheduling), so that no
/// other timeout of the test can be what closed it.
fn closed_by(what: &str, case: &str, took: Option<Duration>, timeout: Duration) {
    let took = took.unwrap_or_else(|| panic!("{what}: {case} was never closed"));
    assert!(
        took >= timeout.mul_f64(0.9) && took <= timeout.mul_f64(1.1) + Duration::from_millis(300),
        "{what}: {case} closed after {took:?}, its timeout is {timeout:?}"
    );
}

/// Slow or stalled headers and bodies, each closed by its own timeout when it is shorter than
/// the idle one (header 1 s, body 2 s, idle 30 s: a wait armed for the idle timeout and not
/// moved when the headers began would hold them 30 s), on the node and on the balancer; a
/// declared body over the limit answered 413 before any of it is sent.
#[tokio::test]
async fn slow_clients_are_dropped_by_their_timeouts_on_the_node_and_the_balancer() {
    let (header, body) = (Duration::from_secs(1), Duration::from_secs(2));
    let limits = [
        "--header-timeout",
        "1s",
        "--body-timeout",
        "2s",
        "--idle-timeout",
        "30s",
    ];
    let (node, lb) = node_and_lb(&limits).await;
    let within = Duration::from_secs(10);
    let chunked = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"us\r\n";
    for (what, addr) in [("node", node.ready.addr), ("lb", lb.ready.addr)] {
        let took = closed_within(addr, b"GET /session HTTP/1.1\r\nHost: x\r\n", within).await;
        closed_by(what, "headers that never end", took, header);
        // A header line every 300 ms: the header timeout counts from the first byte.
        let took = dripped_until_closed(
            addr,
            b"GET /session HTTP/1.1\r\n",
            b"X-Drip: 1\r\n",
            Duration::from_millis(300),
            within,
        )
        .await;
        closed_by(what, "headers sent a line at a time", took, header);
        let declared = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"us";
        let took = closed_within(addr, declared, within).await;
        closed_by(what, "a declared body that never comes", took, body);
        let took = closed_within(addr, chunked, within).await;
        closed_by(what, "a chunked body that stalls", took, body);
        // 10 GB declared: 413 at once, the body never sent.
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(
            b"PUT /session/attrs/a HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
        )
        .await
        .expect("write");
        let mut head = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_millis(500), s.read(&mut head))
            .await
            .unwrap_or_else(|_| panic!("{what}: no early 413"))
            .expect("read");
        let head = String::from_utf8_lossy(&head[..n]);
        assert!(head.starts_with("HTTP/1.1 413"), "{what}: {head}");
    }
    // The node still serves through the balancer.
    assert_eq!(
        User::new(lb.ready.addr).login("after").await.status,
        StatusCode::OK
    );
}

/// The idle timeout alone, shorter than the others (idle 1 s, header and body 30 s): a
/// connection never used, and one idle after an answer, each closed 1 s after its last
/// request, on the node and on the balancer.
#[tokio::test]
async fn idle_connections_are_dropped_by_the_idle_timeout_on_the_node_and_the_balancer() {
    let idle = Duration::from_secs(1);
    let limits = [
        "--header-timeout",
        "30s",
        "--body-timeout",
        "30s",
        "--idle-timeout",
        "1s",
    ];
    let (node, lb) = node_and_lb(&limits).await;
    let within = Duration::from_secs(10);
    for (what, addr) in [("node", node.ready.addr), ("lb", lb.ready.addr)] {
        let took = closed_within(addr, b"", within).await;
        closed_by(what, "a connection never used", took, idle);
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut head = vec![0u8; 1024];
        let n = s.read(&mut head).await.expect("read");
        assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{what}");
        closed_by(
            what,
            "a connection idle after an answer",
            until_closed(&mut s, within).await,
            idle,
        );
    }
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_as_they_arrive() {
    let node = Proc::node("node1", &["--max-connections", "3"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut user = User::new(node.ready.addr);
        assert_eq!(
            user.call(hyper::Method::GET, "/healthz", None).await.status,
            StatusCode::OK
        );
        held.push(user);
    }
    let took = closed_within(
        node.ready.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(took.is_some(), "a fourth connection was served");
    drop(held);
    // A place frees once the node has seen a connection close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = User::new(node.ready.addr)
            .try_call(hyper::Method::GET, "/healthz", None)
            .await;
        if answer.is_ok_and(|r| r.status == StatusCode::OK) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no place freed when connections left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
