//! One system under test: its strategy, nodes, load balancer, store, and for an external stack
//! the commands and request templates that reach it.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::fault::Probe;
use super::redis::RedisPlan;
use super::url::{ClientAddress, TargetUrl, TlsPlan};
use super::{Expect, ms, opt_ms};

/// One system under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// The target in the same suite that models this one (real Tomcat against the reference
    /// delta): the report sets the two side by side and names where they disagree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For `tomcat`: its session manager, `delta`, `backup` or `standard` (no cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// For a clustered `tomcat`: Tomcat's `JvmRouteBinderValve`, which gives a session that
    /// failed over to another node that node's route (a new id, and a new cookie).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub jvm_route_binder: bool,
    /// For `redis`: the Redis the harness starts, or an existing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisPlan>,
    /// For `delta` and `backup`: replication frames are encrypted, not only authenticated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cluster_encrypt: bool,
    /// For `redis`: `on-save` or `immediate` (when a request's changes are written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_flush: Option<String>,
    /// For `redis`: each access renews the TTL (false: it expires by age, a negative control).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub redis_access_renews_ttl: bool,
    /// For `delta` with `async`: how long each change waits before it leaves the node.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "replication-delay-ms", default)]
    pub replication_delay: Duration,
    #[schemars(with = "u64")]
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
    /// How the nodes save a changed session: `delta`, `whole` or `whole-locked` (None:
    /// delta, the nodes' default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    pub expect: Expect,
    /// Performance bounds; a miss fails the run with exit code 4.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// For `external`: where it is, and the commands that start and stop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalPlan>,
    /// Where its processes live: on loopback, or each in a network namespace of its own (the
    /// suite's `network`).
    #[serde(default, skip_serializing_if = "Network::is_loopback")]
    pub network: Network,
    /// For a `redis` store the harness runs with replicas: a primary acknowledges a write
    /// only while this many replicas answered within the last second (`min-replicas-to-write`,
    /// `min-replicas-max-lag 1`); 0 (default) acknowledges alone.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redis_min_replicas: u32,
}

/// Where a target's processes live and how faults cut their links.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// On loopback; network faults go through user-space proxies on the nodes' links.
    #[default]
    Loopback,
    /// Each process in a network namespace of its own on a bridge; partitions are nftables
    /// drop rules (needs root).
    Netns,
}

impl Network {
    pub fn is_loopback(&self) -> bool {
        *self == Self::Loopback
    }
}

/// A stack the harness did not build, reached at `url` and speaking sessionbench's node
/// protocol or the API `api` describes; the suite's own commands start and stop it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ExternalPlan {
    pub url: TargetUrl,
    /// The suite (or `--allow-remote`) lets the URL be on another host.
    #[serde(default)]
    pub remote: bool,
    /// For `https://` URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsPlan>,
    #[serde(default)]
    pub client_address: ClientAddress,
    pub start: Option<String>,
    pub stop: Option<String>,
    /// Waited for after `start`.
    pub ready: Option<Probe>,
    /// For each command and for the probe.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "timeout-ms")]
    pub timeout: Duration,
    /// How to speak to an application that does not speak the node protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<HttpApi>,
}

/// An application's own HTTP API: a request template per operation and how to read its
/// answers. Templates hold `{user}`, `{seq}` and (in `write`) `{value}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct HttpApi {
    /// The URL's path, put before every request's path (`/` for none).
    pub base_path: String,
    /// Its steps in order (a CSRF-protected form: fetch the page, then post it); the last
    /// step's answer is the login's.
    pub login: Vec<RequestPlan>,
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
    /// The counter a new session starts with, where the suite says so: what the login's
    /// answer counts as showing, so increments lost at the first step can be seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_starts_at: Option<u64>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Login steps: values read from the answer that later steps and requests use as
    /// `{name}` (a CSRF token, a form's action).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extract: Vec<(String, Extract)>,
    /// Redirects followed to the answer read (same host only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub follow_redirects: u32,
    /// For `logout`: what its answer shows when the logout worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shows: Option<Shows>,
}

/// What an answer shows when the operation worked: one of these statuses (any, if none),
/// and a field found, equal to `equals` if given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Shows {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<Extract>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A request body; placeholders are filled in its strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Body {
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`, in the given order.
    Form(Vec<(String, String)>),
    /// Sent as it is (set its `Content-Type` in `headers`).
    Text(String),
}

/// Where in an answer a field is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Extract {
    /// RFC 6901 JSON pointer into a JSON body.
    Pointer(String),
    /// The first capture group (or the whole match) in the body.
    Regex(String),
    /// A response header.
    Header(String),
    /// A cookie the user holds after the answer.
    Cookie(String),
}

/// What an answer that means "not signed in" looks like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Thresholds {
    #[schemars(with = "Option<u64>")]
    #[serde(with = "opt_ms", rename = "p99-latency-ms", default)]
    pub p99_latency: Option<Duration>,
    /// p99 bounds on one kind of request (`p99-latency.login`), in ms, by kind.
    #[serde(
        default,
        rename = "p99-latency-ms-by-kind",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub p99_latency_ms_by_kind: std::collections::BTreeMap<String, u64>,
    /// Failed and unanswered operations, as a percentage of all.
    pub max_error_rate: Option<f64>,
    /// Successful operations per second.
    pub min_throughput: Option<f64>,
    pub max_sessions_lost: Option<u64>,
}

impl TargetPlan {
    /// An external target whose TLS certificate is not verified (`insecure-skip-verify`):
    /// every report says so.
    pub fn tls_unverified(&self) -> bool {
        self.external
            .as_ref()
            .and_then(|e| e.tls.as_ref())
            .is_some_and(|tls| tls.insecure_skip_verify)
    }

    pub fn node_ids(&self) -> impl Iterator<Item = String> {
        (1..=self.nodes).map(|i| format!("node{i}"))
    }

    /// The members a `tomcat` target's static membership lists: its nodes, then
    /// `TOMCAT_SPARES` more that an `add-node` may start (static membership names every
    /// member from the start).
    pub fn tomcat_members(&self) -> impl Iterator<Item = String> {
        (1..=self.nodes + TOMCAT_SPARES).map(|i| format!("node{i}"))
    }

    /// The strategy as reports show it: `delta-sync`, `redis-standalone`, `sticky`, …
    pub fn strategy_label(&self) -> String {
        let label = self.store_label();
        // A save other than the default changes what the strategy loses: say it.
        match self.save.as_deref() {
            Some(save) if save != "delta" => format!("{label} saving {save}"),
            _ => label,
        }
    }

    fn store_label(&self) -> String {
        if let Some(manager) = &self.manager {
            return match &self.replication {
                Some(r) => format!("tomcat-{manager}-{r}"),
                None => format!("tomcat-{manager}"),
            };
        }
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
    /// Every process the harness runs for this target, by the names faults give them: the
    /// nodes, the LB, the store's processes.
    pub fn process_names(&self) -> Vec<String> {
        let mut all: Vec<String> = self.node_ids().collect();
        if self.lb_policy.is_some() {
            all.push("lb".into());
        }
        all.extend(self.store_ids().into_iter().map(String::from));
        all
    }

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

/// Members a `tomcat` target lists beyond its nodes, for a scale-out.
pub const TOMCAT_SPARES: u32 = 2;

/// The load balancer in front of a target's nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LbKind {
    /// `sessionbench lb`: every policy, an admin API (scale-out, drains).
    #[default]
    Reference,
    /// nginx from PATH: round-robin, least-conn, ip-hash, cookie-hash.
    Nginx,
    /// HAProxy from PATH: round-robin, least-conn, ip-hash (`balance source`), cookie-insert.
    Haproxy,
    /// Apache httpd's mod_proxy_balancer (`apache2` from PATH): round-robin, least-conn
    /// (`bybusyness`), cookie-route (`stickysession` on the session cookie, each member's
    /// `route` its node's name: Tomcat's jvmRoute).
    Apache,
}

impl LbKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Nginx => "nginx",
            Self::Haproxy => "haproxy",
            Self::Apache => "apache",
        }
    }

    /// The program that balances, as results and reports name it.
    pub fn program(self) -> &'static str {
        match self {
            Self::Reference => "sessionbench lb",
            Self::Nginx => "nginx",
            Self::Haproxy => "HAProxy",
            Self::Apache => "Apache httpd",
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
            (Self::Apache, true) => &["cookie-route"],
            (Self::Apache, false) => &["round-robin", "least-conn", "cookie-route"],
        }
    }
}

/// Session strategies built so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// Real Tomcat 10 JVMs the harness starts (`manager`: DeltaManager, BackupManager or none),
    /// with a small servlet speaking the node protocol.
    Tomcat,
    /// A stack the harness did not start (its suite's commands do).
    External,
}

impl Strategy {
    /// Every strategy, in the order errors and docs list them.
    pub const ALL: [Self; 8] = [
        Self::RoundRobin,
        Self::Sticky,
        Self::Direct,
        Self::Delta,
        Self::Backup,
        Self::Redis,
        Self::Tomcat,
        Self::External,
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|s| s.name()).collect()
    }

    /// The name a suite writes (`strategy = "delta"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round-robin",
            Self::Sticky => "sticky",
            Self::Direct => "direct",
            Self::Delta => "delta",
            Self::Backup => "backup",
            Self::Redis => "redis",
            Self::Tomcat => "tomcat",
            Self::External => "external",
        }
    }

    /// The node store a clustered strategy runs (`--store`), `None` for local-memory nodes.
    pub fn clustered_store(self) -> Option<&'static str> {
        match self {
            Self::Delta => Some("delta"),
            Self::Backup => Some("backup"),
            Self::RoundRobin
            | Self::Sticky
            | Self::Direct
            | Self::Redis
            | Self::Tomcat
            | Self::External => None,
        }
    }
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}
