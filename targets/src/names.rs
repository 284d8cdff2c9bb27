//! Names that several processes share: node ids (cookie routes, header values, backend and
//! peer names) and `name=addr` pairs. A leaf, so the balancer, the node and their specs can all
//! use it.

use std::net::SocketAddr;
use std::str::FromStr;

use serde::Deserialize;

/// Node ids double as routes in cookies and header values: short, and only characters that
/// need no escaping in either.
pub fn is_node_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
}

impl NamedAddr {
    /// Checks a spec built from parts (the admin API's JSON).
    pub fn validate(&self) -> Result<(), ParseNamedAddrError> {
        if is_node_id(&self.name) {
            Ok(())
        } else {
            Err(ParseNamedAddrError::Name(self.name.clone()))
        }
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
    }
}
