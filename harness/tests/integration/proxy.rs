//! `sessionbench proxy` in front of a real node: sessions pass through it untouched, and its
//! admin API switches faults at run time.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::support::{Proc, User};

async fn put_faults(
    admin: std::net::SocketAddr,
    faults: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let reply = User::new(admin)
        .call(Method::PUT, "/faults", Some(faults))
        .await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn a_node_behind_the_proxy_keeps_sessions_and_faults_switch_at_run_time() {
    let node = Proc::node("node1", &[]).await;
    let proxy = Proc::start(&[
        "proxy".into(),
        "--upstream".into(),
        node.ready.addr.to_string(),
    ])
    .await;
    assert_eq!(proxy.ready.ready, "proxy");
    let admin = proxy.ready.admin.expect("admin address");
    let mut user = User::new(proxy.ready.addr);
    assert_eq!(user.login("u1").await.status, StatusCode::OK);
    assert_eq!(user.read().await.body["user"], "u1");

    // 30 ms each way on new data: a read (request and answer) takes at least 60 ms.
    let (status, shown) = put_faults(
        admin,
        json!({ "upstream": { "latency-ms": 30 }, "downstream": { "latency-ms": 30 } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["upstream"]["latency-ms"], 30);
    let start = Instant::now();
    assert_eq!(user.read().await.body["user"], "u1");
    let took = start.elapsed();
    assert!(
        (Duration::from_millis(60)..Duration::from_millis(200)).contains(&took),
        "{took:?}"
    );

    // Refused: a new connection cannot be made; cleared, the session is still there.
    put_faults(admin, json!({ "refuse": true })).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = tokio::net::TcpStream::connect(proxy.ready.addr).await;
    assert!(refused.is_err(), "refused while `refuse` is on");
    let cleared = User::new(admin).call(Method::DELETE, "/faults", None).await;
    assert_eq!(cleared.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut again = User::new(proxy.ready.addr);
    again.jar = user.jar.clone();
    assert_eq!(again.read().await.body["user"], "u1");

    // A fault set that does not parse is refused with the reason, and changes nothing.
    let (status, body) = put_faults(admin, json!({ "upstream": { "latency": 5 } })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .to_string()
            .contains("unknown field `latency`"),
        "{body}"
    );
}

#[test]
fn a_proxy_only_forwards_to_loopback() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .args(["proxy", "--upstream", "10.0.0.1:80"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'10.0.0.1:80' for '--upstream")
            && stderr.contains("10.0.0.1 is not a loopback address"),
        "{stderr}"
    );
}
