//! `sessionbench node --store delta` as real processes: replication, state transfer on join,
//! and a replication port that refuses oversized and unauthenticated frames.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sessionbench_targets::cluster::{CHALLENGE_LEN, Handshake};

use crate::support::{Proc, User, get_json};

async fn delta(id: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--store",
        "delta",
        "--replication",
        "sync",
        "--max-frame-bytes",
        "4096",
    ];
    args.extend_from_slice(extra);
    Proc::node(id, &args).await
}

fn peer(node: &Proc) -> String {
    format!(
        "{}={}",
        node.ready.id,
        node.ready
            .cluster
            .expect("a delta node announces its cluster address")
    )
}

#[tokio::test]
async fn a_joining_node_gets_the_state_and_changes_flow_both_ways() {
    let node1 = delta("node1", &[]).await;
    let mut early = User::new(node1.ready.addr);
    early.login("early").await;
    early
        .call(
            Method::PUT,
            "/session/attrs/cart",
            Some(json!({ "value": 3, "write": "w-1" })),
        )
        .await;

    let node2 = delta("node2", &["--peer", &peer(&node1)]).await;
    let m = get_json(node2.ready.addr, "/metrics").await;
    assert_eq!(
        m["replication"]["state-transfer"],
        "received 1 sessions from node1"
    );
    // The session made before node2 existed is there, with its write.
    let mut on_node2 = User::new(node2.ready.addr);
    on_node2.jar = early.jar.clone();
    let r = on_node2.read().await;
    assert_eq!(
        (r.status, r.body["attrs"]["cart"]["write"].clone()),
        (StatusCode::OK, json!("w-1"))
    );

    // node1 learned of node2 from its hello: a write on either is on the other when it returns.
    let deadline = Instant::now() + Duration::from_secs(3);
    while get_json(node1.ready.addr, "/metrics").await["replication"]["peers-live"] != 1 {
        assert!(
            Instant::now() < deadline,
            "node1 never linked back to node2"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    early.call(Method::POST, "/session/counter", None).await;
    assert_eq!(on_node2.read().await.body["counter"], 1);
    on_node2.call(Method::POST, "/logout", None).await;
    assert_eq!(
        early.read().await.status,
        StatusCode::UNAUTHORIZED,
        "the logout reached node1"
    );
}

/// Sends raw bytes to a node's replication port (after its challenge) and reports whether
/// the node closed it.
pub(crate) async fn closed_after(node: &Proc, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(node.ready.cluster.expect("cluster address"))
        .await
        .expect("connect");
    intruder_handshake(&mut s, Handshake::challenge()).await;
    s.write_all(bytes).await.expect("write");
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// The intruder's side of a handshake with a node, as the connecting end, with `challenge`.
pub(crate) async fn intruder_handshake(
    s: &mut TcpStream,
    challenge: [u8; CHALLENGE_LEN],
) -> Handshake {
    let (theirs, name) = Handshake::read_hello(s, "intruder", Duration::from_secs(2))
        .await
        .expect("the node's hello");
    s.write_all(&Handshake::hello(&challenge, "intruder").expect("a name"))
        .await
        .expect("hello");
    Handshake {
        acceptor: name,
        acceptor_challenge: theirs,
        connector: "intruder".into(),
        connector_challenge: challenge,
    }
}

/// A frame as a node without a secret reads it: length, sequence number, payload.
fn unsealed(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut frame = ((8 + payload.len()) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn oversized_and_unauthenticated_frames_are_refused_and_counted() {
    let node = delta("node1", &[]).await;
    let oversized = 1_000_000u32.to_be_bytes();
    assert!(
        closed_after(&node, &oversized).await,
        "a frame over --max-frame-bytes closes the link"
    );
    // A tag made without the secret, then a payload.
    let forged = unsealed(0, &[&[0u8; 32][..], b"{\"x\":1}\n"].concat());
    assert!(
        closed_after(&node, &forged).await,
        "a frame with a wrong tag closes the link"
    );
    let metrics: Value = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(metrics["replication"]["frames-rejected"], 2);
    // The node still serves.
    assert_eq!(
        User::new(node.ready.addr).login("after").await.status,
        StatusCode::OK
    );
}

/// A delta node without a secret: well-framed garbage gets as far as the message decoder.
async fn insecure_delta() -> Proc {
    Proc::node(
        "node1",
        &[
            "--store",
            "delta",
            "--max-frame-bytes",
            "4096",
            "--insecure-replication",
        ],
    )
    .await
}

#[tokio::test]
async fn an_undecodable_message_is_refused_and_counted() {
    // No secret: the frame is well formed, its payload is not a message.
    let node = insecure_delta().await;
    assert!(closed_after(&node, &unsealed(0, b"not a msg!!!")).await);
    let metrics = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(metrics["replication"]["frames-rejected"], 1);
    assert_eq!(metrics["replication"]["insecure"], true, "{metrics}");
}

#[test]
fn arbitrary_bytes_on_the_replication_port_never_bring_a_node_down() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // No secret, so well-framed garbage gets as far as the message decoder.
    let node = rt.block_on(insecure_delta());
    let cluster = node.ready.cluster.expect("cluster address");
    let raw = proptest::collection::vec(any::<u8>(), 0..600);
    // A hello first, so the frame gets past the handshake.
    let hello = Handshake::hello(&Handshake::challenge(), "intruder").expect("a name");
    let framed = proptest::collection::vec(any::<u8>(), 0..600)
        .prop_map(move |body| [hello.clone(), unsealed(0, &body)].concat());
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&prop_oneof![raw, framed], |bytes| {
            rt.block_on(async {
                let mut s = TcpStream::connect(cluster).await.expect("connect");
                let _ = s.write_all(&bytes).await;
                let _ = s.shutdown().await;
                let mut sink = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut sink)).await;
                let health = User::new(node.ready.addr)
                    .call(Method::GET, "/healthz", None)
                    .await;
                prop_assert_eq!(health.status, StatusCode::OK);
                Ok(())
            })
        })
        .expect("the node survives any input");
    let metrics = rt.block_on(get_json(node.ready.addr, "/metrics"));
    assert!(
        metrics["replication"]["frames-rejected"].as_u64() > Some(10),
        "{metrics}"
    );
    assert_eq!(
        metrics["replication"]["peers-live"], 0,
        "no garbage became a member"
    );
}

async fn backup(id: &str, peers: &[&Proc]) -> Proc {
    let peers: Vec<String> = peers.iter().map(|p| peer(p)).collect();
    let mut args = vec!["--store", "backup"];
    for p in &peers {
        args.extend(["--peer", p]);
    }
    Proc::node(id, &args).await
}

/// Polls `/metrics` of every node until `done` holds for all of them (or fails after 5 s).
async fn until_metrics(nodes: &[&Proc], what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut all = Vec::new();
        for n in nodes {
            all.push(get_json(n.ready.addr, "/metrics").await);
        }
        if done(&all) {
            return all;
        }
        assert!(Instant::now() < deadline, "{what}: {all:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_backup_promotes_itself_when_the_primary_is_killed() {
    let mut node1 = backup("node1", &[]).await;
    let node2 = backup("node2", &[&node1]).await;
    let node3 = backup("node3", &[&node1, &node2]).await;
    until_metrics(&[&node1, &node2, &node3], "every link up", |m| {
        m.iter().all(|m| m["replication"]["peers-live"] == 2)
    })
    .await;

    let mut user = User::new(node1.ready.addr);
    user.login("u1").await;
    user.call(
        Method::PUT,
        "/session/attrs/cart",
        Some(json!({ "value": 3, "write": "w-1" })),
    )
    .await;
    user.call(Method::POST, "/session/counter", None).await;
    // node1 serves it; exactly one of the others holds the copy, the third only its location.
    let m = until_metrics(&[&node1, &node2, &node3], "one copy", |m| {
        m[0]["sessions"] == 1 && m[1]["session-copies"].as_u64() != m[2]["session-copies"].as_u64()
    })
    .await;
    let (backup, other) = if m[1]["session-copies"] == 1 {
        (&node2, &node3)
    } else {
        (&node3, &node2)
    };
    assert_eq!(
        (m[1]["sessions"].clone(), m[2]["sessions"].clone()),
        (json!(0), json!(0))
    );

    node1.crash().await;
    // Without any request: the backup becomes the primary and the survivor the new backup.
    until_metrics(&[backup, other], "promotion and a new backup", |m| {
        m[0]["sessions"] == 1 && m[0]["session-copies"] == 0 && m[1]["session-copies"] == 1
    })
    .await;

    // The session, with the last acknowledged write, is served by either survivor.
    let mut elsewhere = User::new(other.ready.addr);
    elsewhere.jar = user.jar.clone();
    let r = elsewhere.read().await;
    assert_eq!(
        (
            r.status,
            r.body["attrs"]["cart"]["write"].clone(),
            r.body["counter"].clone()
        ),
        (StatusCode::OK, json!("w-1"), json!(1))
    );
    let mut on_backup = User::new(backup.ready.addr);
    on_backup.jar = user.jar.clone();
    assert_eq!(on_backup.read().await.body["counter"], 1);
}

#[tokio::test]
async fn a_crash_inside_the_async_window_loses_an_acknowledged_write() {
    let async_node = |id: &'static str, peers: Vec<String>| async move {
        // Long enough that the test thread, descheduled on a busy machine, still kills node1
        // before the write leaves it.
        let mut args = vec!["--store", "delta", "--replication-delay", "1500ms"];
        for p in &peers {
            args.extend(["--peer", p.as_str()]);
        }
        Proc::node(id, &args).await
    };
    let mut node1 = async_node("node1", vec![]).await;
    let node2 = async_node("node2", vec![peer(&node1)]).await;
    until_metrics(&[&node1, &node2], "link up", |m| {
        m.iter().all(|m| m["replication"]["peers-live"] == 1)
    })
    .await;
    let mut user = User::new(node1.ready.addr);
    user.login("u1").await;
    let mut on_node2 = User::new(node2.ready.addr);
    on_node2.jar = user.jar.clone();
    // The login has left node1 by now; the counter write is acknowledged, then node1 dies
    // before the write leaves it.
    let deadline = Instant::now() + Duration::from_secs(8);
    while on_node2.read().await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "the login never reached node2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = user.call(Method::POST, "/session/counter", None).await;
    assert_eq!(
        (r.status, r.body["counter"].clone()),
        (StatusCode::OK, json!(1))
    );
    node1.crash().await;
    let r = on_node2.read().await;
    assert_eq!(
        (r.status, r.body["counter"].clone()),
        (StatusCode::OK, json!(0)),
        "node2 never got the acknowledged write"
    );
}
