//! One request and its answer, as the protocols make and read them and the client sends them.

use std::borrow::Cow;

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};

/// One request: what a protocol makes of an operation.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Path and query (most of the node protocol's are fixed).
    pub path: Cow<'static, str>,
    /// Beyond `Host` and `Cookie` (which the client sets; a `Host` here replaces its own).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
}

impl Call {
    pub fn new(method: Method, path: impl Into<Cow<'static, str>>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// With a JSON body.
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        self.body = serde_json::to_vec(body).expect("a JSON value serialises");
        self
    }
}

/// The user's cookies by name, as the jar holds them after an answer.
pub type Cookies<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}
