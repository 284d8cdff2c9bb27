//! A HAR 1.2 file (as Chromium and Firefox export it) read into the exchanges an import
//! works on: each request with the cookies it sent and its body, each answer with the cookies
//! it set and its text; what a suite cannot use (other hosts, static assets, analytics,
//! requests never answered) is dropped and listed.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Har {
    log: Log,
}

#[derive(Debug, Deserialize)]
struct Log {
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    request: Request,
    response: Response,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    cookies: Vec<NameValue>,
    post_data: Option<PostData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PostData {
    mime_type: String,
    text: Option<String>,
    params: Vec<NameValue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    cookies: Vec<NameValue>,
    #[serde(default)]
    content: Content,
    #[serde(default, rename = "redirectURL")]
    redirect_url: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Content {
    mime_type: String,
    text: Option<String>,
    encoding: Option<String>,
}

/// A request's body, as a suite's template would send it.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(Value),
    /// Anything else, with its content type.
    Raw(String, String),
}

/// One request of the recording and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Its place in the recording (1 is the first entry).
    pub entry: usize,
    pub method: String,
    /// `scheme://host:port`.
    pub origin: String,
    /// The path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub body: Body,
    pub status: u16,
    pub answer_headers: Vec<(String, String)>,
    /// Cookies the answer set; an empty value is a cookie deleted.
    pub set_cookies: Vec<(String, String)>,
    pub mime: String,
    pub text: String,
}

impl Exchange {
    pub fn answer_header(&self, name: &str) -> Option<&str> {
        find(&self.answer_headers, name)
    }

    pub fn sends_cookie(&self, name: &str) -> Option<&str> {
        find_exact(&self.cookies, name)
    }

    pub fn sets_cookie(&self, name: &str) -> Option<&str> {
        find_exact(&self.set_cookies, name)
    }

    /// The answer's JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        let t = self.text.trim_start();
        (t.starts_with('{') || t.starts_with('[')).then(|| serde_json::from_str(t).ok())?
    }

    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// Where a redirect leads, as a path: `https://h/a?b` and `/a?b` give `/a`.
    pub fn redirect_route(&self) -> Option<&str> {
        let to = self.redirect()?;
        let to = to.split(['?', '#']).next().unwrap_or(to);
        Some(match to.find("://") {
            Some(i) => to[i + 3..].find('/').map_or("/", |p| &to[i + 3 + p..]),
            None => to,
        })
    }

    pub fn redirect(&self) -> Option<&str> {
        (300..400)
            .contains(&self.status)
            .then(|| self.answer_header("location"))?
    }

    /// "POST /login" and its place in the recording, for comments and messages.
    pub fn label(&self) -> String {
        format!("{} {} (entry {})", self.method, self.path, self.entry)
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn find_exact<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A request left out of the suite, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub what: String,
    pub why: &'static str,
}

/// The recording: the exchanges with the app's origin, in order, and what was dropped.
#[derive(Debug)]
pub struct Recording {
    pub origin: String,
    pub exchanges: Vec<Exchange>,
    pub dropped: Vec<Dropped>,
    /// Entries in the file.
    pub entries: usize,
}

/// Reads `path`; an error names the file and, for bad JSON, its line and column.
pub fn read(path: &Path) -> Result<Recording, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Recording, String> {
    let har: Har = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a HAR file (line {}, column {}): {e}",
            e.line(),
            e.column()
        )
    })?;
    let all: Vec<Exchange> = har
        .log
        .entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| exchange(i + 1, e))
        .collect();
    let entries = all.len();
    // The app's: where a body was sent and a cookie came back (a login), else where the
    // first answer came from (a page may load another host's script first).
    let origin = all
        .iter()
        .find(|x| x.method != "GET" && x.body != Body::None && !x.set_cookies.is_empty())
        .or_else(|| all.iter().find(|x| x.status != 0))
        .map(|x| x.origin.clone())
        .ok_or("the recording has no answered request")?;
    let mut exchanges = vec![];
    let mut dropped = vec![];
    for x in all {
        let why = if x.origin != origin {
            Some("another host")
        } else if x.status == 0 {
            Some("never answered (blocked or failed)")
        } else if is_static(&x) {
            Some("a static asset")
        } else if is_analytics(&x) {
            Some("analytics")
        } else {
            None
        };
        match why {
            Some(why) => dropped.push(Dropped {
                what: format!("{} {}{}", x.method, origin_of_other(&x, &origin), x.route()),
                why,
            }),
            None => exchanges.push(x),
        }
    }
    Ok(Recording {
        origin,
        exchanges,
        dropped,
        entries,
    })
}

fn origin_of_other<'a>(x: &'a Exchange, origin: &str) -> &'a str {
    if x.origin == origin { "" } else { &x.origin }
}

fn exchange(entry: usize, e: Entry) -> Option<Exchange> {
    let (origin, path) = split_url(&e.request.url)?;
    let pairs = |v: Vec<NameValue>| -> Vec<(String, String)> {
        v.into_iter().map(|p| (p.name, p.value)).collect()
    };
    let headers = pairs(e.request.headers);
    // The Cookie header is what was sent; the cookies array is the fallback (Firefox).
    let cookies = match find(&headers, "cookie") {
        Some(c) => c
            .split(';')
            .filter_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
        None => pairs(e.request.cookies),
    };
    let answer_headers = pairs(e.response.headers);
    let set_cookies: Vec<(String, String)> = {
        let lines: Vec<&str> = answer_headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .flat_map(|(_, v)| v.split('\n'))
            .collect();
        if lines.is_empty() {
            pairs(e.response.cookies)
        } else {
            lines.into_iter().filter_map(set_cookie).collect()
        }
    };
    let body = body(e.request.post_data);
    let text = match (e.response.content.text, e.response.content.encoding) {
        (Some(t), Some(enc)) if enc.eq_ignore_ascii_case("base64") => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(t.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default()
        }
        (Some(t), _) => t,
        (None, _) => String::new(),
    };
    let location =
        if e.response.redirect_url.is_empty() || find(&answer_headers, "location").is_some() {
            None
        } else {
            Some(("Location".to_string(), e.response.redirect_url))
        };
    Some(Exchange {
        entry,
        method: e.request.method.to_ascii_uppercase(),
        origin,
        path,
        headers,
        cookies,
        body,
        status: u16::try_from(e.response.status).unwrap_or(0),
        answer_headers: answer_headers.into_iter().chain(location).collect(),
        set_cookies,
        mime: e.response.content.mime_type.to_ascii_lowercase(),
        text,
    })
}

/// `Set-Cookie: NAME=VALUE; Max-Age=0` is the cookie deleted: its value is then empty.
fn set_cookie(line: &str) -> Option<(String, String)> {
    let mut parts = line.split(';');
    let (name, value) = parts.next()?.trim().split_once('=')?;
    let deleted = parts.any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == "max-age=0" || a.starts_with("max-age=-") || a.starts_with("expires=thu, 01 jan 1970")
    });
    Some((
        name.to_string(),
        if deleted {
            String::new()
        } else {
            value.to_string()
        },
    ))
}

fn body(post: Option<PostData>) -> Body {
    let Some(p) = post else { return Body::None };
    let mime = p.mime_type.to_ascii_lowercase();
    let text = p.text.unwrap_or_default();
    if mime.starts_with("application/x-www-form-urlencoded") {
        // The text as sent, decoded here: Chromium's `params` keep the percent-encoding.
        if text.is_empty() {
            return Body::Form(p.params.into_iter().map(|p| (p.name, p.value)).collect());
        }
        return Body::Form(form_pairs(&text));
    }
    if mime.contains("json") || text.trim_start().starts_with('{') {
        if let Ok(v) = serde_json::from_str(&text) {
            return Body::Json(v);
        }
    }
    if text.is_empty() {
        Body::None
    } else {
        Body::Raw(text, p.mime_type)
    }
}

/// `a=1&b=x+y` decoded.
fn form_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// `("http://h:80", "/p?q")`; the default port is written out, so one origin has one name.
fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let authority = authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_ascii_lowercase();
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let authority = if has_port {
        authority
    } else {
        format!("{authority}:{}", if scheme == "https" { 443 } else { 80 })
    };
    Some((format!("{scheme}://{authority}"), path))
}

const STATIC: &[&str] = &[
    "css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif", "woff",
    "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3",
];

fn is_static(x: &Exchange) -> bool {
    let route = x.route();
    let ext = route
        .rsplit('/')
        .next()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e);
    ext.is_some_and(|e| STATIC.contains(&e.to_ascii_lowercase().as_str()))
        || [
            "image/",
            "font/",
            "text/css",
            "javascript",
            "video/",
            "audio/",
        ]
        .iter()
        .any(|m| x.mime.contains(m))
}

const ANALYTICS: &[&str] = &[
    "analytics",
    "collect",
    "beacon",
    "track",
    "tracking",
    "telemetry",
    "gtm",
    "pixel",
    "rum",
];

fn is_analytics(x: &Exchange) -> bool {
    x.route()
        .split('/')
        .any(|s| ANALYTICS.contains(&s.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_with_their_default_ports() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/a/b?c=1#x"),
            Some(("http://127.0.0.1:8080".into(), "/a/b?c=1".into()))
        );
        assert_eq!(
            split_url("https://Shop.Example/"),
            Some(("https://shop.example:443".into(), "/".into()))
        );
        assert_eq!(split_url("data:text/plain,x"), None);
    }

    #[test]
    fn a_deleted_cookie_has_no_value() {
        assert_eq!(
            set_cookie("sid=; Path=/; Max-Age=0"),
            Some(("sid".into(), String::new()))
        );
        assert_eq!(
            set_cookie("sid=abc; Path=/"),
            Some(("sid".into(), "abc".into()))
        );
    }

    #[test]
    fn bad_json_is_named_by_line_and_column() {
        let e = parse("{\"log\": {\"entries\": [}").expect_err("refused");
        assert!(e.starts_with("not a HAR file (line 1, column 22)"), "{e}");
        let e = parse("{\"log\": {}}").expect_err("refused");
        assert!(e.contains("missing field `entries`"), "{e}");
    }
}
