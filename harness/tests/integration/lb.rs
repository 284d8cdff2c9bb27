//! `sessionbench lb` in front of real `sessionbench node` processes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use crate::support::{Cluster, Proc, User, get_json};

/// Short enough that waiting for one stays fast, long enough to tell "within" from "after".
const HEALTH: &str = "1s";
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

#[tokio::test]
async fn round_robin_spreads_requests_and_loses_sessions() {
    let c = Cluster::start(3, &[], &["--policy", "round-robin"]).await;
    let mut u = User::new(c.addr());
    u.login("u1").await;
    let mut served: BTreeMap<String, usize> = BTreeMap::new();
    let mut lost = 0;
    for _ in 0..30 {
        let r = u.read().await;
        *served.entry(r.node.expect("node header")).or_default() += 1;
        lost += usize::from(r.status == StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        served.values().copied().collect::<Vec<_>>(),
        [10, 10, 10],
        "{served:?}"
    );
    assert_eq!(
        lost, 20,
        "two reads in three reach a node that never saw the session"
    );
}

#[tokio::test]
async fn cookie_route_pins_each_session_to_its_node() {
    let c = Cluster::start(3, &["--route-suffix"], &["--policy", "cookie-route"]).await;
    let mut homes = BTreeMap::new();
    for i in 0..9 {
        let mut u = User::new(c.addr());
        let home = u.login(&format!("u{i}")).await.node.expect("node");
        for _ in 0..5 {
            let r = u.read().await;
            assert_eq!(
                (r.status, r.node.as_deref()),
                (StatusCode::OK, Some(home.as_str()))
            );
        }
        *homes.entry(home).or_insert(0) += 1;
    }
    assert_eq!(homes.len(), 3, "new sessions are balanced: {homes:?}");
}

#[tokio::test]
async fn cookie_insert_sets_its_own_cookie_and_pins() {
    let c = Cluster::start(3, &[], &["--policy", "cookie-insert"]).await;
    let mut u = User::new(c.addr());
    let login = u.login("u1").await;
    let home = login.node.expect("node");
    assert!(
        login
            .set_cookies
            .iter()
            .any(|s| s.starts_with(&format!("SERVERID={home};"))),
        "{:?}",
        login.set_cookies
    );
    for _ in 0..10 {
        let r = u.read().await;
        assert_eq!(
            (r.status, r.node.as_deref()),
            (StatusCode::OK, Some(home.as_str()))
        );
        assert!(
            r.set_cookies.iter().all(|s| !s.starts_with("SERVERID")),
            "not re-sent while valid"
        );
    }
}

/// Distinct loopback source addresses 127.X.Y.1, the shape that also looks like many
/// clients to nginx (which hashes only the first three octets).
fn source(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        (i / 250 + 1) as u8,
        (i % 250 + 1) as u8,
        1,
    ))
}

#[tokio::test]
async fn ip_hash_spreads_1000_sources_within_15_percent_and_sticks() {
    let c = Cluster::start(3, &[], &["--policy", "ip-hash"]).await;
    let mut first: Vec<String> = Vec::new();
    for batch in (0..1000).collect::<Vec<u32>>().chunks(100) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|&i| {
                let addr = c.addr();
                tokio::spawn(async move {
                    User::from(source(i), addr)
                        .call(Method::GET, "/healthz", None)
                        .await
                        .node
                })
            })
            .collect();
        for t in tasks {
            first.push(t.await.expect("task").expect("node header"));
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &first {
        *counts.entry(n).or_default() += 1;
    }
    assert_eq!(counts.len(), 3);
    for (node, &n) in &counts {
        assert!(
            (283..=383).contains(&n),
            "{node} got {n} of 1000 (expected 333 ± 15%): {counts:?}"
        );
    }
    for i in (0..1000).step_by(37) {
        let again = User::from(source(i), c.addr())
            .call(Method::GET, "/healthz", None)
            .await
            .node;
        assert_eq!(
            again.as_deref(),
            Some(first[i as usize].as_str()),
            "source {} moved",
            source(i)
        );
    }
}

#[derive(Debug, Clone)]
enum Op {
    Read,
    Write(u8, u16),
    Count,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        Just(Op::Read),
        (0u8..4, any::<u16>()).prop_map(|(a, v)| Op::Write(a, v)),
        Just(Op::Count)
    ];
    proptest::collection::vec(op, 1..25)
}

/// Whatever a sticky session does, every request lands on the node that created it, and
/// the session shows exactly the writes made to it.
#[test]
fn sticky_sessions_stay_on_one_healthy_backend() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (node_args, policy) in [
        (&["--route-suffix"][..], "cookie-route"),
        (&[][..], "cookie-insert"),
    ] {
        let c = rt.block_on(Cluster::start(3, node_args, &["--policy", policy]));
        let mut runner = TestRunner::new(Config {
            cases: 24,
            ..Config::default()
        });
        runner
            .run(&ops(), |ops| {
                rt.block_on(async {
                    let mut u = User::new(c.addr());
                    let home = u.login("prop").await.node;
                    let (mut counter, mut attrs) = (0, BTreeMap::new());
                    for (seq, op) in ops.iter().enumerate() {
                        let r = match op {
                            Op::Read => u.read().await,
                            Op::Count => {
                                counter += 1;
                                u.call(Method::POST, "/session/counter", None).await
                            }
                            Op::Write(a, v) => {
                                attrs.insert(
                                    format!("a{a}"),
                                    json!({ "value": v, "write": format!("w-{seq}") }),
                                );
                                let body = json!({ "value": v, "write": format!("w-{seq}") });
                                u.call(Method::PUT, &format!("/session/attrs/a{a}"), Some(body))
                                    .await
                            }
                        };
                        prop_assert_eq!(
                            r.status,
                            StatusCode::OK,
                            "{} {:?}: {}",
                            policy,
                            op,
                            r.body
                        );
                        prop_assert_eq!(&r.node, &home, "{} moved the session", policy);
                        prop_assert_eq!(&r.body["counter"], &json!(counter));
                        prop_assert_eq!(&r.body["attrs"], &json!(attrs));
                    }
                    Ok(())
                })
            })
            .unwrap_or_else(|e| panic!("{policy}: {e}"));
    }
}

/// Starts a cookie-route cluster and a session on it; returns the cluster, the user and the
/// index of the node the session lives on.
async fn pinned_session(lb_args: &[&str]) -> (Cluster, User, usize) {
    let mut args = vec!["--policy", "cookie-route", "--health-interval", HEALTH];
    args.extend_from_slice(lb_args);
    let c = Cluster::start(3, &["--route-suffix"], &args).await;
    let mut u = User::new(c.addr());
    let home = u.login("u1").await.node.expect("node");
    let index = c.node_index(&home);
    (c, u, index)
}

#[tokio::test]
async fn killed_sticky_backend_is_redispatched_within_one_health_interval() {
    let (mut c, mut u, home) = pinned_session(&[]).await;
    let home_id = c.nodes[home].ready.id.clone();
    c.nodes[home].crash().await;
    let killed = Instant::now();
    let r = loop {
        let r = u.read().await;
        if r.node.as_deref() != Some(home_id.as_str()) && r.node.is_some() {
            break r;
        }
        assert!(
            killed.elapsed() < HEALTH_INTERVAL,
            "still not redispatched: {:?}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = killed.elapsed();
    assert!(took < HEALTH_INTERVAL, "redispatched after {took:?}");
    // Local stores: the new node never saw the session, so the user is logged out.
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("no-session"))
    );
    let again = u.login("u1").await.node.expect("node");
    assert_ne!(again, home_id, "new sessions go to live nodes");
    let proxy = &get_json(c.admin(), "/metrics").await["proxy"];
    assert!(proxy["redispatched"].as_u64() >= Some(1), "{proxy}");
}

#[tokio::test]
async fn no_redispatch_fails_while_the_sticky_backend_is_down_then_recovers() {
    let (mut c, mut u, home) = pinned_session(&["--no-redispatch"]).await;
    let home_id = c.nodes[home].ready.id.clone();
    let home_addr = c.nodes[home].ready.addr;
    c.nodes[home].crash().await;
    let killed = Instant::now();
    while killed.elapsed() < HEALTH_INTERVAL * 3 / 2 {
        let r = u.read().await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
        assert_eq!(
            r.body,
            json!({ "error": "backend-down", "backend": home_id })
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(
        User::new(c.addr()).login("u2").await.node.as_deref(),
        Some(home_id.as_str())
    );

    // Restarted on its port with empty memory: the health check brings it back, and the
    // session it held is gone.
    let listen = home_addr.to_string();
    c.nodes[home] = Proc::node(&home_id, &["--route-suffix", "--listen", &listen]).await;
    let restarted = Instant::now();
    let r = loop {
        let r = u.read().await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        assert!(
            restarted.elapsed() < HEALTH_INTERVAL * 3,
            "backend not back up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (r.status, r.node.as_deref()),
        (StatusCode::UNAUTHORIZED, Some(home_id.as_str()))
    );
}

#[tokio::test]
async fn admin_adds_and_removes_backends_at_run_time() {
    let c = Cluster::start(2, &[], &["--policy", "round-robin"]).await;
    let node3 = Proc::node("node3", &[]).await;
    let mut admin = User::new(c.admin());
    let added = admin
        .call(
            Method::POST,
            "/backends",
            Some(json!({ "name": "node3", "addr": node3.ready.addr })),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let again = admin
        .call(
            Method::POST,
            "/backends",
            Some(json!({ "name": "node3", "addr": node3.ready.addr })),
        )
        .await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (StatusCode::CONFLICT, Some("exists"))
    );
    let bad = admin
        .call(
            Method::POST,
            "/backends",
            Some(json!({ "name": "x y", "addr": "nope" })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let served = |n: usize| {
        let addr = c.addr();
        async move {
            let mut u = User::new(addr);
            let mut nodes = BTreeMap::<String, usize>::new();
            for _ in 0..n {
                *nodes
                    .entry(
                        u.call(Method::GET, "/healthz", None)
                            .await
                            .node
                            .expect("node"),
                    )
                    .or_default() += 1;
            }
            nodes
        }
    };
    assert_eq!(served(9).await.len(), 3, "the added backend takes traffic");
    assert_eq!(
        admin
            .call(Method::DELETE, "/backends/node1", None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        admin
            .call(Method::DELETE, "/backends/node1", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let after = served(8).await;
    assert_eq!(
        after.keys().cloned().collect::<Vec<_>>(),
        ["node2", "node3"]
    );
    let listed = get_json(c.admin(), "/backends").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn balancer_errors_are_json() {
    let empty = Proc::start(&["lb".into(), "--max-body-bytes".into(), "64".into()]).await;
    let mut u = User::new(empty.ready.addr);
    let r = u.call(Method::GET, "/session", None).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "no-backend" })
        )
    );
    let r = u
        .call(
            Method::POST,
            "/login",
            Some(json!({ "user": "x".repeat(100) })),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": "body-too-large" })
        )
    );
}

#[tokio::test]
async fn least_conn_avoids_a_backend_stuck_on_a_request() {
    // Health checks far apart, so only the in-flight count can steer traffic away.
    let c = Cluster::start(
        3,
        &[],
        &["--policy", "least-conn", "--health-interval", "60s"],
    )
    .await;
    c.nodes[0].signal("STOP");
    // Three concurrent requests: one of them lands on the paused node and stays in flight.
    let stuck: Vec<_> = (0..3)
        .map(|_| {
            let addr = c.addr();
            tokio::spawn(async move {
                User::new(addr)
                    .call(Method::GET, "/healthz", None)
                    .await
                    .node
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backends = get_json(c.admin(), "/backends").await;
    assert_eq!(backends[0]["inflight"], json!(1), "{backends}");
    let mut u = User::new(c.addr());
    for _ in 0..12 {
        let node = u.call(Method::GET, "/healthz", None).await.node;
        assert_ne!(
            node.as_deref(),
            Some("node1"),
            "least-conn sent work to the stuck backend"
        );
    }
    c.nodes[0].signal("CONT");
    let mut served: Vec<String> = Vec::new();
    for s in stuck {
        served.push(s.await.expect("task").expect("node header"));
    }
    assert!(
        served.contains(&"node1".to_string()),
        "the stuck request completes after SIGCONT: {served:?}"
    );
}

/// As a hostile local process would try it: listen on every interface, send a balancer's or
/// a node's traffic off the machine, add a backend elsewhere through the admin API, or reach
/// the admin API under a name of its own (DNS rebinding). Each is refused.
#[tokio::test]
async fn addresses_off_loopback_and_foreign_admin_hosts_are_refused() {
    for args in [
        &["lb", "--listen", "0.0.0.0:0"][..],
        &["lb", "--admin", "0.0.0.0:0"],
        &["lb", "--backend", "a=8.8.8.8:53"],
        &["node", "--id", "n1", "--listen", "0.0.0.0:0"],
        &[
            "node",
            "--id",
            "n1",
            "--store",
            "delta",
            "--peer",
            "n2=10.0.0.1:7000",
        ],
        &["proxy", "--upstream", "10.0.0.1:80"],
    ] {
        let out = crate::support::sessionbench()
            .args(args)
            .output()
            .expect("sessionbench");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("is not a loopback address"),
            "{args:?}: {stderr}"
        );
    }
    let c = Cluster::start(2, &[], &["--policy", "round-robin"]).await;
    let mut admin = User::new(c.admin());
    let elsewhere = admin
        .call(
            Method::POST,
            "/backends",
            Some(json!({ "name": "evil", "addr": "10.9.9.9:80" })),
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::BAD_REQUEST,
        "{}",
        elsewhere.body
    );
    assert!(
        elsewhere
            .body
            .to_string()
            .contains("not a loopback address"),
        "{}",
        elsewhere.body
    );
    // A request whose Host is someone else's name.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut raw = tokio::net::TcpStream::connect(c.admin())
        .await
        .expect("connect");
    raw.write_all(
        b"GET /backends HTTP/1.1\r\nHost: rebind.example:8080\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("write");
    let mut answer = String::new();
    raw.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    // Its own names still work.
    let listed = get_json(c.admin(), "/backends").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
}
