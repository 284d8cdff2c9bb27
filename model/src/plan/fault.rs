//! Faults as planned: when, what kind, on which node or link, and how each kind behaves. A
//! fault kind's rules (its name, what it acts on, whether it heals itself, what it needs of a
//! target) live on [`FaultKind`], which validation, the driver and the reports consult.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ms, opt_ms};

/// One fault, injected at `at` into every target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FaultPlan {
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "at-ms")]
    pub at: Duration,
    pub kind: FaultKind,
    pub node: String,
    /// When the heal happens; `None` leaves the fault in place until the load ends.
    #[schemars(with = "Option<u64>")]
    #[serde(default, with = "opt_ms", rename = "heal-after-ms")]
    pub heal_after: Option<Duration>,
    /// `rolling-restart`: the wait between one node serving again and the next one stopping.
    #[schemars(with = "Option<u64>")]
    #[serde(with = "opt_ms", rename = "interval-ms", default)]
    pub interval: Option<Duration>,
    /// `partition`, `latency`: the node's link they act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// `latency`: the delay added each way, and up to how much more at random.
    #[schemars(with = "Option<u64>")]
    #[serde(with = "opt_ms", rename = "latency-ms", default)]
    pub latency: Option<Duration>,
    #[schemars(with = "Option<u64>")]
    #[serde(with = "opt_ms", rename = "jitter-ms", default)]
    pub jitter: Option<Duration>,
    /// `command`: the shell commands that are the fault and its heal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandPlan>,
    /// `partition` with `network = "netns"`: nothing crosses between any two groups (by the
    /// processes' names); the processes in none are untouched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Vec<String>>,
    /// `partition` with `network = "netns"`: packets from these processes to `to` are
    /// dropped, the other way they flow (a one-way cut).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// The fault may fail to apply without making the run's verdict unknown (it is still
    /// reported): for a fault that is allowed to find nothing to break.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_fail: bool,
}

/// A fault that is a shell command (`sh -c`), and its heal another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CommandPlan {
    pub inject: String,
    /// Without one, the fault is over when `inject` has finished (and the probe answered).
    pub heal: Option<String>,
    /// For each command, and for the readiness probe.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "timeout-ms")]
    pub timeout: Duration,
    /// Waited for after the heal (or after `inject`, without a heal).
    pub ready: Option<Probe>,
}

/// `GET URL` must answer `status` (over TLS with the target's settings for `https://`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Probe {
    pub url: super::TargetUrl,
    pub status: u16,
}

/// A node's network link, where the harness places a fault proxy for network faults.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    /// Between the load balancer and the node.
    Lb,
    /// Between the node and its store (a standalone Redis).
    Store,
    /// Between the node and each of its cluster peers, both ways: cut, the node is split
    /// from the rest of the cluster (in a cluster of three, a split in two).
    Peers,
}

impl Link {
    pub fn name(self) -> &'static str {
        match self {
            Self::Lb => "lb",
            Self::Store => "store",
            Self::Peers => "peers",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL: a crash. Heal: start it again on the same port, empty.
    Kill,
    /// SIGTERM: a graceful stop. Heal: start it again on the same port.
    Stop,
    /// SIGTERM then start again at once, as a deploy does; ends when the node is ready.
    Restart,
    /// Scale-out: a new node starts (a clustered one first receives the state) and the load
    /// balancer gains it as a backend; ends when it is in the LB's list.
    AddNode,
    /// SIGKILL of a store process. Heal: it starts again on its port (empty, unless it
    /// persists).
    StoreKill,
    /// SIGTERM, then start again at once on the next session schema (2), as a release that
    /// changes the session type does. A `deploy` on every node in turn is a rolling deploy.
    Deploy,
    /// SIGSTOP of a node (a long GC pause, a stalled VM): its sockets stay open and requests
    /// to it hang. Heal: SIGCONT.
    Pause,
    /// Scale-in with a graceful drain: the LB stops sending new requests to the node, then it
    /// gets SIGTERM. Heal: it starts again and the LB gains it back.
    RemoveNode,
    /// Every node in turn: SIGTERM, start again, wait `interval`, next (a deploy without a
    /// schema change). `node` is "all".
    RollingRestart,
    /// The node's `link` blackholed both ways: connections stay open and silent (a network
    /// partition). Heal: traffic flows again.
    Partition,
    /// `latency` (and up to `jitter` more) added each way on the node's `link`. Heal: removed.
    Latency,
    /// The load balancer: SIGTERM and start again on the same port (its sticky state, if
    /// any, is lost). `node` is "lb".
    LbRestart,
    /// SIGTERM of a store process, then start again at once.
    StoreRestart,
    /// Every key the store process holds is deleted (FLUSHALL; a cluster node holds its
    /// slots): an operator's mistake, or a failover to an empty replica.
    StoreFlush,
    /// SIGSTOP of a store process; heal: SIGCONT.
    StorePause,
    /// A shell command (and its heal another): for stacks the harness did not start.
    Command,
    /// `network = "netns"`: the process's network interface goes down (its cable is out):
    /// nothing reaches it or leaves it. Heal: up again.
    LinkDown,
}

impl FaultKind {
    /// Every kind, in the order `--help`, errors and docs list them.
    pub const ALL: [Self; 17] = [
        Self::Kill,
        Self::Stop,
        Self::Restart,
        Self::AddNode,
        Self::Deploy,
        Self::Pause,
        Self::RemoveNode,
        Self::RollingRestart,
        Self::LbRestart,
        Self::Partition,
        Self::Latency,
        Self::LinkDown,
        Self::StoreKill,
        Self::StoreRestart,
        Self::StoreFlush,
        Self::StorePause,
        Self::Command,
    ];

    /// The name a suite writes (`kind = "store-kill"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::AddNode => "add-node",
            Self::Deploy => "deploy",
            Self::Pause => "pause",
            Self::RemoveNode => "remove-node",
            Self::RollingRestart => "rolling-restart",
            Self::LbRestart => "lb-restart",
            Self::Partition => "partition",
            Self::Latency => "latency",
            Self::StoreKill => "store-kill",
            Self::StoreRestart => "store-restart",
            Self::StoreFlush => "store-flush",
            Self::StorePause => "store-pause",
            Self::Command => "command",
            Self::LinkDown => "link-down",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.name()).collect()
    }

    /// Whether the fault hits a store process rather than an app node.
    pub fn on_store(self) -> bool {
        matches!(
            self,
            Self::StoreKill | Self::StoreRestart | Self::StoreFlush | Self::StorePause
        )
    }

    /// Whether a fault of this kind is over as soon as it was injected (a restart, a
    /// scale-out) rather than waiting for its heal.
    pub fn heals_itself(self) -> bool {
        matches!(
            self,
            Self::Restart
                | Self::Deploy
                | Self::RollingRestart
                | Self::LbRestart
                | Self::AddNode
                | Self::StoreRestart
                | Self::StoreFlush
        )
    }

    /// The name a fault on the whole tier gives its `node`, so the history and reports say
    /// what it hit.
    pub fn whole_tier(self) -> Option<&'static str> {
        match self {
            Self::RollingRestart => Some("all"),
            Self::LbRestart => Some("lb"),
            _ => None,
        }
    }

    /// Whether it works through the load balancer, which every target must then have.
    pub fn needs_lb(self) -> bool {
        matches!(self, Self::LbRestart | Self::RemoveNode)
    }

    /// Whether it changes the balancer's backends through the reference LB's admin API.
    pub fn changes_backends(self) -> bool {
        matches!(self, Self::AddNode | Self::RemoveNode)
    }

    /// Whether it acts on one of a node's network links (through a fault proxy).
    pub fn on_link(self) -> bool {
        matches!(self, Self::Partition | Self::Latency)
    }

    /// Whether it ends a node gracefully, so the node's counters are collected first.
    pub fn ends_node_gracefully(self) -> bool {
        matches!(
            self,
            Self::Stop | Self::Restart | Self::Deploy | Self::RemoveNode
        )
    }
}

impl FaultPlan {
    /// Whether this fault is over as soon as it was injected: a kind that heals itself, or a
    /// command fault without a heal command.
    pub fn heals_itself(&self) -> bool {
        self.kind.heals_itself() || self.command.as_ref().is_some_and(|c| c.heal.is_none())
    }
}
