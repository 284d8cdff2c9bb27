//! The balancer's admin API, on its own loopback port: list, add and remove backends at run
//! time (scale-out and scale-in faults), and read counters.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::json;

use super::backends::{BackendView, Backends, ChangeError};
use super::proxy::LbStats;
use crate::names::NamedAddr;

#[derive(Debug, Clone)]
pub(super) struct Admin {
    pub backends: Arc<Backends>,
    pub stats: Arc<LbStats>,
}

pub(super) fn router(admin: Admin) -> Router {
    Router::new()
        .route("/backends", get(list).post(add))
        .route("/backends/{name}", delete(remove))
        .route("/metrics", get(metrics))
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "not-found", None) })
        .layer(axum::middleware::from_fn(
            crate::local_only::loopback_host_only,
        ))
        .with_state(admin)
}

fn views(backends: &Backends) -> Vec<BackendView> {
    backends.snapshot().iter().map(|b| b.view()).collect()
}

fn fail(status: StatusCode, code: &str, detail: Option<String>) -> Response {
    (status, Json(json!({ "error": code, "detail": detail }))).into_response()
}

async fn list(State(admin): State<Admin>) -> Json<Vec<BackendView>> {
    Json(views(&admin.backends))
}

async fn add(State(admin): State<Admin>, spec: Result<Json<NamedAddr>, JsonRejection>) -> Response {
    let spec = match spec {
        Ok(Json(spec)) => spec,
        Err(e) => return fail(StatusCode::BAD_REQUEST, "bad-json", Some(e.body_text())),
    };
    if let Err(e) = spec.validate() {
        return fail(StatusCode::BAD_REQUEST, "bad-request", Some(e.to_string()));
    }
    match admin.backends.add(&spec) {
        Ok(()) => {
            eprintln!("lb: backend {} ({}) added", spec.name, spec.addr);
            (StatusCode::CREATED, Json(views(&admin.backends))).into_response()
        }
        Err(e @ ChangeError::Exists(_)) => {
            fail(StatusCode::CONFLICT, "exists", Some(e.to_string()))
        }
        Err(e) => fail(StatusCode::BAD_REQUEST, "bad-request", Some(e.to_string())),
    }
}

async fn remove(State(admin): State<Admin>, Path(name): Path<String>) -> Response {
    match admin.backends.remove(&name) {
        Ok(()) => {
            eprintln!("lb: backend {name} removed");
            Json(views(&admin.backends)).into_response()
        }
        Err(e) => fail(
            StatusCode::NOT_FOUND,
            "unknown-backend",
            Some(e.to_string()),
        ),
    }
}

async fn metrics(State(admin): State<Admin>) -> Response {
    Json(json!({ "proxy": admin.stats.view(), "backends": views(&admin.backends) })).into_response()
}
