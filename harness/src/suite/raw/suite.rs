//! The suite file's sections as written: every key optional, none resolved.

use serde::Deserialize;

use super::{FaultRaw, Later, Tagged, TargetRaw, Untyped};
use crate::suite::locate::Seg;

/// A suite file. Targets and faults are typed by their `strategy` and `kind`, in a second
/// step ([`Tagged`](super::Tagged)): the first reads them as [`Later`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SuiteRaw<T = Read<TargetRaw>, F = Read<FaultRaw>> {
    pub suite: Option<SuiteSection>,
    pub workload: Option<WorkloadRaw>,
    pub targets: Option<Vec<T>>,
    pub faults: Option<Vec<F>>,
    pub scenarios: Option<Vec<ScenarioRaw<F>>>,
    pub quick: Option<QuickRaw>,
}

/// One situation every target goes through: its own faults, and workload keys that replace
/// the suite's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScenarioRaw<F = Read<FaultRaw>> {
    pub name: Option<String>,
    pub targets: Option<Vec<String>>,
    pub workload: Option<WorkloadRaw>,
    pub faults: Option<Vec<F>>,
}

/// A table read as the type its tag names, or, when it could not be (reported), what is
/// kept of it.
pub type Read<T> = Result<T, Untyped>;

/// Reads the table at a path as the type its tag names.
pub trait ReadTagged {
    fn read<T: Tagged>(&mut self, at: &[Seg]) -> Read<T>;
}

impl<T, F> Default for SuiteRaw<T, F> {
    fn default() -> Self {
        Self {
            suite: None,
            workload: None,
            targets: None,
            faults: None,
            scenarios: None,
            quick: None,
        }
    }
}

impl SuiteRaw<Later, Later> {
    /// The suite with each target and fault read as its type by `reader`.
    pub fn typed(self, reader: &mut impl ReadTagged) -> SuiteRaw {
        let key = |k: &str| Seg::Key(k.into());
        let targets = read_all(reader, vec![key("targets")], &self.targets);
        let faults = read_all(reader, vec![key("faults")], &self.faults);
        let scenarios = self.scenarios.map(|all| {
            all.into_iter()
                .enumerate()
                .map(|(s, sc)| ScenarioRaw {
                    faults: read_all(
                        reader,
                        vec![key("scenarios"), Seg::Index(s), key("faults")],
                        &sc.faults,
                    ),
                    name: sc.name,
                    targets: sc.targets,
                    workload: sc.workload,
                })
                .collect()
        });
        SuiteRaw {
            suite: self.suite,
            workload: self.workload,
            targets,
            faults,
            scenarios,
            quick: self.quick,
        }
    }
}

/// Each table of `list` (at `at`) as its type.
fn read_all<T: Tagged>(
    reader: &mut impl ReadTagged,
    at: Vec<Seg>,
    list: &Option<Vec<Later>>,
) -> Option<Vec<Read<T>>> {
    let list = list.as_ref()?;
    let read = (0..list.len()).map(|i| {
        let mut path = at.clone();
        path.push(Seg::Index(i));
        reader.read(&path)
    });
    Some(read.collect())
}

/// What `run --quick` keeps of the suite.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct QuickRaw {
    pub duration: Option<String>,
    pub report_window: Option<String>,
    pub scenarios: Option<Vec<String>>,
    pub targets: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SuiteSection {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub duration: Option<String>,
    pub warm_up: Option<String>,
    pub reference: Option<String>,
    pub send_lag_limit: Option<String>,
    pub driver_cpu_limit: Option<f64>,
    pub report_window: Option<String>,
    pub network: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkloadRaw {
    pub model: Option<String>,
    pub virtual_users: Option<u32>,
    pub arrival_rate: Option<f64>,
    pub max_sessions_in_flight: Option<u32>,
    pub think_time: Option<String>,
    pub think_time_jitter: Option<f64>,
    pub ops_per_session: Option<u32>,
    pub request_timeout: Option<String>,
    pub parallel: Option<u32>,
    pub attributes: Option<u32>,
    pub mix: Option<MixRaw>,
    pub idle: Option<IdleRaw>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IdleRaw {
    pub every: Option<String>,
    #[serde(rename = "for")]
    pub pause: Option<String>,
}

impl WorkloadRaw {
    /// Each key of `self`, or else of `base` (a mix replaces the base's whole).
    pub fn over(self, base: &Self) -> Self {
        let base = base.clone();
        Self {
            model: self.model.or(base.model),
            virtual_users: self.virtual_users.or(base.virtual_users),
            arrival_rate: self.arrival_rate.or(base.arrival_rate),
            max_sessions_in_flight: self.max_sessions_in_flight.or(base.max_sessions_in_flight),
            think_time: self.think_time.or(base.think_time),
            think_time_jitter: self.think_time_jitter.or(base.think_time_jitter),
            ops_per_session: self.ops_per_session.or(base.ops_per_session),
            request_timeout: self.request_timeout.or(base.request_timeout),
            parallel: self.parallel.or(base.parallel),
            attributes: self.attributes.or(base.attributes),
            idle: self.idle.or(base.idle),
            mix: self
                .mix
                .filter(|m| m.read.or(m.write).or(m.counter).or(m.logout).is_some())
                .or(base.mix),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MixRaw {
    pub read: Option<u32>,
    pub write: Option<u32>,
    pub counter: Option<u32>,
    pub logout: Option<u32>,
}
