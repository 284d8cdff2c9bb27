//! The admin APIs answer only requests that name loopback in `Host`. They listen on loopback
//! already, but a web page elsewhere could rebind a name of its own to 127.0.0.1 and have a
//! browser on this machine call them; its requests carry that name, and are refused here.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::names::loopback_host;

/// Middleware: 421 Misdirected Request unless `Host` is `localhost`, 127.x or `[::1]`.
pub async fn loopback_host_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if loopback_host(host) {
        return next.run(request).await;
    }
    (
        StatusCode::MISDIRECTED_REQUEST,
        axum::Json(json!({
            "error": "not-loopback-host",
            "detail": format!("Host `{host}` does not name loopback: the admin API answers only requests to localhost, 127.x or [::1]"),
        })),
    )
        .into_response()
}
