//! Reading the session cookie and writing `Set-Cookie`.

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HeaderValue};

use super::error::ApiError;
use crate::names::is_node_id;
use crate::session::SessionId;

/// The session a request names: its id and the route suffix it carried, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCookie {
    pub id: SessionId,
    pub route: Option<String>,
}

/// Finds the cookie `name` in the request. `Ok(None)` when absent; an error when present but
/// not something a node issued (a mangled or forged value).
pub fn read(headers: &HeaderMap, name: &str) -> Result<Option<SessionCookie>, ApiError> {
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else {
            return Err(ApiError::BadCookie);
        };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == name {
                return parse_value(v.trim_matches('"'))
                    .map(Some)
                    .ok_or(ApiError::BadCookie);
            }
        }
    }
    Ok(None)
}

fn parse_value(v: &str) -> Option<SessionCookie> {
    let (id, route) = match v.split_once('.') {
        Some((id, route)) if is_node_id(route) => (id, Some(route.to_string())),
        Some(_) => return None,
        None => (v, None),
    };
    Some(SessionCookie {
        id: SessionId::parse(id)?,
        route,
    })
}

/// The cookie value clients see for `id` when served by `node`.
pub fn public_id(id: &SessionId, node: &str, route_suffix: bool) -> String {
    if route_suffix {
        format!("{id}.{node}")
    } else {
        id.to_string()
    }
}

/// `Set-Cookie` that binds the client to `value`.
pub fn set(name: &str, value: &str) -> HeaderValue {
    HeaderValue::try_from(format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax"))
        .expect("cookie names and ids are validated to header-safe characters")
}

/// `Set-Cookie` that removes the session cookie (logout).
pub fn clear(name: &str) -> HeaderValue {
    HeaderValue::try_from(format!(
        "{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .expect("cookie names are validated to header-safe characters")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).expect("test cookie"));
        h
    }

    #[test]
    fn reads_plain_and_routed_ids_among_other_cookies() {
        let id = SessionId::generate();
        let got = read(&headers(&format!("a=b; SESSION={id}; c=d")), "SESSION").expect("valid");
        assert_eq!(
            got,
            Some(SessionCookie {
                id: id.clone(),
                route: None
            })
        );
        let got = read(&headers(&format!("SESSION={id}.node2")), "SESSION").expect("valid");
        assert_eq!(
            got,
            Some(SessionCookie {
                id,
                route: Some("node2".into())
            })
        );
    }

    #[test]
    fn absent_is_none_and_mangled_is_an_error() {
        assert_eq!(read(&headers("other=1"), "SESSION").expect("valid"), None);
        assert_eq!(read(&HeaderMap::new(), "SESSION").expect("valid"), None);
        for bad in [
            "SESSION=nothex",
            "SESSION=",
            "SESSION=0123.node 1",
            "SESSION=0.a.b",
        ] {
            assert!(read(&headers(bad), "SESSION").is_err(), "{bad}");
        }
    }
}
