//! The protocol's routes and what each does to the session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::header::{CACHE_CONTROL, HeaderValue, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::config::{NodeConfig, SaveMode};
use super::cookie::{self, SessionCookie};
use super::error::ApiError;
use super::metrics::NodeMetrics;
use crate::limits;
use crate::session::{Attr, Session, SessionChange, SessionId, SessionView};
use crate::store::SessionStore;

/// Names the node that produced a response, on every response (also errors), so a client
/// behind any load balancer knows who answered even when there is no session view.
pub const NODE_HEADER: HeaderName = HeaderName::from_static("x-sessionbench-node");

/// Name of the attribute that `--padding-bytes` fills.
const PADDING_ATTR: &str = "padding";

/// A node's shared state.
#[derive(Debug)]
pub struct Node {
    pub config: NodeConfig,
    pub store: Arc<dyn SessionStore>,
    pub metrics: NodeMetrics,
    node_header: HeaderValue,
    /// The value of the `padding` attribute, made once.
    padding: Option<serde_json::Value>,
    /// Set on SIGTERM: health checks fail so load balancers stop sending new work.
    draining: AtomicBool,
    /// Sessions locked by a whole-locked save in this node's memory (a store that shares no
    /// locks between nodes).
    locked: std::sync::Mutex<std::collections::HashSet<SessionId>>,
}

/// A session's lock, held by one request of a whole-locked save.
enum Lock {
    Store(SessionId, String),
    Memory(SessionId),
}

/// How often a request waiting for a session's lock tries again.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(1);

impl Node {
    pub fn new(config: NodeConfig, store: Arc<dyn SessionStore>) -> Arc<Self> {
        let node_header = HeaderValue::try_from(config.id.as_str())
            .expect("node ids are validated to header-safe characters");
        let padding = (config.padding_bytes > 0)
            .then(|| crate::codec::shapes::cached_value(config.padding_bytes));
        Arc::new(Self {
            padding,
            config,
            store,
            metrics: NodeMetrics::default(),
            node_header,
            draining: AtomicBool::new(false),
            locked: std::sync::Mutex::default(),
        })
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    fn view(&self, s: Session) -> SessionView {
        SessionView {
            id: cookie::public_id(&s.id, &self.config.id, self.config.route_suffix),
            user: s.user,
            node: self.config.id.clone(),
            counter: s.counter,
            attrs: s.attrs,
            version: s.version,
        }
    }

    /// Takes session `id`'s lock, in the store if it shares locks, else here; waits for it up
    /// to the configured timeout, then gives up (503, nothing applied).
    async fn lock(&self, id: &SessionId) -> Result<Lock, ApiError> {
        let first = tokio::time::Instant::now();
        let (taken, tries) = self.take_lock(id, first + self.config.lock_timeout).await;
        // Only a request that found the lock held waited for it.
        if tries > 1 {
            self.metrics.lock_waited(first.elapsed());
        }
        taken
    }

    /// Tries for the session's lock until `deadline`; the outcome and how many tries it took.
    async fn take_lock(
        &self,
        id: &SessionId,
        deadline: tokio::time::Instant,
    ) -> (Result<Lock, ApiError>, u32) {
        let token = SessionId::generate().to_string();
        // Held past the request's longest wait, so a crashed holder frees it.
        let ttl = self.config.lock_timeout * 5;
        let mut tries = 0;
        loop {
            tries += 1;
            let taken = match self.store.try_lock(id, &token, ttl).await {
                Ok(Some(true)) => Some(Lock::Store(id.clone(), token.clone())),
                Ok(Some(false)) => None,
                Ok(None) => {
                    let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
                    locked.insert(id.clone()).then(|| Lock::Memory(id.clone()))
                }
                Err(e) => return (Err(e.into()), tries),
            };
            if let Some(lock) = taken {
                return (Ok(lock), tries);
            }
            if tokio::time::Instant::now() >= deadline {
                return (Err(ApiError::Locked), tries);
            }
            tokio::time::sleep(LOCK_RETRY).await;
        }
    }

    async fn unlock(&self, lock: Lock) {
        match lock {
            // A lock not released expires with its TTL.
            Lock::Store(id, token) => drop(self.store.unlock(&id, &token).await),
            Lock::Memory(id) => {
                self.locked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            }
        }
    }

    /// Loads the session the request names, changes it as `make` says and saves it as the
    /// node's save mode says; answers with the session as changed.
    async fn modify(
        &self,
        headers: &HeaderMap,
        make: impl FnOnce(&Session) -> SessionChange,
    ) -> Result<Response, ApiError> {
        let c = cookie::read(headers, &self.config.cookie)?.ok_or(ApiError::NoSession)?;
        let lock = match self.config.save {
            SaveMode::WholeLocked => Some(self.lock(&c.id).await?),
            SaveMode::Delta | SaveMode::Whole => None,
        };
        let saved = async {
            let mut s = self.store.load(&c.id).await?.ok_or(ApiError::NoSession)?;
            let change = make(&s);
            if self.config.save == SaveMode::Delta {
                save(self, &mut s, &change).await?;
            } else {
                // Every attribute and the counter, as this request's copy has them.
                s.apply(&change);
                let whole = SessionChange {
                    set: s.attrs.clone(),
                    counter: Some(s.counter),
                    version: s.version,
                    ..Default::default()
                };
                store(self, &s.id, &whole).await?;
            }
            Ok::<_, ApiError>(s)
        }
        .await;
        if let Some(lock) = lock {
            self.unlock(lock).await;
        }
        Ok(self.answer(Some(&c), saved?))
    }

    /// Loads the session the request names, or says why there is none.
    async fn current(&self, headers: &HeaderMap) -> Result<(SessionCookie, Session), ApiError> {
        let c = cookie::read(headers, &self.config.cookie)?.ok_or(ApiError::NoSession)?;
        let s = self.store.load(&c.id).await?.ok_or(ApiError::NoSession)?;
        Ok((c, s))
    }

    /// A 200 with the session view, and a `Set-Cookie` when the client does not hold the id
    /// this node would issue: after login (`came_with` is `None`), and, with routes on, when a
    /// session arrives with another node's suffix (Tomcat's JvmRouteBinderValve), so the client
    /// re-sticks to the node that now serves it.
    fn answer(&self, came_with: Option<&SessionCookie>, s: Session) -> Response {
        let own_route = self.config.route_suffix.then_some(self.config.id.as_str());
        let rebind = came_with.is_none_or(|c| c.route.as_deref() != own_route);
        let view = self.view(s);
        let set_cookie = rebind.then(|| cookie::set(&self.config.cookie, &view.id));
        let mut response = Json(view).into_response();
        if let Some(value) = set_cookie {
            response.headers_mut().insert(SET_COOKIE, value);
        }
        response
    }
}

/// The router, for `run` and for component tests through `oneshot`.
pub fn app(node: Arc<Node>) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/session", get(read))
        .route("/session/attrs/{name}", put(set_attr))
        .route("/session/counter", post(increment))
        .route("/logout", post(logout))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(node.config.body_limit))
        .layer(middleware::from_fn_with_state(node.clone(), stamp))
        .with_state(node)
}

/// Counts and times every response, and names the node on it. A body declared over the
/// limit gets 413 before any of it is read, and the connection closes (its body unread).
async fn stamp(State(node): State<Arc<Node>>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = if limits::declares_over(request.headers(), node.config.body_limit) {
        limits::too_large(ApiError::TooLarge.into_response())
    } else {
        next.run(request).await
    };
    node.metrics.record(response.status(), started.elapsed());
    let headers = response.headers_mut();
    headers.insert(NODE_HEADER, node.node_header.clone());
    // Session views are per user: no shared cache may keep them.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
}

async fn login(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response, ApiError> {
    if body.user.is_empty() || body.user.len() > 256 || body.user.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "`user` must be 1 to 256 printable characters".into(),
        ));
    }
    // Session fixation protection: a login never keeps the id the client came with.
    if let Ok(Some(old)) = cookie::read(&headers, &node.config.cookie) {
        node.store.invalidate(&old.id).await?;
    }
    let mut session = Session::new(SessionId::generate(), body.user, node.config.max_inactive);
    if let Some(value) = &node.padding {
        let padding = Attr {
            value: value.clone(),
            write: "login".into(),
        };
        session.attrs.insert(PADDING_ATTR.into(), padding);
    }
    node.store.create(session.clone()).await?;
    node.metrics.login();
    Ok(node.answer(None, session))
}

async fn read(State(node): State<Arc<Node>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (c, s) = node.current(&headers).await?;
    Ok(node.answer(Some(&c), s))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttrBody {
    value: serde_json::Value,
    write: String,
}

async fn set_attr(
    State(node): State<Arc<Node>>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AttrBody>,
) -> Result<Response, ApiError> {
    let Ok(Path(name)) = name else {
        return Err(ApiError::BadRequest(
            "attribute name is not valid UTF-8".into(),
        ));
    };
    if !is_attr_name(&name) {
        return Err(ApiError::BadRequest(
            "attribute names are 1 to 64 of A-Z a-z 0-9 `_` `-` `.`".into(),
        ));
    }
    if body.write.is_empty() || body.write.len() > 128 {
        return Err(ApiError::BadRequest(
            "`write` must be 1 to 128 characters".into(),
        ));
    }
    let attr = Attr {
        value: body.value,
        write: body.write,
    };
    node.modify(&headers, |s| SessionChange {
        set: [(name, attr)].into(),
        version: s.version + 1,
        ..Default::default()
    })
    .await
}

async fn increment(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    node.modify(&headers, |s| SessionChange {
        increment: 1,
        version: s.version + 1,
        ..Default::default()
    })
    .await
}

/// Saves `change` and applies it to the copy the response shows. A session invalidated or
/// expired between load and save is not recreated: the client is logged out.
async fn save(node: &Node, s: &mut Session, change: &SessionChange) -> Result<(), ApiError> {
    store(node, &s.id, change).await?;
    s.apply(change);
    Ok(())
}

/// Writes `change` to the store: a session gone meanwhile (invalidated, expired) is none.
async fn store(node: &Node, id: &SessionId, change: &SessionChange) -> Result<(), ApiError> {
    if node.store.save(id, change).await? {
        Ok(())
    } else {
        Err(ApiError::NoSession)
    }
}

async fn logout(State(node): State<Arc<Node>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let c = cookie::read(&headers, &node.config.cookie)?.ok_or(ApiError::NoSession)?;
    if !node.store.invalidate(&c.id).await? {
        return Err(ApiError::NoSession);
    }
    node.metrics.logout();
    let mut response = Json(json!({ "logged-out": true, "node": node.config.id })).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie::clear(&node.config.cookie));
    Ok(response)
}

async fn healthz(State(node): State<Arc<Node>>) -> Response {
    if node.draining.load(Ordering::SeqCst) {
        let body = json!({ "status": "draining", "node": node.config.id });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(json!({ "status": "ok", "node": node.config.id })).into_response()
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let view = node.metrics.snapshot(
        &node.config.id,
        node.store.kind(),
        node.store.stats(),
        node.config.save == SaveMode::WholeLocked,
    );
    Json(view).into_response()
}

fn is_attr_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A JSON body whose every failure (too large, unreadable, not JSON, wrong shape) is answered
/// as a JSON error, which axum's own `Json` extractor does not do.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadJson(e.to_string()))
    }
}
