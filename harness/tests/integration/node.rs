//! `sessionbench node` as a real process.

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::support::{Proc, User, get_json};

#[tokio::test]
async fn serves_the_protocol_on_the_announced_port() {
    let node = Proc::node("node1", &["--listen", "127.0.0.1:0"]).await;
    assert_eq!(
        (node.ready.ready.as_str(), node.ready.id.as_str()),
        ("node", "node1")
    );
    assert_ne!(
        node.ready.addr.port(),
        0,
        "the readiness line names the bound port"
    );
    let mut u = User::new(node.ready.addr);
    let login = u.login("u7").await;
    assert_eq!(login.node.as_deref(), Some("node1"));
    let w = u
        .call(
            Method::PUT,
            "/session/attrs/theme",
            Some(json!({ "value": "dark", "write": "w-1" })),
        )
        .await;
    assert_eq!(
        w.body["attrs"]["theme"],
        json!({ "value": "dark", "write": "w-1" })
    );
    u.call(Method::POST, "/session/counter", None).await;
    let r = u.read().await;
    assert_eq!(
        (
            r.status,
            r.body["counter"].clone(),
            r.body["version"].clone()
        ),
        (StatusCode::OK, json!(1), json!(3))
    );
    assert_eq!(
        u.call(Method::POST, "/logout", None).await.status,
        StatusCode::OK
    );
    assert!(u.jar.is_empty(), "logout clears the cookie");
    let m = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(
        (
            m["logins"].clone(),
            m["logouts"].clone(),
            m["sessions"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
}

#[tokio::test]
async fn idle_sessions_are_swept_without_being_read() {
    let node = Proc::node(
        "node1",
        &["--max-inactive", "1s", "--sweep-interval", "100ms"],
    )
    .await;
    for i in 0..5 {
        User::new(node.ready.addr).login(&format!("u{i}")).await;
    }
    assert_eq!(
        get_json(node.ready.addr, "/metrics").await["sessions"],
        json!(5)
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let m = get_json(node.ready.addr, "/metrics").await;
    assert_eq!(
        (m["sessions"].clone(), m["sessions-expired"].clone()),
        (json!(0), json!(5))
    );
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let mut node = Proc::node("node1", &[]).await;
    let mut u = User::new(node.ready.addr);
    u.login("u1").await;
    node.signal("TERM");
    let status = node.wait(Duration::from_secs(5)).await;
    assert!(status.success(), "SIGTERM is a clean exit: {status}");
}

#[tokio::test]
async fn sigkill_is_a_crash_that_loses_local_sessions() {
    let mut node = Proc::node("node1", &[]).await;
    let port = node.ready.addr.port().to_string();
    let mut u = User::new(node.ready.addr);
    u.login("u1").await;
    node.crash().await;
    let restarted = Proc::node("node1", &["--listen", &format!("127.0.0.1:{port}")]).await;
    assert_eq!(
        restarted.ready.addr, node.ready.addr,
        "restart on the same port"
    );
    let r = u.read().await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, json!({ "error": "no-session" }))
    );
}

#[tokio::test]
async fn bad_arguments_exit_2_with_a_message() {
    for args in [
        vec!["node", "--id", "no de"],
        vec!["node", "--id", "n1", "--max-inactive", "soon"],
        vec!["lb", "--backend", "node1"],
        vec!["lb", "--policy", "sticky"],
        vec!["lb", "--admin", "0.0.0.0:0"],
        vec![
            "lb",
            "--backend",
            "a=127.0.0.1:1",
            "--backend",
            "a=127.0.0.1:2",
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sessionbench"))
            .args(&args)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
}
