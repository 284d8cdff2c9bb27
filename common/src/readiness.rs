//! The one machine-readable line a child process prints on stdout once it is serving, so a
//! supervisor can start it on port 0 and learn the bound address.

use std::io::Write;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// `{"ready":"node","id":"node1","addr":"127.0.0.1:40123"}` on one line of stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Ready {
    /// What became ready: `node` or `lb`.
    pub ready: String,
    pub id: String,
    /// The address clients use.
    pub addr: SocketAddr,
    /// A separate control endpoint, if the process has one (the LB's admin API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<SocketAddr>,
    /// Where a clustered node listens for its peers' replication links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<SocketAddr>,
}

impl Ready {
    /// Prints the line and flushes, so a supervisor reading a pipe sees it at once.
    pub fn announce(&self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Reads a line printed by [`Ready::announce`]; `None` for any other line.
    pub fn parse(line: &str) -> Option<Self> {
        serde_json::from_str(line.trim()).ok()
    }
}
