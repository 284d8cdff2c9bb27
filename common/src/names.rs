//! Names that several processes share: node ids (cookie routes, header values, backend and
//! peer names), `name=addr` pairs, and the rule that every address is on loopback. A leaf, so
//! the balancer, the node, the proxy and their specs can all use it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::OnceLock;

use serde::Deserialize;

/// Node ids double as routes in cookies and header values: short, and only characters that
/// need no escaping in either.
pub fn is_node_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The one rule for every address these processes listen on or connect to: loopback only
/// (127.0.0.0/8, ::1). They are unauthenticated test parts; on another interface any host
/// could reach them, and as backends or peers they must not send traffic off the machine.
/// The one exception is [`granted`].
pub fn loopback(s: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| format!("`{s}` is not IP:PORT (for example 127.0.0.1:0)"))?;
    if allowed(addr.ip()) {
        Ok(addr)
    } else {
        Err(format!(
            "{} is not a loopback address: sessionbench's processes listen and connect on loopback only (127.0.0.0/8, ::1), or in the subnet of a network namespace the harness made for them",
            addr.ip()
        ))
    }
}

/// Whether a process may listen on or connect to `ip`: loopback, or the subnet granted to it.
pub fn allowed(ip: IpAddr) -> bool {
    ip.is_loopback() || granted().is_some_and(|(net, len)| in_subnet(ip, net, len))
}

/// Set by the harness in the environment of a process it starts inside a network namespace it
/// made (`network = "netns"`): that network's private subnet, on which only the run's own
/// processes live behind a bridge of the run's own, and the harness's own namespace
/// (`10.213.7.0/24 net:[4026531833]`).
pub const NETNS_GRANT_ENV: &str = "SESSIONBENCH_NETNS_GRANT";

/// The subnet granted to this process, if it was granted one and it runs in a network
/// namespace other than the harness's: there, the same addresses could lead anywhere.
pub fn granted() -> Option<(Ipv4Addr, u8)> {
    static GRANT: OnceLock<Option<(Ipv4Addr, u8)>> = OnceLock::new();
    *GRANT.get_or_init(|| {
        let text = std::env::var(NETNS_GRANT_ENV).ok()?;
        let (subnet, harness_ns) = text.split_once(' ')?;
        let (net, len) = subnet.split_once('/')?;
        let grant = (
            net.parse().ok()?,
            len.parse().ok().filter(|l| (8..=32).contains(l))?,
        );
        let own = std::fs::read_link("/proc/self/ns/net").ok()?;
        (own.to_str()? != harness_ns).then_some(grant)
    })
}

fn in_subnet(ip: IpAddr, net: Ipv4Addr, len: u8) -> bool {
    let IpAddr::V4(ip) = ip else {
        return false;
    };
    let mask = u32::MAX << (32 - u32::from(len));
    u32::from(ip) & mask == u32::from(net) & mask
}

/// `s` in lowercase ASCII letters and digits, every other character `sep`: what a name made
/// from free text (a file, a suite, a form field) may hold.
pub fn slug(s: &str, sep: char) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                sep
            }
        })
        .collect()
}

/// A URL's `host[:port]`, without its scheme, credentials or path
/// (`redis://:pw@127.0.0.1:6379/0` → `127.0.0.1:6379`). The authority ends at the first `/`,
/// `?` or `#`, as URL parsers end it: `redis://evil.example#@127.0.0.1` is `evil.example`.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// Whether an HTTP `Host` names this machine's loopback (`localhost`, 127.x, `[::1]`, with
/// or without a port), or an address of the subnet [`granted`] to this process: what the
/// admin APIs accept, so a page elsewhere cannot reach them by rebinding a name of its own to
/// 127.0.0.1.
pub fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(allowed)
}

/// A named address, `node1=127.0.0.1:8081`: a balancer's backend (on its command line or
/// through its admin API) or a node's cluster peer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedAddr {
    /// The node's id; it is also the route that `cookie-route` reads from the session id and the
    /// value `cookie-insert` puts in its affinity cookie.
    pub name: String,
    pub addr: SocketAddr,
}

/// Why a `name=addr` backend could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseNamedAddrError {
    #[error("`{0}` is not NAME=ADDR (for example node1=127.0.0.1:8081)")]
    Shape(String),
    #[error("backend name `{0}` must be 1 to 64 of A-Z a-z 0-9 `-` `_`")]
    Name(String),
    #[error("backend address `{0}` is not IP:PORT")]
    Addr(String),
    #[error("{0}")]
    NotLoopback(String),
}

impl NamedAddr {
    /// Checks a spec built from parts (the admin API's JSON).
    pub fn validate(&self) -> Result<(), ParseNamedAddrError> {
        if !is_node_id(&self.name) {
            return Err(ParseNamedAddrError::Name(self.name.clone()));
        }
        loopback(&self.addr.to_string())
            .map(drop)
            .map_err(ParseNamedAddrError::NotLoopback)
    }
}

impl FromStr for NamedAddr {
    type Err = ParseNamedAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, addr) = s
            .split_once('=')
            .ok_or_else(|| ParseNamedAddrError::Shape(s.into()))?;
        let addr = addr
            .parse()
            .map_err(|_| ParseNamedAddrError::Addr(addr.into()))?;
        let spec = Self {
            name: name.into(),
            addr,
        };
        spec.validate()?;
        Ok(spec)
    }
}

impl std::fmt::Display for NamedAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_host_is_its_authority_as_url_parsers_cut_it() {
        assert_eq!(url_host("redis://:pw@127.0.0.1:6379/0"), "127.0.0.1:6379");
        assert_eq!(url_host("redis://127.0.0.1"), "127.0.0.1");
        // What follows `#` or `?` is not the host, whatever `@` it holds.
        assert_eq!(
            url_host("redis://evil.example#@127.0.0.1:6379"),
            "evil.example"
        );
        assert_eq!(
            url_host("redis://evil.example?@127.0.0.1:6379"),
            "evil.example"
        );
        assert!(!loopback_host(url_host(
            "redis://evil.example#@127.0.0.1:6379"
        )));
    }

    #[test]
    fn parses_and_rejects_named_addresses() {
        let spec: NamedAddr = "node1=127.0.0.1:8081".parse().expect("valid");
        assert_eq!((spec.name.as_str(), spec.addr.port()), ("node1", 8081));
        assert_eq!(
            "node1".parse::<NamedAddr>(),
            Err(ParseNamedAddrError::Shape("node1".into()))
        );
        assert_eq!(
            "no de=127.0.0.1:1".parse::<NamedAddr>(),
            Err(ParseNamedAddrError::Name("no de".into()))
        );
        assert_eq!(
            "n=localhost:1".parse::<NamedAddr>(),
            Err(ParseNamedAddrError::Addr("localhost:1".into()))
        );
        assert!(matches!(
            "n=10.0.0.1:80".parse::<NamedAddr>(),
            Err(ParseNamedAddrError::NotLoopback(_))
        ));
        "n=[::1]:80".parse::<NamedAddr>().expect("IPv6 loopback");
    }

    #[test]
    fn a_subnet_is_matched_by_its_prefix() {
        let net = Ipv4Addr::new(10, 213, 7, 0);
        assert!(in_subnet(
            "10.213.7.200".parse().expect("an address"),
            net,
            24
        ));
        assert!(!in_subnet(
            "10.213.8.2".parse().expect("an address"),
            net,
            24
        ));
        assert!(!in_subnet("::1".parse().expect("an address"), net, 24));
        // Not granted here: this test runs in the host's namespace, without the variable.
        assert!(!allowed("10.213.7.2".parse().expect("an address")));
    }

    #[test]
    fn only_loopback_addresses_and_hosts_pass() {
        assert!(loopback("127.0.0.1:0").is_ok());
        assert!(loopback("127.9.8.7:80").is_ok());
        assert!(loopback("[::1]:0").is_ok());
        for bad in ["0.0.0.0:0", "[::]:0", "10.0.0.1:80", "8.8.8.8:53"] {
            let e = loopback(bad).expect_err(bad);
            assert!(e.contains("is not a loopback address"), "{e}");
        }
        assert!(loopback("localhost:80").is_err(), "IP:PORT only");
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:9",
            "[::1]",
            "[::1]:9",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "",
            "rebind.example",
            "rebind.example:8080",
            "10.0.0.1:80",
            "localhost.evil",
            "[::2]:1",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
