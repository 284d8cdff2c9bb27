//! A target's namespaces, bridge and addresses: made for a run, cut and healed by faults, and removed.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use super::command::ip;
use super::command::{NetError, Script};
use super::leftovers::sweep;
use super::rules::Cut;
use super::{command, leftovers, lock, rules};

use crate::load::ClientRange;

/// The first two octets of every subnet this harness makes: 10.213.0.0/16, a private range.
pub(super) const BASE: [u8; 2] = [10, 213];
/// Where the clients' addresses start in the /24.
pub(super) const FIRST_CLIENT: u8 = 128;
/// How many client addresses there are (.128 to .254).
pub(super) const CLIENTS: u8 = 127;
/// The processes' addresses: .2 to .127.
pub(super) const LAST_PROCESS: u8 = 127;
/// The prefix of every namespace's name.
pub const NS_PREFIX: &str = "sessionbench-";

/// Namespace sets (one per target) and veth pairs this process has made, for unique names.
pub(super) static SETS: AtomicU32 = AtomicU32::new(0);
pub(super) static VETHS: AtomicU32 = AtomicU32::new(0);

/// This harness's tag in every name it gives: its pid in hex (at most 6 digits: Linux pids
/// stay below 2^22), short enough for interface names (15 characters).
pub fn tag() -> String {
    format!("{:06x}", std::process::id())
}

/// One target's network: the bridge, the namespaces on it, and the cuts in force.
#[derive(Debug)]
pub struct Net {
    bridge: String,
    /// 10.213.S: the /24's first three octets.
    subnet: [u8; 3],
    /// `sessionbench-<tag>-<set>-`: every namespace's name starts so.
    ns_prefix: String,
    members: Vec<Member>,
    /// The cuts in force, by the fault that made them.
    cuts: Vec<(String, Vec<Cut>)>,
    /// Namespaces that hold rules now.
    ruled: Vec<String>,
    removed: bool,
}

/// A process's place on the network.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub ns: String,
    pub ip: Ipv4Addr,
    /// The bridge's end of its veth pair: down, the process's cable is out.
    host_if: String,
}

/// Where a child process runs: its namespace, and the subnet it may listen and connect on
/// (granted to it, as the one exception to loopback only).
#[derive(Debug, Clone)]
pub struct Place {
    pub netns: PathBuf,
    pub grant: String,
}

impl Net {
    /// Makes the bridge on a /24 of 10.213.0.0/16 that nothing on this host routes yet (the
    /// choice is made under a lock, so two runs never take the same one). Leftovers of
    /// harnesses that no longer run are removed first. The run checked [`privileges`](super::privileges) before
    /// it started anything.
    pub fn create() -> Result<Self, NetError> {
        sweep();
        let set = SETS.fetch_add(1, Ordering::Relaxed);
        let tag = tag();
        let bridge = format!("sb{tag}b{set}");
        let _lock = lock::lock()?;
        let taken = command::routed_prefixes()?;
        let start = std::process::id() % 256;
        let s = (0..256)
            .map(|i| ((start + i) % 256) as u8)
            .find(|s| !taken.iter().any(|p| p.overlaps([BASE[0], BASE[1], *s])))
            .ok_or_else(|| NetError::new("no free /24 left in 10.213.0.0/16 on this host"))?;
        let subnet = [BASE[0], BASE[1], s];
        let mut net = Self {
            bridge: bridge.clone(),
            subnet,
            ns_prefix: format!("{NS_PREFIX}{tag}-{set}-"),
            members: Vec::new(),
            cuts: Vec::new(),
            ruled: Vec::new(),
            removed: false,
        };
        let gateway = net.gateway().to_string();
        let clients = format!("{}/25", net.at(FIRST_CLIENT));
        let made = Script::new()
            .ip(&["link", "add", &bridge, "type", "bridge"])
            .ip(&["addr", "add", &format!("{gateway}/25"), "dev", &bridge])
            .ip(&["link", "set", &bridge, "up"])
            // The clients' addresses are this host's, reached over the bridge.
            .ip(&["route", "add", "local", &clients, "dev", &bridge])
            .run();
        if let Err(e) = made {
            net.remove();
            return Err(e);
        }
        Ok(net)
    }

    pub(super) fn at(&self, host: u8) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, host)
    }

    pub(super) fn gateway(&self) -> Ipv4Addr {
        self.at(1)
    }

    /// `10.213.S.0/24`: what every process of this network may use.
    pub fn subnet(&self) -> String {
        format!("{}/24", self.at(0))
    }

    /// The clients' addresses: local to this host, routed over the bridge.
    pub fn clients(&self) -> ClientRange {
        ClientRange {
            first: self.at(FIRST_CLIENT),
            count: CLIENTS,
        }
    }

    /// Process `name`'s place, made on first use: a namespace with loopback up and one
    /// interface on the bridge, its address, and a default route over the bridge. The address
    /// is checked to be routed over this bridge before any process is started there.
    pub fn add(&mut self, name: &str) -> Result<(IpAddr, Place), NetError> {
        if let Some(m) = self.member(name) {
            return Ok((IpAddr::V4(m.ip), self.place(m)));
        }
        let host = 2 + self.members.len();
        let host = u8::try_from(host)
            .ok()
            .filter(|h| *h <= LAST_PROCESS)
            .ok_or_else(|| NetError::new("more than 126 processes on one target's network"))?;
        let n = VETHS.fetch_add(1, Ordering::Relaxed);
        let tag = tag();
        let member = Member {
            name: name.into(),
            ns: format!("{}{name}", self.ns_prefix),
            ip: self.at(host),
            host_if: format!("sb{tag}v{n}"),
        };
        let peer = format!("sb{tag}p{n}");
        let (ns, addr) = (member.ns.as_str(), format!("{}/25", member.ip));
        let gateway = self.gateway().to_string();
        // Kept before the commands run, so a failure half way is still removed.
        self.members.push(member.clone());
        Script::new()
            .ip(&["netns", "add", ns])
            .ip(&[
                "link",
                "add",
                &member.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
            ])
            .ip(&["link", "set", &peer, "netns", ns])
            .ip(&["link", "set", &member.host_if, "master", &self.bridge, "up"])
            .ip(&["-n", ns, "link", "set", "lo", "up"])
            .ip(&["-n", ns, "link", "set", &peer, "name", "eth0"])
            .ip(&["-n", ns, "addr", "add", &addr, "dev", "eth0"])
            .ip(&["-n", ns, "link", "set", "eth0", "up"])
            .ip(&["-n", ns, "route", "add", "default", "via", &gateway])
            .run()?;
        self.ensure_ours(IpAddr::V4(member.ip))?;
        Ok((IpAddr::V4(member.ip), self.place(&member)))
    }

    pub(super) fn place(&self, m: &Member) -> Place {
        // The child checks that it runs in another namespace than this one.
        let own = std::fs::read_link("/proc/self/ns/net").unwrap_or_default();
        Place {
            netns: PathBuf::from("/run/netns").join(&m.ns),
            grant: format!("{} {}", self.subnet(), own.display()),
        }
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Every process on this network, by name.
    pub fn names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name.clone()).collect()
    }

    /// The safety check before traffic: `addr` is a process of this network and the kernel
    /// routes it over this network's bridge (never off the machine).
    pub fn ensure_ours(&self, addr: IpAddr) -> Result<(), NetError> {
        if !self.members.iter().any(|m| IpAddr::V4(m.ip) == addr) {
            return Err(NetError::new(format!(
                "{addr} is not the address of a namespace this run made"
            )));
        }
        let route = ip(&["-o", "route", "get", &addr.to_string()])?;
        let dev = route
            .split_whitespace()
            .skip_while(|w| *w != "dev")
            .nth(1)
            .unwrap_or_default();
        if dev != self.bridge {
            return Err(NetError::new(format!(
                "the route to {addr} goes over `{dev}`, not this run's bridge `{}`: {}",
                self.bridge,
                route.trim()
            )));
        }
        Ok(())
    }

    /// The commands that put the cuts of fault `key` in force (with those already in force).
    pub fn cut(&mut self, key: &str, cuts: Vec<Cut>) -> Result<Script, NetError> {
        for cut in &cuts {
            for name in cut.from.iter().chain(&cut.to) {
                if self.member(name).is_none() {
                    return Err(NetError::new(format!(
                        "`{name}` is not a process of this target's network (it has {})",
                        self.names().join(", ")
                    )));
                }
            }
        }
        self.cuts.push((key.into(), cuts));
        Ok(self.rules())
    }

    /// The commands that lift the cuts of fault `key` (the others stay).
    pub fn heal(&mut self, key: &str) -> Script {
        self.cuts.retain(|(k, _)| k != key);
        self.rules()
    }

    /// Every namespace's rules as the cuts in force make them: a namespace whose rules are
    /// gone has its table deleted.
    pub(super) fn rules(&mut self) -> Script {
        let all: Vec<&Cut> = self.cuts.iter().flat_map(|(_, c)| c).collect();
        // By namespace: cuts name members, which all have one.
        let tables: Vec<(String, String)> =
            rules::tables(&all, |name| self.member(name).map(|m| m.ip))
                .into_iter()
                .filter_map(|(name, table)| Some((self.member(&name)?.ns.clone(), table)))
                .collect();
        let mut script = Script::new();
        for ns in self
            .ruled
            .iter()
            .filter(|ns| !tables.iter().any(|(n, _)| n == *ns))
        {
            script = script.nft(ns, rules::DELETE);
        }
        for (ns, table) in &tables {
            script = script.nft(ns, table);
        }
        self.ruled = tables.into_iter().map(|(ns, _)| ns).collect();
        script
    }

    /// The commands that take process `name`'s cable out (`up` false) or put it back.
    pub fn link(&self, name: &str, up: bool) -> Result<Script, NetError> {
        let m = self.member(name).ok_or_else(|| {
            NetError::new(format!(
                "`{name}` is not a process of this target's network"
            ))
        })?;
        let state = if up { "up" } else { "down" };
        Ok(Script::new().ip(&["link", "set", &m.host_if, state]))
    }

    /// Removes every namespace and the bridge (the veths go with the namespaces; the clients'
    /// route with the bridge). Processes still inside a namespace keep it alive: the harness
    /// stops them first.
    pub fn remove(&mut self) {
        if std::mem::replace(&mut self.removed, true) {
            return;
        }
        for m in &self.members {
            leftovers::remove_netns(&m.ns);
            let _ = ip(&["link", "del", &m.host_if]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.remove();
    }
}
