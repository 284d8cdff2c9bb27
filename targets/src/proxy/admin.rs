//! The proxy's admin API, on its own loopback port: `GET /faults` shows the faults in force,
//! `PUT /faults` replaces them (a JSON `Faults`; missing fields are off), `DELETE /faults`
//! clears them.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{Faults, Proxy};

pub(super) fn router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route("/faults", get(show).put(set).delete(clear))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "not-found", "routes": "GET, PUT, DELETE /faults" })),
            )
        })
        .layer(axum::middleware::from_fn(
            crate::local_only::loopback_host_only,
        ))
        .with_state(proxy)
}

async fn show(State(proxy): State<Arc<Proxy>>) -> Json<Faults> {
    Json(proxy.faults())
}

async fn set(
    State(proxy): State<Arc<Proxy>>,
    body: Result<Json<Faults>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(faults)) => {
            proxy.set(faults);
            Json(faults).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "bad-faults", "detail": e.body_text() })),
        )
            .into_response(),
    }
}

async fn clear(State(proxy): State<Arc<Proxy>>) -> Json<Faults> {
    proxy.set(Faults::default());
    Json(Faults::default())
}
