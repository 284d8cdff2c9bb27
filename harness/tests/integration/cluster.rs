//! `sessionbench node --store delta` as real processes: replication, state transfer on join,
//! and a replication port that refuses oversized and unauthenticated frames.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Proc, User, get_json};

async fn delta(id: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--store",
        "delta",
        "--replication",
        "sync",
        "--cluster-secret",
        "s3cret",
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

/// Sends raw bytes to a node's replication port and reports whether the node closed it.
async fn closed_after(node: &Proc, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(node.ready.cluster.expect("cluster address"))
        .await
        .expect("connect");
    s.write_all(bytes).await.expect("write");
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn oversized_and_unauthenticated_frames_are_refused_and_counted() {
    let node = delta("node1", &[]).await;
    let oversized = 1_000_000u32.to_be_bytes();
    assert!(
        closed_after(&node, &oversized).await,
        "a frame over --max-frame-bytes closes the link"
    );
    let mut forged = 40u32.to_be_bytes().to_vec();
    forged.extend_from_slice(&[0u8; 32]); // A tag made without the secret.
    forged.extend_from_slice(b"{\"x\":1}\n");
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

#[tokio::test]
async fn an_undecodable_message_is_refused_and_counted() {
    // No secret: the frame is well formed, its payload is not a message.
    let node = Proc::node("node1", &["--store", "delta", "--max-frame-bytes", "4096"]).await;
    let mut garbled = 12u32.to_be_bytes().to_vec();
    garbled.extend_from_slice(b"not a msg!!!");
    assert!(closed_after(&node, &garbled).await);
    let metrics = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(metrics["replication"]["frames-rejected"], 1);
}

#[test]
fn arbitrary_bytes_on_the_replication_port_never_bring_a_node_down() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // No secret, so well-framed garbage gets as far as the message decoder.
    let node = rt.block_on(Proc::node(
        "node1",
        &["--store", "delta", "--max-frame-bytes", "4096"],
    ));
    let cluster = node.ready.cluster.expect("cluster address");
    let raw = proptest::collection::vec(any::<u8>(), 0..600);
    let framed = proptest::collection::vec(any::<u8>(), 0..600).prop_map(|body| {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend(body);
        frame
    });
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
