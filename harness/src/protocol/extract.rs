//! Reading one field (user, counter, value, serving node, a login step's token) out of an
//! application's answer: a JSON pointer into its body, a regex over its body, a header, or a
//! cookie the answer left in the user's jar.

use hyper::header::HeaderName;
use regex_lite::Regex;
use serde_json::Value;

use super::exchange::{Cookies, Reply};
use sessionbench_model::plan::Extract;

#[derive(Debug, Clone)]
pub enum Extractor {
    Pointer(String),
    Regex(Regex),
    Header(HeaderName),
    Cookie(String),
}

impl Extractor {
    /// Checks and prepares `e`; the error says what is wrong with it.
    pub fn compile(e: &Extract) -> Result<Self, String> {
        match e {
            Extract::Pointer(p) => {
                if !(p.is_empty() || p.starts_with('/')) {
                    return Err(format!(
                        "`{p}` is not a JSON pointer: it must start with `/` (e.g. \"/user/name\")"
                    ));
                }
                let mut tildes = p.match_indices('~');
                if tildes.any(|(i, _)| !matches!(p.as_bytes().get(i + 1), Some(b'0' | b'1'))) {
                    return Err(format!(
                        "`{p}` is not a JSON pointer: `~` must be followed by 0 or 1"
                    ));
                }
                Ok(Self::Pointer(p.clone()))
            }
            Extract::Regex(r) => Regex::new(r)
                .map(Self::Regex)
                .map_err(|e| format!("not a valid regex: {}", first_line(&e.to_string()))),
            Extract::Header(h) => HeaderName::try_from(h.as_str())
                .map(Self::Header)
                .map_err(|_| format!("`{h}` is not a valid header name")),
            Extract::Cookie(c) if c.is_empty() || c.contains([';', '=', ' ']) => {
                Err(format!("`{c}` is not a cookie name"))
            }
            Extract::Cookie(c) => Ok(Self::Cookie(c.clone())),
        }
    }

    /// The field in `reply`, if it is there; `json` is the body parsed once for every pointer,
    /// `cookies` the user's jar after the answer.
    pub fn find(
        &self,
        reply: &Reply,
        json: &mut Option<Option<Value>>,
        cookies: Cookies,
    ) -> Option<String> {
        match self {
            Self::Pointer(p) => {
                let body = json.get_or_insert_with(|| serde_json::from_slice(&reply.body).ok());
                match body.as_ref()?.pointer(p)? {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                }
            }
            Self::Regex(r) => {
                let body = std::str::from_utf8(&reply.body).ok()?;
                let caps = r.captures(body)?;
                caps.get(1)
                    .or_else(|| caps.get(0))
                    .map(|m| m.as_str().to_string())
            }
            Self::Header(h) => reply
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            Self::Cookie(name) => cookies(name),
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::StatusCode;
    use hyper::header::{HeaderMap, HeaderValue};

    fn reply(body: &str) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert("x-served-by", HeaderValue::from_static("app2"));
        Reply {
            status: StatusCode::OK,
            headers,
            body: body.to_string().into(),
        }
    }

    fn find(e: Extract, body: &str) -> Option<String> {
        Extractor::compile(&e)
            .expect("valid")
            .find(&reply(body), &mut None, &|name| {
                (name == "SID").then(|| "s1".to_string())
            })
    }

    #[test]
    fn pointers_regexes_and_headers_find_their_field() {
        let json = r#"{"cart": {"items": 3, "owner": "v1.2", "note": null}}"#;
        assert_eq!(
            find(Extract::Pointer("/cart/items".into()), json),
            Some("3".into())
        );
        assert_eq!(
            find(Extract::Pointer("/cart/owner".into()), json),
            Some("v1.2".into())
        );
        assert_eq!(find(Extract::Pointer("/cart/note".into()), json), None);
        assert_eq!(find(Extract::Pointer("/cart/x".into()), json), None);
        assert_eq!(find(Extract::Pointer("/a".into()), "<html>"), None);
        let html = "<p>Signed in as <b>v1.2</b></p>";
        assert_eq!(
            find(Extract::Regex("as <b>([^<]+)</b>".into()), html),
            Some("v1.2".into())
        );
        assert_eq!(
            find(Extract::Regex("Signed in".into()), html),
            Some("Signed in".into())
        );
        assert_eq!(find(Extract::Regex("Bye".into()), html), None);
        assert_eq!(
            find(Extract::Header("X-Served-By".into()), ""),
            Some("app2".into())
        );
        assert_eq!(find(Extract::Cookie("SID".into()), ""), Some("s1".into()));
        assert_eq!(find(Extract::Cookie("other".into()), ""), None);
    }

    #[test]
    fn bad_pointers_regexes_and_header_names_are_refused() {
        let err = |e: Extract| Extractor::compile(&e).expect_err("invalid");
        assert!(err(Extract::Pointer("cart/items".into())).contains("must start with `/`"));
        assert!(err(Extract::Pointer("/a~2b".into())).contains("followed by 0 or 1"));
        assert!(err(Extract::Regex("(unclosed".into())).contains("not a valid regex"));
        assert!(err(Extract::Header("bad header".into())).contains("not a valid header"));
        assert!(err(Extract::Cookie("a=b".into())).contains("not a cookie name"));
        Extractor::compile(&Extract::Pointer("/a~1b/~0c".into())).expect("escapes are valid");
    }
}
