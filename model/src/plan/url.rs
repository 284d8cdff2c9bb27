//! Where an external target serves and how it is reached: `http(s)://HOST[:PORT][/PATH]`, its
//! host as written (for `Host`, SNI and cookie domains) and the address it resolved to once,
//! when the suite was checked, so every connection of a run goes to the same place and
//! plan.json says which; how its certificate is checked; how users' addresses are shown.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    Http,
    Https,
}

/// A checked URL and the address its host resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TargetUrl {
    pub scheme: Scheme,
    /// The host as written, lowercased, without brackets: a name or an IP address.
    pub host: String,
    pub port: u16,
    pub addr: SocketAddr,
    /// The URL's path (`/` for none).
    pub path: String,
}

impl TargetUrl {
    /// Parses `url` and resolves its host. Without `remote`, the address must be on loopback:
    /// the error then says how to allow another host.
    pub fn parse(url: &str, remote: bool) -> Result<Self, String> {
        Self::parse_with(url, remote, true)
    }

    /// As [`TargetUrl::parse`]; without `resolve`, a name's address is left unspecified.
    pub fn parse_with(url: &str, remote: bool, resolve: bool) -> Result<Self, String> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(format!("`{url}` is not an http:// or https:// URL"));
        };
        let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(format!(
                "`{url}` carries credentials: give them in the login requests, not in the URL"
            ));
        }
        let default_port = match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| format!("`{authority}` is not HOST or HOST:PORT"))?;
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{p}` is not a port"))?,
        };
        let host = host.to_ascii_lowercase();
        let allow = "a deployment on another host needs `remote = true` on the target (or `--allow-remote`)";
        // Without `remote` no name is looked up: the query itself would leave the machine.
        let addr = match (literal(&host, port), remote) {
            (Some(addr), _) if remote || addr.ip().is_loopback() => addr,
            (Some(addr), _) => {
                return Err(format!("{} is not a loopback address; {allow}", addr.ip()));
            }
            (None, true) if !resolve => SocketAddr::from(([0, 0, 0, 0], port)),
            (None, true) => self::resolve(&host, port)?,
            (None, false) => {
                return Err(format!(
                    "`{host}` is a name, not a loopback address (or localhost); {allow}"
                ));
            }
        };
        let path = if path.is_empty() { "/" } else { path };
        if !path.starts_with('/') {
            return Err(format!("`{url}`: a path must start with `/`"));
        }
        Ok(Self {
            scheme,
            host,
            port,
            addr,
            path: path.to_string(),
        })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// What `Host` says: the host, and the port unless it is the scheme's own.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.scheme, self.port) {
            (Scheme::Http, 80) | (Scheme::Https, 443) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }

    /// The URL as a person reads it, with the path given.
    pub fn show(&self, path: &str) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}{path}", self.authority())
    }
}

/// How an `https://` target's certificate is checked, and the client's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TlsPlan {
    /// PEM certificates of a private CA, trusted instead of the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Any certificate is accepted (a self-signed staging server); every report warns.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// A client certificate (PEM chain) and its key, for servers that ask for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
}

/// How a user's own address reaches the application.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAddress {
    /// The connection's source: on loopback, each user has its own (127.A.B.1).
    #[default]
    Source,
    /// `X-Forwarded-For: ADDRESS`, for balancers that hash the forwarded address.
    XForwardedFor,
    /// `Forwarded: for=ADDRESS` (RFC 7239).
    Forwarded,
}

impl ClientAddress {
    pub const NAMES: [&str; 3] = ["source", "x-forwarded-for", "forwarded"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "source" => Some(Self::Source),
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the host without brackets.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?))),
        };
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let name_like = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    };
    name_like(host).then_some((host, port))
}

/// An IP address as it is; `localhost` as 127.0.0.1 (not whatever /etc/hosts says first).
fn literal(host: &str, port: u16) -> Option<SocketAddr> {
    if host == "localhost" {
        return Some(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    host.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// A name through the system's resolver, once: its first address.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{host}` resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str, remote: bool) -> TargetUrl {
        TargetUrl::parse(url, remote).expect(url)
    }

    #[test]
    fn urls_are_split_and_resolved() {
        let u = ok("http://127.0.0.1:8080/shop", false);
        assert_eq!(
            (u.scheme, u.port, u.path.as_str(), u.authority()),
            (Scheme::Http, 8080, "/shop", "127.0.0.1:8080".into())
        );
        let u = ok("https://localhost", false);
        assert_eq!((u.port, u.addr.port(), u.path.as_str()), (443, 443, "/"));
        assert_eq!(u.authority(), "localhost");
        let u = ok("https://[::1]:8443/", false);
        assert_eq!(
            (u.host.as_str(), u.authority()),
            ("::1", "[::1]:8443".into())
        );
        let u = ok("https://10.1.2.3:8443/app", true);
        assert_eq!(u.show("/login"), "https://10.1.2.3:8443/login");
    }

    #[test]
    fn other_hosts_need_remote_and_bad_urls_are_refused() {
        let err = |url: &str| TargetUrl::parse(url, false).expect_err(url);
        assert!(err("http://10.1.2.3:80/").contains("`remote = true`"));
        assert!(err("ftp://127.0.0.1/").contains("not an http:// or https:// URL"));
        assert!(err("http://u:p@127.0.0.1/").contains("credentials"));
        assert!(err("http://127.0.0.1:0/").contains("not a port"));
        assert!(err("http://127.0.0.1:x/").contains("not a port"));
        assert!(err("http://a b/").contains("not HOST"));
        // Refused before any lookup.
        assert!(err("http://shop.example/").contains("is a name"));
    }
}
