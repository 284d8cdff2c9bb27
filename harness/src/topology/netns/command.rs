//! The programs that make and cut the network (`ip` from iproute2, `nft` from nftables), run
//! as scripts of steps, each failure named with its command and what it printed.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// Why the network could not be made, cut or healed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network namespaces: {0}")]
pub struct NetError(String);

impl NetError {
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// `ip ARGS`, its output or why it failed.
pub fn ip(args: &[&str]) -> Result<String, NetError> {
    run("ip", args, None)
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, NetError> {
    let shown = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError(format!("cannot run `{shown}`: {e}")))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| NetError(format!("`{shown}`: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetError(format!("`{shown}`: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetError(format!(
            "`{shown}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Ip(Vec<String>),
    /// `ip netns exec NS nft -f -` with the rules on stdin.
    Nft {
        ns: String,
        rules: String,
    },
}

/// Steps run in order, stopping at the first failure. Owned, so a fault can run them off
/// the driver's threads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script(Vec<Step>);

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn ip(mut self, args: &[&str]) -> Self {
        self.0
            .push(Step::Ip(args.iter().map(|a| a.to_string()).collect()));
        self
    }

    pub fn nft(mut self, ns: &str, rules: &str) -> Self {
        self.0.push(Step::Nft {
            ns: ns.into(),
            rules: rules.into(),
        });
        self
    }

    pub fn run(&self) -> Result<(), NetError> {
        for step in &self.0 {
            match step {
                Step::Ip(args) => {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    ip(&args)?;
                }
                Step::Nft { ns, rules } => {
                    run("ip", &["netns", "exec", ns, "nft", "-f", "-"], Some(rules))?;
                }
            }
        }
        Ok(())
    }

    /// [`Script::run`] on a thread for blocking work, so the load's timers keep time.
    pub async fn run_async(self) -> Result<(), NetError> {
        tokio::task::spawn_blocking(move || self.run())
            .await
            .map_err(|e| NetError(format!("the network script panicked: {e}")))?
    }
}

/// An IPv4 prefix this host routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    addr: u32,
    len: u8,
}

impl Prefix {
    fn parse(s: &str) -> Option<Self> {
        let (addr, len) = s.split_once('/').unwrap_or((s, "32"));
        let addr: Ipv4Addr = addr.parse().ok()?;
        let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
        Some(Self {
            addr: u32::from(addr),
            len,
        })
    }

    /// Whether it shares an address with the /24 `net`.
    pub fn overlaps(&self, net: [u8; 3]) -> bool {
        let other = u32::from(Ipv4Addr::new(net[0], net[1], net[2], 0));
        let len = self.len.min(24);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        self.addr & mask == other & mask
    }
}

/// Every prefix in every routing table of this host (not the default route): a subnet that
/// overlaps one is in use, by another run or by the host.
pub fn routed_prefixes() -> Result<Vec<Prefix>, NetError> {
    let out = ip(&["-4", "-o", "route", "show", "table", "all"])?;
    Ok(prefixes(&out))
}

fn prefixes(routes: &str) -> Vec<Prefix> {
    routes
        .lines()
        .filter_map(|line| {
            // `[TYPE] PREFIX ...`: the prefix is the first word that parses as one.
            line.split_whitespace().take(2).find_map(Prefix::parse)
        })
        .collect()
}

/// Whether this process may make namespaces and change the network: CAP_NET_ADMIN and
/// CAP_SYS_ADMIN (as root has), and `ip` and `nft` are installed.
pub fn privileges() -> Result<(), NetError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    const NET_ADMIN: u64 = 1 << 12;
    const SYS_ADMIN: u64 = 1 << 21;
    if caps & (NET_ADMIN | SYS_ADMIN) != NET_ADMIN | SYS_ADMIN {
        return Err(NetError::new(
            "`network = \"netns\"` needs root (CAP_NET_ADMIN to make bridges and rules, \
             CAP_SYS_ADMIN to make namespaces); run as root, or use network = \"loopback\"",
        ));
    }
    for program in ["ip", "nft"] {
        let found = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
        });
        if !found {
            return Err(NetError::new(format!(
                "`network = \"netns\"` needs `{program}` (packages iproute2 and nftables; \
                 ci/setup installs them)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_is_taken_by_any_route_that_overlaps_it() {
        let routes = "default via 192.0.2.1 dev eth0\n\
                      10.213.7.0/25 dev sb1b0 proto kernel scope link src 10.213.7.1\n\
                      local 10.213.7.128/25 dev sb1b0 table local\n\
                      10.0.0.0/8 via 192.0.2.9 dev eth0\n\
                      local 127.0.0.1 dev lo table local\n";
        let p = prefixes(routes);
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].overlaps([10, 213, 7]));
        assert!(p[1].overlaps([10, 213, 7]));
        assert!(!p[0].overlaps([10, 213, 8]));
        // A wider route covers every /24 inside it.
        assert!(p[2].overlaps([10, 213, 9]));
        assert!(!p[3].overlaps([10, 213, 9]));
    }
}
