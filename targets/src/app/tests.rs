//! Component tests of the node through `app().oneshot(…)`: no sockets, real store.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{NODE_HEADER, Node, NodeConfig, app};
use crate::store::{LocalStore, SessionStore};

struct Reply {
    status: StatusCode,
    set_cookie: Option<String>,
    node: Option<String>,
    body: Value,
}

fn node_with(config: NodeConfig) -> Arc<Node> {
    Node::new(config, Arc::new(LocalStore::new()))
}

async fn call(
    node: &Arc<Node>,
    method: Method,
    uri: &str,
    cookie: Option<&str>,
    body: Body,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(CONTENT_TYPE, "application/json");
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let response = app(node.clone())
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("infallible");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().expect("ascii").to_string())
    };
    let (status, set_cookie, node_name) =
        (response.status(), header(SET_COOKIE), header(NODE_HEADER));
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "every answer is JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Reply {
        status,
        set_cookie,
        node: node_name,
        body,
    }
}

async fn json_call(
    node: &Arc<Node>,
    method: Method,
    uri: &str,
    cookie: Option<&str>,
    body: Value,
) -> Reply {
    call(node, method, uri, cookie, Body::from(body.to_string())).await
}

/// Logs `user` in and returns the `name=value` cookie pair to send back.
async fn login(node: &Arc<Node>, user: &str) -> (String, Reply) {
    let r = json_call(node, Method::POST, "/login", None, json!({ "user": user })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let set = r.set_cookie.clone().expect("login sets the session cookie");
    let pair = set.split(';').next().expect("name=value").to_string();
    (pair, r)
}

#[tokio::test]
async fn login_issues_a_fresh_hardened_cookie_and_the_whole_view() {
    let node = node_with(NodeConfig::new("node1"));
    let (pair, r) = login(&node, "u42").await;
    let set = r.set_cookie.expect("cookie");
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    let id = r.body["id"].as_str().expect("id");
    assert_eq!(pair, format!("SESSION={id}"));
    assert_eq!(id.len(), 32);
    assert_eq!(
        r.body,
        json!({ "id": id, "user": "u42", "node": "node1", "counter": 0, "attrs": {}, "version": 1 })
    );
    assert_eq!(r.node.as_deref(), Some("node1"));
}

#[tokio::test]
async fn login_rotates_the_id_and_kills_the_old_session() {
    let node = node_with(NodeConfig::new("node1"));
    let (first, _) = login(&node, "u1").await;
    let r = json_call(
        &node,
        Method::POST,
        "/login",
        Some(&first),
        json!({ "user": "u1" }),
    )
    .await;
    let second = r
        .set_cookie
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    assert_ne!(first, second, "session fixation protection");
    let old = call(&node, Method::GET, "/session", Some(&first), Body::empty()).await;
    assert_eq!(
        (old.status, old.body),
        (StatusCode::UNAUTHORIZED, json!({ "error": "no-session" }))
    );
    assert_eq!(
        call(&node, Method::GET, "/session", Some(&second), Body::empty())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn writes_show_in_the_view_with_their_write_ids_and_versions() {
    let node = node_with(NodeConfig::new("node1"));
    let (c, _) = login(&node, "u1").await;
    let r = json_call(
        &node,
        Method::PUT,
        "/session/attrs/cart",
        Some(&c),
        json!({ "value": [1, 2], "write": "w-c1-1" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["attrs"]["cart"],
        json!({ "value": [1, 2], "write": "w-c1-1" })
    );
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.set_cookie, None, "an unchanged id is not re-sent");
    let r = call(
        &node,
        Method::POST,
        "/session/counter",
        Some(&c),
        Body::empty(),
    )
    .await;
    assert_eq!(
        (r.body["counter"].clone(), r.body["version"].clone()),
        (json!(1), json!(3))
    );
    let r = call(&node, Method::GET, "/session", Some(&c), Body::empty()).await;
    assert_eq!(
        (
            r.body["counter"].clone(),
            r.body["attrs"]["cart"]["write"].clone()
        ),
        (json!(1), json!("w-c1-1"))
    );
}

#[tokio::test]
async fn logout_invalidates_and_clears_the_cookie() {
    let node = node_with(NodeConfig::new("node1"));
    let (c, _) = login(&node, "u1").await;
    let r = call(&node, Method::POST, "/logout", Some(&c), Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.set_cookie.expect("cookie").contains("Max-Age=0"));
    for (method, uri) in [
        (Method::GET, "/session"),
        (Method::POST, "/session/counter"),
        (Method::POST, "/logout"),
    ] {
        let r = call(&node, method, uri, Some(&c), Body::empty()).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::UNAUTHORIZED, json!({ "error": "no-session" })),
            "{uri}"
        );
    }
    let r = json_call(
        &node,
        Method::PUT,
        "/session/attrs/a",
        Some(&c),
        json!({ "value": 1, "write": "w" }),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "no resurrection through a write"
    );
}

#[tokio::test]
async fn route_suffix_pins_and_rebinds_after_failover() {
    let store: Arc<dyn SessionStore> = Arc::new(LocalStore::new());
    let routed = |id: &str| {
        Node::new(
            NodeConfig {
                route_suffix: true,
                ..NodeConfig::new(id)
            },
            store.clone(),
        )
    };
    let (node1, node2) = (routed("node1"), routed("node2"));
    let (c, r) = login(&node1, "u1").await;
    assert!(c.ends_with(".node1"), "{c}");
    let r1 = call(&node1, Method::GET, "/session", Some(&c), Body::empty()).await;
    assert_eq!(r1.set_cookie, None);
    // node2 shares the store (as a clustered or Redis store would): it serves the session and
    // re-issues the cookie with its own route, keeping the id.
    let r2 = call(&node2, Method::GET, "/session", Some(&c), Body::empty()).await;
    assert_eq!(r2.status, StatusCode::OK);
    let base = r.body["id"]
        .as_str()
        .expect("id")
        .trim_end_matches(".node1")
        .to_string();
    assert_eq!(r2.body["id"], json!(format!("{base}.node2")));
    assert!(
        r2.set_cookie
            .expect("rebind")
            .starts_with(&format!("SESSION={base}.node2;"))
    );
}

#[tokio::test]
async fn padding_makes_large_sessions() {
    let node = node_with(NodeConfig {
        padding_bytes: 10_000,
        ..NodeConfig::new("node1")
    });
    let (_, r) = login(&node, "u1").await;
    let padding = &r.body["attrs"]["padding"];
    let size = padding["value"].to_string().len();
    assert!((10_000..10_400).contains(&size), "{size} bytes of padding");
    assert!(padding["value"][0]["title"].is_string(), "search results");
    assert_eq!(padding["write"], "login");
}

#[tokio::test(start_paused = true)]
async fn idle_sessions_expire_and_reads_keep_them_alive() {
    let node = node_with(NodeConfig {
        max_inactive: Duration::from_secs(60),
        ..NodeConfig::new("node1")
    });
    let (idle, _) = login(&node, "idle").await;
    let (busy, _) = login(&node, "busy").await;
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(40)).await;
        assert_eq!(
            call(&node, Method::GET, "/session", Some(&busy), Body::empty())
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(&node, Method::GET, "/session", Some(&idle), Body::empty())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn malformed_requests_get_json_4xx() {
    let node = node_with(NodeConfig {
        body_limit: 1024,
        ..NodeConfig::new("node1")
    });
    let (c, _) = login(&node, "u1").await;
    let raw = |s: &str| Body::from(s.to_string());
    /// Method, path, cookie, body, and the status and error code expected.
    type Case<'a> = (Method, &'a str, Option<&'a str>, Body, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/login",
            None,
            raw("{not json"),
            StatusCode::BAD_REQUEST,
            "bad-json",
        ),
        (
            Method::POST,
            "/login",
            None,
            raw(r#"{"user": 5}"#),
            StatusCode::BAD_REQUEST,
            "bad-json",
        ),
        (
            Method::POST,
            "/login",
            None,
            raw(r#"{"user": "u", "admin": true}"#),
            StatusCode::BAD_REQUEST,
            "bad-json",
        ),
        (
            Method::POST,
            "/login",
            None,
            raw(r#"{"user": ""}"#),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            "/login",
            None,
            Body::from(format!(r#"{{"user": "{}"}}"#, "x".repeat(4096))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
        ),
        (
            Method::GET,
            "/nope",
            None,
            Body::empty(),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            Method::DELETE,
            "/session",
            Some(&c),
            Body::empty(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        (
            Method::GET,
            "/session",
            Some("SESSION=../../etc"),
            Body::empty(),
            StatusCode::BAD_REQUEST,
            "bad-cookie",
        ),
        (
            Method::GET,
            "/session",
            Some("SESSION=0123456789abcdef0123456789abcdef.no de"),
            Body::empty(),
            StatusCode::BAD_REQUEST,
            "bad-cookie",
        ),
        (
            Method::GET,
            "/session",
            Some("SESSION=0123456789abcdef0123456789abcdef"),
            Body::empty(),
            StatusCode::UNAUTHORIZED,
            "no-session",
        ),
        (
            Method::PUT,
            "/session/attrs/a%20b",
            Some(&c),
            raw(r#"{"value":1,"write":"w"}"#),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::PUT,
            "/session/attrs/a",
            Some(&c),
            raw(r#"{"value":1}"#),
            StatusCode::BAD_REQUEST,
            "bad-json",
        ),
        (
            Method::PUT,
            "/session/attrs/a",
            Some(&c),
            raw(r#"{"value":1,"write":""}"#),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
    ];
    for (method, uri, cookie, body, status, code) in cases {
        let r = call(&node, method.clone(), uri, cookie, body).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (status, Some(code)),
            "{method} {uri} {cookie:?}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn health_turns_503_while_draining_and_metrics_count() {
    let node = node_with(NodeConfig::new("node1"));
    let (c, _) = login(&node, "u1").await;
    call(&node, Method::GET, "/session", Some(&c), Body::empty()).await;
    call(
        &node,
        Method::GET,
        "/session",
        Some("SESSION=x"),
        Body::empty(),
    )
    .await;
    let m = call(&node, Method::GET, "/metrics", None, Body::empty())
        .await
        .body;
    assert_eq!(
        (
            m["sessions"].clone(),
            m["logins"].clone(),
            m["requests"].clone()
        ),
        (json!(1), json!(1), json!(3))
    );
    assert_eq!(
        (m["responses-2xx"].clone(), m["responses-4xx"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        call(&node, Method::GET, "/healthz", None, Body::empty())
            .await
            .status,
        StatusCode::OK
    );
    node.start_draining();
    let h = call(&node, Method::GET, "/healthz", None, Body::empty()).await;
    assert_eq!(
        (h.status, h.body["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("draining"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever a client sends as cookie or attribute path, the node answers with a 4xx or 2xx
    /// JSON document, never a 5xx or a panic.
    #[test]
    fn arbitrary_cookies_and_paths_never_cause_server_errors(cookie in "[ -~]{0,80}", name in "[ -~&&[^ #?/]]{0,80}") {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let node = node_with(NodeConfig::new("node1"));
            let cookie = format!("SESSION={cookie}");
            let r = call(&node, Method::GET, "/session", Some(&cookie), Body::empty()).await;
            prop_assert!(r.status.is_client_error(), "{} {}", r.status, r.body);
            let uri = format!("/session/attrs/{}", name.replace('%', "%25"));
            let body = Body::from(r#"{"value":1,"write":"w"}"#);
            if let Ok(req) = Request::builder().method(Method::PUT).uri(&uri).header(COOKIE, &cookie).body(body) {
                let response = app(node.clone()).oneshot(req).await.expect("infallible");
                prop_assert!(response.status().is_client_error(), "{uri}: {}", response.status());
            }
            Ok(())
        })?;
    }
}
