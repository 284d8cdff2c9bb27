//! `results.json`: what a run measured and concluded, per target.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CheckCoverage, Driver, FaultWindow, KindResult, ServerLatency};

/// Bumped when the shape changes; readers refuse a version outside
/// [`OLDEST_READABLE`]..=[`FORMAT_VERSION`].
pub const FORMAT_VERSION: u32 = 1;

/// The oldest results.json this build reads.
pub const OLDEST_READABLE: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Results {
    pub format_version: u32,
    pub suite: String,
    pub source: String,
    pub seed: u64,
    pub targets: Vec<TargetResult>,
    /// The target the comparison is relative to (suites with scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Operations before this are checked but not measured (throughput, latency, baselines).
    #[serde(default)]
    pub warm_up_ms: f64,
}

impl Results {
    /// The worst verdict of all targets (fail over unknown over pass).
    pub fn verdict(&self) -> Verdict {
        self.targets
            .iter()
            .map(|t| t.verdict)
            .max()
            .unwrap_or(Verdict::Unknown)
    }

    /// Every performance threshold missed, as `run: reason`.
    pub fn thresholds_missed(&self) -> Vec<String> {
        self.targets
            .iter()
            .flat_map(|t| {
                t.thresholds.iter().filter(|c| !c.passed).map(move |c| {
                    let unsure = if c.unsure {
                        format!(" (judged on {})", t.unsure_because())
                    } else {
                        String::new()
                    };
                    format!(
                        "{}: {} {}, measured {}{unsure}",
                        t.name, c.name, c.expected, c.actual
                    )
                })
            })
            .collect()
    }

    /// `--strict`: a threshold judged while the driver was saturated or the machine busy is a
    /// miss, pass or not.
    pub fn fail_unsure_thresholds(&mut self) {
        for t in &mut self.targets {
            for c in t.thresholds.iter_mut().filter(|c| c.unsure) {
                c.passed = false;
            }
        }
        self.apply_thresholds();
    }

    /// A target that missed a threshold fails, wherever its verdict is shown; what its
    /// expectations alone said is kept in `checks_verdict` (the exit code follows it).
    pub fn apply_thresholds(&mut self) {
        for t in &mut self.targets {
            let missed: Vec<String> = t
                .thresholds
                .iter()
                .filter(|c| !c.passed)
                .map(|c| {
                    format!(
                        "threshold missed: {} {}, measured {}",
                        c.name, c.expected, c.actual
                    )
                })
                .collect();
            if missed.is_empty() {
                continue;
            }
            if t.checks_verdict.is_none() {
                t.checks_verdict = Some(t.verdict);
            }
            t.verdict = Verdict::Fail;
            for reason in missed {
                if !t.reasons.contains(&reason) {
                    t.reasons.push(reason);
                }
            }
        }
    }

    /// The worst of the expectations' verdicts, thresholds aside.
    pub fn checks_verdict(&self) -> Verdict {
        self.targets
            .iter()
            .map(|t| t.checks_verdict.unwrap_or(t.verdict))
            .max()
            .unwrap_or(Verdict::Unknown)
    }

    /// Runs whose driver fell behind, through its own doing or a busy machine's: their
    /// numbers describe the harness or the machine, not the target.
    pub fn behind(&self) -> impl Iterator<Item = (&TargetResult, &Driver)> {
        self.targets.iter().filter_map(|t| {
            t.driver
                .as_ref()
                .filter(|d| d.behind().is_some())
                .map(|d| (t, d))
        })
    }
}

/// Ordered so that `max` is the worst: a definite failure outranks not knowing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Unknown,
    Fail,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Unknown => "unknown",
            Self::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TargetResult {
    /// The run's name: the target's, or `target/scenario`.
    pub name: String,
    /// For a run of a suite with scenarios: which target, in which scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_of: Option<RunOf>,
    pub strategy: String,
    /// The target that models this one (`model` in the suite): the report compares the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Requests a session had in flight at once, at most (a page's parallel fetches).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub parallel: u32,
    pub lb_policy: Option<String>,
    /// How the target's nodes serialize sessions (`format[+compression]`), if they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Processes an operator runs for it: nodes, the LB, the store's.
    #[serde(default)]
    pub processes: u32,
    /// The program in front of the nodes (`sessionbench lb`, `nginx`, `HAProxy`, `Apache
    /// httpd`), where the harness started one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balancer: Option<String>,
    /// Pass, fail or unknown: the expectations and, once missed, the thresholds.
    pub verdict: Verdict,
    /// The expectations' verdict alone, where a missed threshold made `verdict` fail: the
    /// exit code is 3 by this one, 4 by the thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_verdict: Option<Verdict>,
    /// Why the verdict is not `pass`, one sentence each.
    pub reasons: Vec<String>,
    pub expectations: Vec<ExpectationResult>,
    /// Performance thresholds (`[targets.thresholds]`): a miss exits 4, not 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ExpectationResult>,
    pub sessions: Sessions,
    pub ops: Ops,
    /// Successful operations per second after the warm-up.
    pub throughput_ops_per_s: f64,
    /// Latency of successful operations after the warm-up, from their intended start.
    pub latency_ms: Option<Latency>,
    /// The same, and the operations counted, for each kind of request the workload made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_kind: Vec<KindResult>,
    pub phases: Vec<Phase>,
    /// Whole seconds from the start of the load: the plots' data and the samples a
    /// baseline comparison resamples.
    #[serde(default)]
    pub timeline: Vec<Second>,
    pub faults: Vec<FaultWindow>,
    /// Which of the sessions in use when the first fault struck were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity: Option<Continuity>,
    /// Replication traffic of clustered targets, from the nodes' own counters.
    pub replication: Option<Replication>,
    /// Session data sent to and read from a shared store (Redis), from the nodes' counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_traffic: Option<StoreTraffic>,
    /// Sessions a node could not decode (from a peer or the store) and treated as gone: a
    /// codec or session-schema mismatch, as in a rolling deploy.
    #[serde(default)]
    pub sessions_undecodable: u64,
    /// Checks this target's answers cannot support (an application's API that shows no
    /// counter or value): neither counted nor judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    /// Each check, with what the answers fed it: judged for every session that needed it,
    /// partly, or not judged (with why, and what would feed it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckCoverage>,
    /// The first violations found (a thousand at most), whole.
    pub violations: Vec<Violation>,
    /// Violations found past those listed: counted in `sessions`, not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub violations_not_listed: u64,
    /// The load was cut short (Ctrl-C or an error): what was not seen cannot pass.
    pub interrupted: bool,
    /// The target's TLS certificate was not verified (`insecure-skip-verify`): every report
    /// says so.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_unverified: bool,
    /// How the load driver itself kept up: when it did not, the run's numbers describe the
    /// harness, not the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Driver>,
    /// How long the nodes themselves took to handle requests, from their own clocks (merged
    /// over every node, for the reference nodes): client latency minus this is network and
    /// harness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_latency_ms: Option<ServerLatency>,
    /// What the target's processes (and the harness) held: the most resident memory each
    /// reached, the most Redis `used_memory`, the most sessions the nodes held together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// With a report window: the run window by window, so growth shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<Window>,
}

impl TargetResult {
    /// What a threshold marked unsure was judged on.
    pub fn unsure_because(&self) -> &'static str {
        self.driver
            .as_ref()
            .and_then(Driver::behind)
            .unwrap_or("a saturated driver")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RunOf {
    pub target: String,
    pub scenario: String,
}

/// The sessions a fault put at risk, and what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Continuity {
    /// When the first fault started.
    pub from_ms: f64,
    /// Sessions established before it, not lost or ended yet, and used again after it.
    pub at_risk: u64,
    /// Of those, the ones never lost afterwards.
    pub kept: u64,
    /// Of those, the ones answered afterwards by another node than their last before: what
    /// a change of membership (a hash remap) moved.
    pub moved: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ExpectationResult {
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
    /// Judged on numbers that describe the harness more than the target (the driver was
    /// saturated): a pass is not evidence, and `--strict` turns it into a miss.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsure: bool,
}

impl ExpectationResult {
    pub fn new(name: &str, expected: String, actual: String, passed: bool) -> Self {
        Self {
            name: name.into(),
            expected,
            actual,
            passed,
            unsure: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Sessions {
    /// Sessions whose login succeeded and that were used (an operation followed the login).
    pub started: u64,
    /// Sessions that signed in as the load ended and had no operation after it: counted
    /// apart, so they swell no percentage.
    #[serde(default)]
    pub login_only: u64,
    pub lost: u64,
    /// Of `lost`, the losses a known loss of the target explains (`known-losses`: a race of
    /// the system under test at a fault, bounded and named in the suite).
    #[serde(default)]
    pub lost_known: u64,
    pub stale_reads: u64,
    pub monotonic_violations: u64,
    pub resurrections: u64,
    /// Gone after idling past the target's idle limit, as they should be (not lost).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expired: u64,
    /// Lost while used within the idle limit, having lived past it (counted in `lost`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expired_early: u64,
    /// Served after idling past the idle limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub outlived: u64,
    /// Logouts whose answer did not show a logout (`requests.logout.shows`): the session
    /// stayed, and is not counted as resurrected.
    #[serde(default)]
    pub logout_failed: u64,
    /// Acknowledged writes undone for good and acknowledged increments a session's last
    /// counter lacks (a concurrent whole-session save wrote an older copy over them).
    #[serde(default)]
    pub lost_updates: u64,
    /// Answers that showed a write but not one acknowledged before it (monotonic writes).
    #[serde(default)]
    pub monotonic_writes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Ops {
    pub total: u64,
    pub ok: u64,
    pub fail: u64,
    pub indeterminate: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// One second of a run (`t` seconds from the start of the load).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Second {
    pub t: u32,
    /// Operations started in it that succeeded.
    pub ok: u64,
    /// Operations started in it that failed or got no answer (logout probes left out).
    pub errors: u64,
    /// Latency of its successful operations, from their intended start.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The driver's send lag (p99) and CPU share in this second, and whether either passed
    /// its limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag_p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub driver_saturated: bool,
    /// Late because the machine was busy, not the driver; with the share of their ready time
    /// the harness's threads waited for a core, and the share of the machine other
    /// processes used.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub machine_busy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_wait_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others_cpu_percent: Option<f64>,
    /// Findings in it, every one counted (the violations list keeps only the first): lost
    /// sessions, stale reads, lost updates, and the other kinds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stale: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_updates: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_findings: u64,
}

/// A stretch of the load relative to the faults: before, during, after (or steady).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Phase {
    pub name: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub ops: Ops,
    pub throughput_ops_per_s: f64,
    pub latency_ms: Option<Latency>,
    pub sessions_lost: u64,
    pub stale_reads: u64,
    /// Updates found lost by answers in the phase.
    #[serde(default)]
    pub lost_updates: u64,
}

/// One anomaly, with what is needed to find it in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Violation {
    /// `session-lost`, `stale-read`, `monotonic-read` or `resurrection`.
    pub kind: String,
    pub session: String,
    /// When the offending operation started.
    pub at_ms: f64,
    /// Nodes involved: where the session was last served, and where the anomaly was seen.
    pub nodes: Vec<String>,
    pub detail: String,
    /// A lost session's known cause, when a known loss of the target explains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The session cookie (`NAME=value`) the application last gave the session, where the
    /// suite names its cookie: what to search the stack's own logs for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cookie: Option<String>,
    /// The session's last operations up to this one, a line each: time, kind, status, node,
    /// whether the answer changed the cookies, an error or a redirect's target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub story: Vec<String>,
}

impl Violation {
    /// `session v1.0 (SID=1f3c) [node1 -> node2]`: the session, its cookie where known, and
    /// the nodes involved, or why none is named.
    pub fn who(&self) -> String {
        let cookie = self
            .session_cookie
            .as_ref()
            .map_or(String::new(), |c| format!(" ({c})"));
        let nodes = if self.nodes.is_empty() {
            "no node named: the answers do not say which served them (`served-by`)".into()
        } else {
            self.nodes.join(" -> ")
        };
        format!("session {}{cookie} [{nodes}]", self.session)
    }
}

/// What keeping sessions in a shared store costs on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct StoreTraffic {
    /// Bytes of field names and values written (without the protocol's framing).
    pub bytes_written: u64,
    pub bytes_read: u64,
    /// Successful operations of the run (every one reads the session, writes write it).
    pub ops: u64,
    pub bytes_per_op: f64,
}

/// What replicating sessions cost on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Replication {
    /// Bytes all nodes sent to their peers (frames, headers included).
    pub bytes_sent: u64,
    pub messages_sent: u64,
    /// Acknowledged operations that change a session (login, write, counter, logout).
    pub writes: u64,
    pub bytes_per_write: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The most each process held over a stretch of the run, from the samples taken every few
/// seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Resources {
    /// Process name (`sessionbench` for the harness) to its peak resident memory, in MB.
    pub peak_rss_mb: BTreeMap<String, f64>,
    /// Redis server name to its peak `used_memory`, in MB.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peak_redis_used_mb: BTreeMap<String, f64>,
    /// The most resident memory the harness had had at the last sample (`VmHWM`, in MB):
    /// exact, where its samples in `peak-rss-mb` could miss a spike between them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_peak_mb: Option<f64>,
    /// The most sessions held in one sample, summed over the processes that hold them (a
    /// session every node replicates counts once per node; in Redis, once per server,
    /// replicas included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_sessions_held: Option<u64>,
    /// Samples taken.
    pub samples: u64,
}

/// One window of a long run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Window {
    pub start_s: f64,
    pub end_s: f64,
    /// Operations that started in it.
    pub ops: Ops,
    pub throughput_ops_per_s: f64,
    /// Of its successful operations, from their intended start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    pub resources: Resources,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_names_its_cookie_and_says_when_no_node_is_named() {
        let mut v = Violation {
            kind: "lost-update".into(),
            session: "v1.0".into(),
            at_ms: 10.0,
            nodes: Vec::new(),
            detail: String::new(),
            cause: None,
            session_cookie: Some("SHOPSESSION=9f2c".into()),
            story: Vec::new(),
        };
        assert_eq!(
            v.who(),
            "session v1.0 (SHOPSESSION=9f2c) [no node named: the answers do not say which \
             served them (`served-by`)]"
        );
        v.nodes = vec!["node1".into(), "node2".into()];
        v.session_cookie = None;
        assert_eq!(v.who(), "session v1.0 [node1 -> node2]");
    }
}
