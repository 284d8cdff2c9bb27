//! The validated, fully resolved plan of a run: what `validate()` makes of a suite file, what
//! the driver executes, and what `plan.json` stores so a run can be re-checked offline.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A whole run: every default resolved, every name checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    pub name: String,
    /// The suite file this came from, as given.
    pub source: String,
    pub seed: u64,
    /// Length of the load on each target.
    #[serde(with = "ms", rename = "duration-ms")]
    pub duration: Duration,
    /// Operations in the first `warm-up` are checked but left out of throughput and latency.
    #[serde(with = "ms", rename = "warm-up-ms")]
    pub warm_up: Duration,
    pub workload: Workload,
    pub targets: Vec<TargetPlan>,
    /// The faults of a suite without scenarios.
    pub faults: Vec<FaultPlan>,
    /// Situations every target goes through in turn, each a run of its own (none: one run per
    /// target, with `faults`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<Scenario>,
    /// The target others are compared with (a suite with scenarios always has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// What `run --quick` keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick: Option<Quick>,
    /// Past these the driver, not the target, was the limit, and the run says so.
    #[serde(default)]
    pub driver_limits: DriverLimits,
}

/// When a run's numbers describe the harness rather than the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DriverLimits {
    /// Operations starting later than this after they were due, at the 99th percentile.
    pub send_lag_us: u64,
    /// The harness using more than this share of the cores it may use.
    pub cpu_percent: f64,
}

impl Default for DriverLimits {
    fn default() -> Self {
        Self {
            send_lag_us: 1_000,
            cpu_percent: 90.0,
        }
    }
}

impl Plan {
    /// Every run, target by target: the target in each scenario, or once with `faults`.
    pub fn runs(&self) -> Vec<Run<'_>> {
        let mut runs = Vec::new();
        for target in &self.targets {
            if self.scenarios.is_empty() {
                runs.push(Run {
                    name: target.name.clone(),
                    target,
                    scenario: None,
                    workload: &self.workload,
                    faults: &self.faults,
                });
            }
            for s in &self.scenarios {
                runs.push(Run {
                    name: format!("{}/{}", target.name, s.name),
                    target,
                    scenario: Some(&s.name),
                    workload: &s.workload,
                    faults: &s.faults,
                });
            }
        }
        runs
    }

    /// Keeps only what `[quick]` names, at its duration; `None` when the suite has no `[quick]`.
    pub fn quick(mut self) -> Option<Self> {
        let quick = self.quick.take()?;
        self.duration = quick.duration;
        if !quick.scenarios.is_empty() {
            self.scenarios.retain(|s| quick.scenarios.contains(&s.name));
        }
        if !quick.targets.is_empty() {
            self.targets.retain(|t| quick.targets.contains(&t.name));
        }
        if self
            .reference
            .as_ref()
            .is_some_and(|r| !self.targets.iter().any(|t| &t.name == r))
        {
            self.reference = None;
        }
        Some(self)
    }
}

/// One target under one fault schedule: what the driver starts, loads and stops.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    /// `target`, or `target/scenario`: the name in the history and the results.
    pub name: String,
    pub target: &'a TargetPlan,
    pub scenario: Option<&'a str>,
    pub workload: &'a Workload,
    pub faults: &'a [FaultPlan],
}

impl Run<'_> {
    /// Network faults need fault proxies on the target's links; other runs go without.
    pub fn proxied(&self) -> bool {
        self.faults.iter().any(|f| f.link.is_some())
    }
}

/// A situation (a node failure, a restart, a scale-out, none) that every target goes through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Scenario {
    pub name: String,
    pub workload: Workload,
    pub faults: Vec<FaultPlan>,
}

/// The reduced run of `run --quick`, for CI: fewer scenarios or targets, a shorter load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Quick {
    #[serde(with = "ms", rename = "duration-ms")]
    pub duration: Duration,
    /// Empty: all of them.
    pub scenarios: Vec<String>,
    pub targets: Vec<String>,
}

/// How virtual users drive sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Workload {
    pub model: LoadModel,
    /// Pause between a session's operations; also its cadence for latency correction.
    #[serde(with = "ms", rename = "think-time-ms")]
    pub think_time: Duration,
    /// Each pause is drawn from `think_time` × [1 − jitter, 1 + jitter], as people pause: with
    /// identical pauses, users spread over a period would each meet a round-robin LB at the
    /// same point of its rotation every time, and round robin would act sticky.
    #[serde(default)]
    pub think_time_jitter: f64,
    /// Operations after login, unless the session logs out or is lost first.
    pub ops_per_session: u32,
    /// An operation without an answer in this long is indeterminate.
    #[serde(with = "ms", rename = "request-timeout-ms")]
    pub request_timeout: Duration,
    pub mix: Mix,
}

/// Closed loop (a fixed number of users, each starting a new session when one ends) or open
/// loop (sessions arrive at a fixed rate whatever the target's speed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    tag = "kind"
)]
pub enum LoadModel {
    Closed {
        virtual_users: u32,
    },
    Open {
        arrival_rate: f64,
        max_sessions_in_flight: u32,
    },
}

/// Relative weights of the operations a session makes after login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    pub read: u32,
    pub write: u32,
    pub counter: u32,
    /// A logout ends the session (followed by one read with the old cookie, which must fail).
    pub logout: u32,
}

/// One system under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetPlan {
    pub name: String,
    pub strategy: Strategy,
    pub nodes: u32,
    /// The LB policy (`None` for `direct`).
    pub lb_policy: Option<String>,
    /// Which load balancer runs the policy.
    #[serde(default)]
    pub lb: LbKind,
    pub cookie: String,
    /// Nodes append `.<node>` to session ids (for `cookie-route`).
    pub route_suffix: bool,
    /// For `delta`: when a write is acknowledged, `async` or `sync`.
    pub replication: Option<String>,
    /// For `redis`: the Redis the harness starts, or an existing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisPlan>,
    /// For `redis`: `on-save` or `immediate` (when a request's changes are written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_flush: Option<String>,
    /// For `delta` with `async`: how long each change waits before it leaves the node.
    #[serde(with = "ms", rename = "replication-delay-ms", default)]
    pub replication_delay: Duration,
    #[serde(with = "ms", rename = "max-inactive-ms")]
    pub max_inactive: Duration,
    /// The run has network faults: the harness places fault proxies on this target's links
    /// (and nowhere when it has none, so they cost nothing). Set per run by the driver.
    #[serde(skip)]
    pub proxied_links: bool,
    pub padding_bytes: usize,
    /// For strategies that serialize sessions (delta, backup, redis): `format[+compression]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    pub expect: Expect,
    /// Performance bounds; a miss fails the run with exit code 4.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// For `external`: where it is, and the commands that start and stop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalPlan>,
}

/// A stack the harness did not build, reached at `url` and speaking sessionbench's node
/// protocol or the API `api` describes; the suite's own commands start and stop it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExternalPlan {
    pub url: std::net::SocketAddr,
    pub start: Option<String>,
    pub stop: Option<String>,
    /// Waited for after `start`.
    pub ready: Option<Probe>,
    /// For each command and for the probe.
    #[serde(with = "ms", rename = "timeout-ms")]
    pub timeout: Duration,
    /// How to speak to an application that does not speak the node protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<HttpApi>,
}

/// An application's own HTTP API: a request template per operation and how to read its
/// answers. Templates hold `{user}`, `{seq}` and (in `write`) `{value}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HttpApi {
    /// The URL's path, put before every request's path (`/` for none).
    pub base_path: String,
    pub login: RequestPlan,
    pub read: RequestPlan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<RequestPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<RequestPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout: Option<RequestPlan>,
    /// The session cookie; a login that does not leave it in the jar failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// Which node served an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Extract>,
    pub logged_out: LoggedOut,
}

impl HttpApi {
    /// Whether answers show the session's value or counter, so stale reads can be seen.
    pub fn shows_state(&self) -> bool {
        self.read.counter.is_some() || (self.read.value.is_some() && self.write.is_some())
    }

    /// Whether reads show a counter, so a counter going back can be seen.
    pub fn shows_order(&self) -> bool {
        self.read.counter.is_some()
    }
}

/// One operation's request and what to read from its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RequestPlan {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The signed-in user (a different one means another session was served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Extract>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<Extract>,
    /// The value a `write` sets (absent from an answer: no value yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Extract>,
}

/// A request body; placeholders are filled in its strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Body {
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`, in the given order.
    Form(Vec<(String, String)>),
    /// Sent as it is (set its `Content-Type` in `headers`).
    Text(String),
}

/// Where in an answer a field is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Extract {
    /// RFC 6901 JSON pointer into a JSON body.
    Pointer(String),
    /// The first capture group (or the whole match) in the body.
    Regex(String),
    /// A response header.
    Header(String),
}

/// What an answer that means "not signed in" looks like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LoggedOut {
    pub status: Vec<u16>,
    /// A redirect whose `Location` contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// A regex a body matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// What a target must perform, after the warm-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Thresholds {
    #[serde(with = "opt_ms", rename = "p99-latency-ms", default)]
    pub p99_latency: Option<Duration>,
    /// Failed and unanswered operations, as a percentage of all.
    pub max_error_rate: Option<f64>,
    /// Successful operations per second.
    pub min_throughput: Option<f64>,
    pub max_sessions_lost: Option<u64>,
}

impl TargetPlan {
    pub fn node_ids(&self) -> impl Iterator<Item = String> {
        (1..=self.nodes).map(|i| format!("node{i}"))
    }

    /// The strategy as reports show it: `delta-sync`, `redis-standalone`, `sticky`, …
    pub fn strategy_label(&self) -> String {
        match (&self.replication, &self.redis) {
            (Some(r), _) => format!("{}-{r}", self.strategy.name()),
            (_, Some(RedisPlan::Standalone { .. })) => "redis-standalone".into(),
            (_, Some(RedisPlan::Sentinel { .. })) => "redis-sentinel".into(),
            (_, Some(RedisPlan::Cluster { .. })) => "redis-cluster".into(),
            (_, Some(RedisPlan::External { .. })) => "redis-external".into(),
            _ => self.strategy.name().to_string(),
        }
    }

    /// Processes an operator runs for this target at the start: nodes, the LB, the store's.
    pub fn processes(&self) -> u32 {
        let stores = u32::try_from(self.store_ids().len()).unwrap_or(u32::MAX);
        self.nodes + u32::from(self.lb_policy.is_some()) + stores
    }

    /// The store processes the harness runs for this target (faults `store-*` name them).
    pub fn store_ids(&self) -> Vec<&'static str> {
        match self.redis {
            Some(RedisPlan::Standalone { .. }) => vec!["redis"],
            Some(RedisPlan::Sentinel { .. }) => {
                vec![
                    "redis",
                    "redis-replica",
                    "sentinel1",
                    "sentinel2",
                    "sentinel3",
                ]
            }
            Some(RedisPlan::Cluster { .. }) => {
                vec!["redis", "redis2", "redis3", "redis4", "redis5", "redis6"]
            }
            _ => Vec::new(),
        }
    }
}

/// The load balancer in front of a target's nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LbKind {
    /// `sessionbench lb`: every policy, an admin API (scale-out, drains).
    #[default]
    Reference,
    /// nginx from PATH: round-robin, least-conn, ip-hash, cookie-hash.
    Nginx,
    /// HAProxy from PATH: round-robin, least-conn, ip-hash (`balance source`), cookie-insert.
    Haproxy,
}

impl LbKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Nginx => "nginx",
            Self::Haproxy => "haproxy",
        }
    }

    /// The policies it runs for a sticky target, and for one whose nodes share sessions.
    pub fn policies(self, sticky: bool) -> &'static [&'static str] {
        match (self, sticky) {
            (Self::Reference, true) => &["cookie-route", "cookie-insert", "ip-hash"],
            (Self::Reference, false) => &[
                "round-robin",
                "least-conn",
                "cookie-route",
                "cookie-insert",
                "ip-hash",
            ],
            (Self::Nginx, true) => &["ip-hash", "cookie-hash"],
            (Self::Nginx, false) => &["round-robin", "least-conn", "ip-hash", "cookie-hash"],
            (Self::Haproxy, true) => &["cookie-insert", "ip-hash"],
            (Self::Haproxy, false) => &["round-robin", "least-conn", "cookie-insert", "ip-hash"],
        }
    }
}

/// Where a `redis` target keeps its sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum RedisPlan {
    /// One redis-server the harness starts, persisting only with `appendonly`.
    Standalone { appendonly: bool },
    /// A primary (`redis`), its replica and three sentinels; nodes ask the sentinels.
    Sentinel { appendonly: bool },
    /// Three masters (`redis`, `redis2`, `redis3`) and three replicas (`redis4` to `redis6`).
    Cluster { appendonly: bool },
    /// A Redis the harness does not own, as a URL.
    External { url: String },
}

/// Session strategies built so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Round-robin LB over local-memory nodes: the session inconsistency problem itself.
    RoundRobin,
    /// A sticky LB policy over local-memory nodes.
    Sticky,
    /// One node, no LB: a baseline.
    Direct,
    /// Every node holds every session; each change goes to every peer (Tomcat DeltaManager).
    Delta,
    /// A primary and one backup per session, locations elsewhere (Tomcat BackupManager).
    Backup,
    /// Stateless nodes sharing sessions in Redis (Spring Session).
    Redis,
    /// A stack the harness did not start (its suite's commands do).
    External,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round-robin",
            Self::Sticky => "sticky",
            Self::Direct => "direct",
            Self::Delta => "delta",
            Self::Backup => "backup",
            Self::Redis => "redis",
            Self::External => "external",
        }
    }

    /// The node store a clustered strategy runs (`--store`), `None` for local-memory nodes.
    pub fn clustered_store(self) -> Option<&'static str> {
        match self {
            Self::Delta => Some("delta"),
            Self::Backup => Some("backup"),
            Self::RoundRobin | Self::Sticky | Self::Direct | Self::Redis | Self::External => None,
        }
    }
}

/// What a target is expected to survive; a miss fails the run with exit code 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Expect {
    pub sessions_lost: LossExpectation,
    /// Upper bound on lost sessions as a percentage of sessions started.
    pub max_sessions_lost_percent: Option<f64>,
    pub max_stale_reads: u64,
    pub max_monotonic_violations: u64,
    pub max_resurrections: u64,
}

/// Whether sessions may, must or must not be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossExpectation {
    /// No session may be lost.
    None,
    /// At least one session must be lost: a negative control that proves the check can fail.
    Some,
    /// Losses are measured, not judged (bounded only by `max-sessions-lost-percent`).
    Any,
}

/// One fault, injected at `at` into every target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FaultPlan {
    #[serde(with = "ms", rename = "at-ms")]
    pub at: Duration,
    pub kind: FaultKind,
    pub node: String,
    /// When the heal happens; `None` leaves the fault in place until the load ends.
    #[serde(with = "opt_ms", rename = "heal-after-ms")]
    pub heal_after: Option<Duration>,
    /// `rolling-restart`: the wait between one node serving again and the next one stopping.
    #[serde(with = "opt_ms", rename = "interval-ms", default)]
    pub interval: Option<Duration>,
    /// `partition`, `latency`: the node's link they act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// `latency`: the delay added each way, and up to how much more at random.
    #[serde(with = "opt_ms", rename = "latency-ms", default)]
    pub latency: Option<Duration>,
    #[serde(with = "opt_ms", rename = "jitter-ms", default)]
    pub jitter: Option<Duration>,
    /// `command`: the shell commands that are the fault and its heal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandPlan>,
    /// The fault may fail to apply without making the run's verdict unknown (it is still
    /// reported): for a fault that is allowed to find nothing to break.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_fail: bool,
}

/// A fault that is a shell command (`sh -c`), and its heal another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommandPlan {
    pub inject: String,
    /// Without one, the fault is over when `inject` has finished (and the probe answered).
    pub heal: Option<String>,
    /// For each command, and for the readiness probe.
    #[serde(with = "ms", rename = "timeout-ms")]
    pub timeout: Duration,
    /// Waited for after the heal (or after `inject`, without a heal).
    pub ready: Option<Probe>,
}

/// `GET http://ADDR/PATH` must answer `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Probe {
    pub addr: std::net::SocketAddr,
    pub path: String,
    pub status: u16,
}

/// A node's network link, where the harness places a fault proxy for network faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl FaultKind {
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
        }
    }

    /// Whether the fault hits a store process rather than an app node.
    pub fn on_store(self) -> bool {
        matches!(
            self,
            Self::StoreKill | Self::StoreRestart | Self::StoreFlush | Self::StorePause
        )
    }
}

/// Durations as whole milliseconds in JSON, the unit named in the key.
mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod opt_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|v| v.map(Duration::from_millis))
    }
}
