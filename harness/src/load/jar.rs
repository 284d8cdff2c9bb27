//! A user's cookies, kept as a browser keeps them (RFC 6265, section 5): each by name, domain
//! and path; `Domain` widening a cookie to subdomains, `Path` narrowing it; `Secure` ones sent
//! only over HTTPS; `Max-Age` and `Expires` ending them, an expired one deleting its namesake.
//! One jar talks to one host, so a cookie for another domain is refused, as a browser would.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// Lowercase, without a leading dot.
    domain: String,
    /// Sent to the host that set it only (no `Domain` attribute).
    host_only: bool,
    path: String,
    secure: bool,
    expires: Option<SystemTime>,
    /// Order of first creation, for the `Cookie` header's order.
    created: u64,
}

#[derive(Debug, Clone)]
pub struct Jar {
    /// The host requests go to (lowercase, no port).
    host: String,
    https: bool,
    cookies: Vec<Cookie>,
    created: u64,
}

impl Jar {
    pub fn new(host: &str, https: bool) -> Self {
        Self {
            host: host.to_ascii_lowercase(),
            https,
            cookies: Vec::new(),
            created: 0,
        }
    }

    /// Takes one `Set-Cookie` value from the answer to a request for `request_path`; whether
    /// the jar changed.
    pub fn store(&mut self, set_cookie: &str, request_path: &str, now: SystemTime) -> bool {
        let Some(parsed) = self.parse(set_cookie, request_path, now) else {
            return false;
        };
        let at = self.cookies.iter().position(|c| {
            c.name == parsed.name && c.domain == parsed.domain && c.path == parsed.path
        });
        let expired = parsed.expires.is_some_and(|t| t <= now);
        match (at, expired) {
            (Some(i), true) => {
                self.cookies.remove(i);
                true
            }
            (None, true) => false,
            (Some(i), false) => {
                // It keeps its place in the header's order.
                let parsed = Cookie {
                    created: self.cookies[i].created,
                    ..parsed
                };
                let changed = self.cookies[i] != parsed;
                self.cookies[i] = parsed;
                changed
            }
            (None, false) => {
                self.cookies.push(parsed);
                true
            }
        }
    }

    fn parse(&mut self, set_cookie: &str, request_path: &str, now: SystemTime) -> Option<Cookie> {
        let mut parts = set_cookie.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return None;
        }
        let mut cookie = Cookie {
            name: name.to_string(),
            value: value.to_string(),
            domain: self.host.clone(),
            host_only: true,
            path: default_path(request_path),
            secure: false,
            expires: None,
            created: self.created,
        };
        let mut max_age = None;
        for attr in parts {
            let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "expires" => {
                    if let Ok(t) = httpdate::parse_http_date(val) {
                        cookie.expires = Some(t);
                    }
                }
                "max-age" => {
                    if let Ok(seconds) = val.parse::<i64>() {
                        max_age = Some(seconds);
                    }
                }
                "domain" if !val.is_empty() => {
                    let domain = val.trim_start_matches('.').to_ascii_lowercase();
                    if !domain_matches(&self.host, &domain) {
                        return None; // For another site: a browser refuses it.
                    }
                    // An IP address matches only itself (`domain_matches`), so is never widened.
                    cookie.host_only = false;
                    cookie.domain = domain;
                }
                "path" if val.starts_with('/') => cookie.path = val.to_string(),
                "secure" => cookie.secure = true,
                _ => {}
            }
        }
        // Max-Age wins over Expires; zero or less means "already expired".
        if let Some(seconds) = max_age {
            cookie.expires = Some(match u64::try_from(seconds) {
                Ok(s) if s > 0 => now + Duration::from_secs(s),
                _ => SystemTime::UNIX_EPOCH,
            });
        }
        // A Secure cookie over plain HTTP is dropped (RFC 6265bis, as browsers do).
        if cookie.secure && !self.https {
            return None;
        }
        self.created += 1;
        Some(cookie)
    }

    /// The `Cookie` header for a request to `path`: matching cookies, longest path first, then
    /// oldest first. `None` when none applies.
    pub fn header(&self, path: &str, now: SystemTime) -> Option<String> {
        let mut sent: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                (!c.secure || self.https)
                    && c.expires.is_none_or(|t| t > now)
                    && path_matches(path, &c.path)
                    && (if c.host_only {
                        c.domain == self.host
                    } else {
                        domain_matches(&self.host, &c.domain)
                    })
            })
            .collect();
        if sent.is_empty() {
            return None;
        }
        sent.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        let pairs: Vec<String> = sent
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        Some(pairs.join("; "))
    }

    /// Whether the header is the same for every path and time: every cookie at `/` and none
    /// that expires (then it can be made once per change).
    pub fn uniform(&self) -> bool {
        self.cookies
            .iter()
            .all(|c| c.path == "/" && c.expires.is_none())
    }

    /// The value of the cookie called `name` (the one with the longest path), if held.
    pub fn get(&self, name: &str, now: SystemTime) -> Option<&str> {
        self.cookies
            .iter()
            .filter(|c| c.name == name && c.expires.is_none_or(|t| t > now))
            .max_by_key(|c| c.path.len())
            .map(|c| c.value.as_str())
    }
}

/// RFC 6265 5.1.3: the host is the domain, or ends with `.domain` and is not an IP address.
fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.ends_with(domain)
            && host[..host.len() - domain.len()].ends_with('.')
            && host.parse::<std::net::IpAddr>().is_err())
}

/// RFC 6265 5.1.4: the cookie's path is the request's, or a prefix of it ending at a `/`.
fn path_matches(request: &str, cookie: &str) -> bool {
    let request = request.split('?').next().unwrap_or(request);
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

/// RFC 6265 5.1.4: the request path up to its last `/` (not included), or `/`.
fn default_path(request: &str) -> String {
    let request = request.split('?').next().unwrap_or(request);
    match request.rfind('/') {
        Some(i) if i > 0 && request.starts_with('/') => request[..i].to_string(),
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn jar(host: &str, https: bool, set: &[(&str, &str)]) -> Jar {
        let mut j = Jar::new(host, https);
        for (path, set_cookie) in set {
            j.store(set_cookie, path, now());
        }
        j
    }

    fn header(j: &Jar, path: &str) -> String {
        j.header(path, now()).unwrap_or_default()
    }

    #[test]
    fn several_cookies_are_sent_together_in_creation_order() {
        let j = jar(
            "shop.test",
            false,
            &[("/", "SID=1; Path=/; HttpOnly"), ("/", "lang=en; Path=/")],
        );
        assert_eq!(header(&j, "/account"), "SID=1; lang=en");
        assert!(j.uniform());
        assert_eq!(j.get("lang", now()), Some("en"));
    }

    #[test]
    fn a_cookie_of_the_same_name_domain_and_path_replaces_the_old_and_keeps_its_place() {
        let mut j = jar("shop.test", false, &[("/", "a=1"), ("/", "b=2")]);
        assert!(j.store("a=3", "/", now()));
        assert!(
            !j.store("a=3", "/", now()),
            "the same again changes nothing"
        );
        assert_eq!(header(&j, "/"), "a=3; b=2");
    }

    #[test]
    fn path_narrows_and_longer_paths_come_first() {
        let j = jar(
            "shop.test",
            false,
            &[("/", "a=root; Path=/"), ("/", "csrf=t; Path=/login")],
        );
        assert_eq!(header(&j, "/login"), "csrf=t; a=root");
        assert_eq!(header(&j, "/login/step2?x=1"), "csrf=t; a=root");
        assert_eq!(
            header(&j, "/loginx"),
            "a=root",
            "a prefix must end at a `/`"
        );
        assert_eq!(header(&j, "/account"), "a=root");
        assert!(!j.uniform());
    }

    #[test]
    fn without_path_the_default_is_the_request_path_s_directory() {
        let j = jar("shop.test", false, &[("/app/login?next=/", "s=1")]);
        assert_eq!(header(&j, "/app/cart"), "s=1");
        assert_eq!(header(&j, "/other"), "");
        let j = jar("shop.test", false, &[("/login", "s=1; Path=relative")]);
        assert_eq!(
            header(&j, "/anything"),
            "s=1",
            "`/login` has the default path `/`"
        );
    }

    #[test]
    fn domain_widens_to_subdomains_and_other_sites_are_refused() {
        let j = jar(
            "www.shop.test",
            false,
            &[("/", "wide=1; Domain=.shop.test")],
        );
        assert_eq!(header(&j, "/"), "wide=1");
        let mut j = Jar::new("www.shop.test", false);
        assert!(!j.store("evil=1; Domain=other.test", "/", now()));
        assert!(
            !j.store("evil=1; Domain=hop.test", "/", now()),
            "a suffix is not a domain"
        );
        assert!(!j.store("narrow=1; Domain=api.www.shop.test", "/", now()));
        assert_eq!(header(&j, "/"), "");
        // An IP address matches only itself.
        let mut j = Jar::new("10.0.0.2", false);
        assert!(!j.store("x=1; Domain=0.0.2", "/", now()));
        assert!(j.store("x=1; Domain=10.0.0.2", "/", now()));
        assert_eq!(header(&j, "/"), "x=1");
    }

    #[test]
    fn a_host_only_cookie_and_a_domain_cookie_of_one_name_are_two_cookies() {
        let j = jar(
            "shop.test",
            false,
            &[("/", "s=host"), ("/", "s=domain; Domain=shop.test")],
        );
        // Both are the host's domain at `/`: the second replaces the first.
        assert_eq!(header(&j, "/"), "s=domain");
    }

    #[test]
    fn secure_cookies_travel_only_over_https() {
        let mut plain = Jar::new("shop.test", false);
        assert!(!plain.store("s=1; Secure", "/", now()), "refused over http");
        let j = jar("shop.test", true, &[("/", "s=1; Secure; Path=/")]);
        assert_eq!(header(&j, "/"), "s=1");
    }

    #[test]
    fn max_age_and_expires_end_a_cookie_and_an_expired_one_deletes_it() {
        let mut j = jar("shop.test", false, &[("/", "s=1"), ("/", "t=2")]);
        assert!(j.store("s=; Max-Age=0", "/", now()));
        assert_eq!(header(&j, "/"), "t=2");
        assert!(j.store("t=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "/", now()));
        assert_eq!(header(&j, "/"), "");
        assert!(
            !j.store("u=; Max-Age=-1", "/", now()),
            "nothing to delete, nothing kept"
        );
        // Max-Age wins over Expires, and a cookie lives until its time.
        let mut j = Jar::new("shop.test", false);
        j.store(
            "s=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60",
            "/",
            now(),
        );
        assert_eq!(header(&j, "/"), "s=1");
        assert_eq!(j.header("/", now() + Duration::from_secs(61)), None);
        assert_eq!(j.get("s", now() + Duration::from_secs(61)), None);
        // A future Expires keeps it; a deletion must match its path.
        let mut j = jar(
            "shop.test",
            false,
            &[("/", "s=1; Path=/app; Expires=Wed, 01 Jan 2100 00:00:00 GMT")],
        );
        assert_eq!(header(&j, "/app"), "s=1");
        assert!(
            !j.store("s=; Max-Age=0; Path=/", "/", now()),
            "another path"
        );
        assert!(j.store("s=; Max-Age=0; Path=/app", "/", now()));
        assert_eq!(header(&j, "/app"), "");
    }

    #[test]
    fn malformed_set_cookie_values_are_ignored() {
        let mut j = Jar::new("shop.test", false);
        for bad in ["", "novalue", "=v", " ; Path=/"] {
            assert!(!j.store(bad, "/", now()), "{bad:?}");
        }
        // Unknown attributes and bad dates are ignored, the cookie kept.
        assert!(j.store(
            "s=1; SameSite=Lax; Expires=yesterday; Max-Age=x",
            "/",
            now()
        ));
        assert_eq!(header(&j, "/"), "s=1");
        assert!(j.store("q=\"quoted value\"", "/", now()));
        assert_eq!(j.get("q", now()), Some("\"quoted value\""));
    }
}
