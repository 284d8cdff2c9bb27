//! The plan and its runs, scenarios, quick version, limits and expectations.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FaultPlan, Shard, TargetPlan, Workload};

/// Bumped when the plan changes shape; `check` and `merge` refuse a version outside
/// [`OLDEST_READABLE`]..=[`FORMAT_VERSION`].
pub const FORMAT_VERSION: u32 = 1;

/// The oldest plan this build reads.
pub const OLDEST_READABLE: u32 = 1;

/// A whole run: every default resolved, every name checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    /// [`FORMAT_VERSION`] when written (plans written before the field are version 1).
    #[serde(default = "first_version")]
    pub format_version: u32,
    pub name: String,
    /// The suite file this came from, as given.
    pub source: String,
    pub seed: u64,
    /// Length of the load on each target.
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "duration-ms")]
    pub duration: Duration,
    /// Operations in the first `warm-up` are checked but left out of throughput and latency.
    #[schemars(with = "u64")]
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
    /// A long run's report has a line per window of this length (throughput, p99, memory,
    /// sessions held), so growth shows.
    #[schemars(with = "Option<u64>")]
    #[serde(
        default,
        with = "opt_ms",
        rename = "report-window-ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub report_window: Option<Duration>,
    /// A share of a run loaded from many processes (`run --shard`): this one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// When a run's numbers describe the harness rather than the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DriverLimits {
    /// Operations starting later than this after they were due, at the 99th percentile.
    pub send_lag_us: u64,
    /// The harness using more than this share of the cores it may use.
    pub cpu_percent: f64,
}

impl DriverLimits {
    /// The share of the time the harness's threads were ready to run that they spent
    /// waiting for a core, from which a late second is the machine's doing. Measured on a
    /// 2-core machine: a third when quiet (the harness's own threads queue behind each
    /// other), 60 to 80 % beside three CI tests, over 90 % beside busy loops.
    pub const CPU_WAIT_PERCENT: f64 = 50.0;
    /// ... and the share of the machine's cores other processes (the target's among them)
    /// must have kept busy: waits behind the harness's own threads are the driver's.
    pub const OTHERS_PERCENT: f64 = 50.0;
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
            for s in self.scenarios.iter().filter(|s| s.applies_to(&target.name)) {
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
        self.report_window = quick.report_window.or(self.report_window);
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
        self.target.network.is_loopback() && self.faults.iter().any(|f| f.link.is_some())
    }
}

impl Scenario {
    pub fn applies_to(&self, target: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t == target)
    }
}

/// A situation (a node failure, a restart, a scale-out, none) that every target goes through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Scenario {
    pub name: String,
    /// The targets it is for; empty: every target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub workload: Workload,
    pub faults: Vec<FaultPlan>,
}

/// The reduced run of `run --quick`, for CI: fewer scenarios or targets, a shorter load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Quick {
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "duration-ms")]
    pub duration: Duration,
    /// Empty: all of them.
    pub scenarios: Vec<String>,
    pub targets: Vec<String>,
    #[schemars(with = "Option<u64>")]
    #[serde(
        default,
        with = "opt_ms",
        rename = "report-window-ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub report_window: Option<Duration>,
}

/// What a target is expected to survive; a miss fails the run with exit code 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Expect {
    pub sessions_lost: LossExpectation,
    /// Upper bound on lost sessions as a percentage of sessions started.
    pub max_sessions_lost_percent: Option<f64>,
    pub max_stale_reads: u64,
    pub max_monotonic_violations: u64,
    pub max_resurrections: u64,
    /// Whether updates may, must or must not be lost (older plans: none).
    #[serde(default = "no_loss")]
    pub lost_updates: LossExpectation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lost_updates: Option<u64>,
    #[serde(default)]
    pub max_monotonic_writes: u64,
    /// Losses the system under test is known to cause at a fault, each bounded and named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_losses: Vec<KnownLoss>,
}

/// A loss a real system is known to cause at a fault (a race of its own, documented where it
/// is named): sessions found lost within `within` of the start (or, `from_end`, the end) of a
/// fault of kind `after` are counted as this cause's, at most `max_sessions` for each such
/// fault, and are not judged by `sessions-lost`. A loss outside the window, or past the bound,
/// still fails; each known loss has its own bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct KnownLoss {
    /// A fault kind's name (`kill`).
    pub after: String,
    /// The window opens at the fault's end (its heal, or a restart's return) rather than its
    /// start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_end: bool,
    #[schemars(with = "u64")]
    #[serde(with = "ms", rename = "within-ms")]
    pub within: Duration,
    pub max_sessions: u64,
    /// What causes it, shown with each loss it explains.
    pub cause: String,
}

fn first_version() -> u32 {
    1
}

pub(super) fn no_loss() -> LossExpectation {
    LossExpectation::None
}

/// Whether sessions may, must or must not be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LossExpectation {
    /// No session may be lost.
    None,
    /// At least one session must be lost: a negative control that proves the check can fail.
    Some,
    /// Losses are measured, not judged (bounded only by `max-sessions-lost-percent`).
    Any,
}

/// Durations as whole milliseconds in JSON, the unit named in the key.
pub(crate) mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

pub(crate) mod opt_ms {
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
