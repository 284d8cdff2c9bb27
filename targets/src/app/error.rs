//! Client and server errors as JSON bodies: every non-2xx answer is `{"error": code, …}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// Why a request was not served. The code string is stable; the harness matches on it.
#[derive(Debug)]
pub enum ApiError {
    NoSession,
    BadCookie,
    BadJson(String),
    BadRequest(String),
    TooLarge,
    NotFound,
    MethodNotAllowed,
    /// A whole-locked save could not take the session's lock in time: nothing was applied.
    Locked,
    Store(StoreError),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NoSession => (StatusCode::UNAUTHORIZED, "no-session"),
            Self::BadCookie => (StatusCode::BAD_REQUEST, "bad-cookie"),
            Self::BadJson(_) => (StatusCode::BAD_REQUEST, "bad-json"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
            Self::Locked => (StatusCode::SERVICE_UNAVAILABLE, "session-locked"),
            Self::Store(StoreError::Unanswered { .. }) => {
                (StatusCode::GATEWAY_TIMEOUT, "store-timeout")
            }
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store-unavailable"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let detail = match &self {
            Self::BadJson(d) | Self::BadRequest(d) => Some(d.clone()),
            Self::Store(e) => Some(crate::error_chain::render(e)),
            _ => None,
        };
        let body = match detail {
            Some(detail) => json!({ "error": code, "detail": detail }),
            None => json!({ "error": code }),
        };
        (status, Json(body)).into_response()
    }
}
