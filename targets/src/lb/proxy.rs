//! Forwarding one request: pick a backend, send, on failure mark it down and redispatch.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;

use crate::limits::{self, WatchedBody};
use serde::Serialize;
use serde_json::json;

use super::backends::{Backend, Backends};
use super::config::LbConfig;
use super::policy::{Chooser, Pick, Policy, Target};
use super::pool::{Outgoing, Pool, SendError};
use crate::http1::Answer;

/// A response body: the backend's, read whole, or one the balancer wrote itself.
pub(super) type ProxyBody = Full<Bytes>;

/// Headers that describe one hop, not the message (RFC 9110 section 7.6.1), and `expect`,
/// which the balancer has already answered by reading the whole body.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::EXPECT,
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Counters for the admin API's `/metrics`.
#[derive(Debug, Default)]
pub(super) struct LbStats {
    requests: AtomicU64,
    redispatched: AtomicU64,
    sticky_down: AtomicU64,
    no_backend: AtomicU64,
    upstream_errors: AtomicU64,
    upstream_timeouts: AtomicU64,
}

/// What `/metrics` shows of [`LbStats`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct LbStatsView {
    requests: u64,
    redispatched: u64,
    sticky_down: u64,
    no_backend: u64,
    upstream_errors: u64,
    upstream_timeouts: u64,
}

impl LbStats {
    pub fn view(&self) -> LbStatsView {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LbStatsView {
            requests: get(&self.requests),
            redispatched: get(&self.redispatched),
            sticky_down: get(&self.sticky_down),
            no_backend: get(&self.no_backend),
            upstream_errors: get(&self.upstream_errors),
            upstream_timeouts: get(&self.upstream_timeouts),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The reverse proxy's shared state.
/// One worker's proxy: shares the backend list, the chooser and the counters with the other
/// workers, and owns its upstream connection pool.
#[derive(Debug)]
pub(super) struct Proxy {
    config: Arc<LbConfig>,
    backends: Arc<Backends>,
    chooser: Arc<Chooser>,
    pool: Pool,
    stats: Arc<LbStats>,
}

/// The client end of a connection, with what every request on it shares.
#[derive(Debug, Clone)]
pub(super) struct Client {
    pub ip: IpAddr,
    /// `X-Forwarded-For` for requests that arrive without one: formatted once per connection.
    forwarded_for: HeaderValue,
}

impl Client {
    pub fn new(ip: IpAddr) -> Self {
        let forwarded_for =
            HeaderValue::try_from(ip.to_string()).expect("an IP address is a valid header value");
        Self { ip, forwarded_for }
    }
}

/// Keeps a backend's in-flight count right even when the request is cancelled.
struct Inflight<'a>(&'a Backend);

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Proxy {
    /// Must be called on the worker's own runtime: the pool spawns connection tasks there.
    pub fn new(
        config: Arc<LbConfig>,
        backends: Arc<Backends>,
        chooser: Arc<Chooser>,
        stats: Arc<LbStats>,
    ) -> Self {
        let pool = Pool::new(config.connect_timeout, config.max_response_bytes);
        Self {
            config,
            backends,
            chooser,
            pool,
            stats,
        }
    }

    /// What a client may hold of this balancer.
    pub fn limits(&self) -> &crate::limits::ClientLimits {
        &self.config.limits
    }

    /// Forwards `req` from `client` and returns the answer to send back. Never fails: every
    /// problem becomes a JSON error response.
    pub async fn handle(&self, req: Request<WatchedBody>, client: &Client) -> Response<ProxyBody> {
        bump(&self.stats.requests);
        let (parts, body) = req.into_parts();
        if limits::declares_over(&parts.headers, self.config.body_limit) {
            return limits::too_large(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": "body-too-large" }),
            ));
        }
        let body = match self.buffer(body).await {
            Ok(body) => body,
            Err(refused) => return refused,
        };
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        let bound_to = match self.config.policy {
            Policy::CookieRoute => cookie(&headers, &self.config.session_cookie)
                .and_then(|v| v.rsplit_once('.').map(|(_, route)| route.to_string())),
            // `indirect`: the application never sees the balancer's cookie.
            Policy::CookieInsert => take_cookie(&mut headers, &self.config.affinity_cookie),
            _ => None,
        };
        append_forwarded_for(&mut headers, client);
        let client = client.ip;
        // Origin form (`/path?query`), as a proxy sends it on to an HTTP/1.1 server.
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let idempotent = matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        let target = Target {
            client,
            bound_to: bound_to.as_deref(),
        };
        let backends = self.backends.snapshot();
        let mut tried = Vec::new();
        loop {
            let index = match self.chooser.choose(&backends, target, &tried) {
                Pick::Backend {
                    index,
                    redispatched,
                } => {
                    if redispatched {
                        bump(&self.stats.redispatched);
                    }
                    index
                }
                Pick::StickyDown { index } => {
                    bump(&self.stats.sticky_down);
                    let body = json!({ "error": "backend-down", "backend": backends[index].name });
                    return error(StatusCode::SERVICE_UNAVAILABLE, body);
                }
                Pick::NoBackend => {
                    bump(&self.stats.no_backend);
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({ "error": "no-backend" }),
                    );
                }
            };
            let backend = &backends[index];
            let out = Outgoing {
                method: &parts.method,
                path,
                headers: &headers,
                body: &body,
                idempotent,
            };
            backend.started_request();
            backend.inflight.fetch_add(1, Ordering::Relaxed);
            let guard = Inflight(backend);
            let sent = tokio::time::timeout(
                self.config.upstream_timeout,
                self.pool.exchange(backend.addr, out),
            )
            .await;
            drop(guard);
            match sent {
                Ok(Ok(response)) => return self.answer(response, backend, bound_to.as_deref()),
                Ok(Err(e)) => {
                    backend.failed_request();
                    // A request that never left can go anywhere; one that may have been
                    // processed is repeated only if repeating it is harmless.
                    if matches!(e, SendError::Connect { .. }) || idempotent {
                        tried.push(index);
                        continue;
                    }
                    bump(&self.stats.upstream_errors);
                    let body = json!({ "error": "bad-gateway", "backend": backend.name, "detail": crate::error_chain::render(&e) });
                    return error(StatusCode::BAD_GATEWAY, body);
                }
                Err(_elapsed) => {
                    backend.failed_request();
                    if idempotent {
                        tried.push(index);
                        continue;
                    }
                    bump(&self.stats.upstream_timeouts);
                    return error(
                        StatusCode::GATEWAY_TIMEOUT,
                        json!({ "error": "upstream-timeout", "backend": backend.name }),
                    );
                }
            }
        }
    }

    /// The request's body, buffered so a request can be sent again to another backend after
    /// a failure; or the answer that refuses it (over the limit, or unreadable).
    async fn buffer(&self, body: WatchedBody) -> Result<Bytes, Response<ProxyBody>> {
        if body.is_end_stream() {
            Ok(Bytes::new())
        } else {
            match Limited::new(body, self.config.body_limit).collect().await {
                Ok(collected) => Ok(collected.to_bytes()),
                Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({ "error": "body-too-large" }),
                )),
                Err(e) => {
                    let detail = e.to_string();
                    Err(error(
                        StatusCode::BAD_REQUEST,
                        json!({ "error": "bad-request", "detail": detail }),
                    ))
                }
            }
        }
    }

    fn answer(
        &self,
        answer: Answer,
        backend: &Backend,
        bound_to: Option<&str>,
    ) -> Response<ProxyBody> {
        let mut response = Response::new(Full::new(answer.body));
        *response.status_mut() = answer.status;
        *response.headers_mut() = answer.headers;
        let headers = response.headers_mut();
        strip_hop_by_hop(headers);
        if self.config.policy == Policy::CookieInsert && bound_to != Some(backend.name.as_str()) {
            let value = format!("{}={}; Path=/", self.config.affinity_cookie, backend.name);
            headers.append(
                header::SET_COOKIE,
                HeaderValue::try_from(value).expect("names are header-safe"),
            );
            // `nocache`: a shared cache must not hand one client's affinity cookie to another.
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("private"));
        }
        response
    }
}

fn error(status: StatusCode, body: serde_json::Value) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the few names a message has is cheaper than seven hashed removals, and
    // most messages have none of these.
    if headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        for name in &HOP_BY_HOP {
            headers.remove(name);
        }
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, client: &Client) {
    let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(earlier) => match HeaderValue::try_from(format!("{earlier}, {}", client.ip)) {
            Ok(value) => value,
            Err(_) => return,
        },
        None => client.forwarded_for.clone(),
    };
    headers.insert(X_FORWARDED_FOR, value);
}

/// The value of cookie `name`, if the request carries it.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            pair.trim()
                .split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
}

/// Removes cookie `name` from the request and returns its value.
fn take_cookie(headers: &mut HeaderMap, name: &str) -> Option<String> {
    let value = cookie(headers, name)?.to_string();
    let rest: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| pair.split_once('=').is_none_or(|(k, _)| k != name) && !pair.is_empty())
        .map(str::to_string)
        .collect();
    headers.remove(header::COOKIE);
    if !rest.is_empty() {
        if let Ok(v) = HeaderValue::try_from(rest.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(v).expect("ascii"));
        h
    }

    #[test]
    fn finds_and_takes_cookies() {
        let mut h = with_cookie("SESSION=abc.node2; SERVERID=node1; x=1");
        assert_eq!(cookie(&h, "SESSION"), Some("abc.node2"));
        assert_eq!(take_cookie(&mut h, "SERVERID").as_deref(), Some("node1"));
        assert_eq!(
            h.get(header::COOKIE).expect("rest kept"),
            "SESSION=abc.node2; x=1"
        );
        let mut only = with_cookie("SERVERID=node1");
        assert_eq!(take_cookie(&mut only, "SERVERID").as_deref(), Some("node1"));
        assert!(only.get(header::COOKIE).is_none());
        assert_eq!(take_cookie(&mut with_cookie("a=b"), "SERVERID"), None);
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = with_cookie("a=b");
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), [header::COOKIE]);
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = HeaderMap::new();
        append_forwarded_for(&mut h, &Client::new("127.0.0.5".parse().expect("ip")));
        append_forwarded_for(&mut h, &Client::new("127.0.0.6".parse().expect("ip")));
        assert_eq!(h.get(X_FORWARDED_FOR).expect("set"), "127.0.0.5, 127.0.0.6");
    }
}
