//! The serde layer: exactly the keys a suite file may contain, all optional, none resolved.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SuiteRaw {
    pub suite: Option<SuiteSection>,
    pub workload: Option<WorkloadRaw>,
    pub targets: Option<Vec<TargetRaw>>,
    pub faults: Option<Vec<FaultRaw>>,
    pub scenarios: Option<Vec<ScenarioRaw>>,
    pub quick: Option<QuickRaw>,
}

/// One situation every target goes through: its own faults, and workload keys that replace
/// the suite's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScenarioRaw {
    pub name: Option<String>,
    pub targets: Option<Vec<String>>,
    pub workload: Option<WorkloadRaw>,
    pub faults: Option<Vec<FaultRaw>>,
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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TargetRaw {
    pub name: Option<String>,
    pub strategy: Option<String>,
    pub nodes: Option<u32>,
    pub lb_policy: Option<String>,
    pub lb: Option<String>,
    pub replication: Option<String>,
    pub replication_delay: Option<String>,
    pub manager: Option<String>,
    pub jvm_route_binder: Option<bool>,
    pub model: Option<String>,
    pub redis: Option<String>,
    pub redis_appendonly: Option<bool>,
    pub redis_min_replicas: Option<u32>,
    pub redis_flush: Option<String>,
    pub redis_access_renews_ttl: Option<bool>,
    pub redis_password_file: Option<String>,
    pub redis_password_env: Option<String>,
    pub cluster_encrypt: Option<bool>,
    pub cookie: Option<String>,
    pub max_inactive: Option<String>,
    pub padding_bytes: Option<usize>,
    pub codec: Option<String>,
    pub save: Option<String>,
    pub expect: Option<ExpectRaw>,
    pub thresholds: Option<ThresholdsRaw>,
    pub url: Option<String>,
    pub remote: Option<bool>,
    pub ca_file: Option<String>,
    pub insecure_skip_verify: Option<bool>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub http: Option<String>,
    pub client_address: Option<String>,
    pub start: Option<String>,
    pub stop: Option<String>,
    pub ready_url: Option<String>,
    pub ready_status: Option<u16>,
    pub timeout: Option<String>,
    pub requests: Option<RequestsRaw>,
    pub logged_out: Option<LoggedOutRaw>,
    pub served_by: Option<ExtractRaw>,
}

/// An external application's own API: a request per operation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestsRaw {
    pub login: Option<OneOrMany<RequestRaw>>,
    pub read: Option<RequestRaw>,
    pub write: Option<RequestRaw>,
    pub counter: Option<RequestRaw>,
    pub logout: Option<RequestRaw>,
}

/// A table, or an array of tables (`[[targets.requests.login]]`, one per step). Not an
/// untagged enum: that would turn a misspelt key inside into "matches no variant".
#[derive(Debug, Clone)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table, or an array of tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
            }
        }
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestRaw {
    pub method: Option<String>,
    pub path: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub json: Option<serde_json::Value>,
    pub form: Option<BTreeMap<String, String>>,
    pub body: Option<String>,
    pub user: Option<ExtractRaw>,
    pub counter: Option<ExtractRaw>,
    pub value: Option<ExtractRaw>,
    pub extract: Option<BTreeMap<String, ExtractRaw>>,
    pub follow_redirects: Option<u32>,
    pub shows: Option<ShowsRaw>,
    pub starts_at: Option<u64>,
}

/// What a logout that worked shows: a status, a field, or a field with a value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShowsRaw {
    #[serde(default, deserialize_with = "statuses")]
    pub status: Option<Vec<u16>>,
    pub pointer: Option<String>,
    pub regex: Option<String>,
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub equals: Option<String>,
}

/// Where a field is in an answer: exactly one key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExtractRaw {
    pub pointer: Option<String>,
    pub regex: Option<String>,
    pub header: Option<String>,
    pub cookie: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoggedOutRaw {
    #[serde(default, deserialize_with = "statuses")]
    pub status: Option<Vec<u16>>,
    pub redirect: Option<String>,
    pub body: Option<String>,
}

/// Performance thresholds of a target: a miss exits 4.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ThresholdsRaw {
    pub p99_latency: Option<String>,
    pub max_error_rate: Option<f64>,
    pub min_throughput: Option<f64>,
    pub max_sessions_lost: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExpectRaw {
    pub sessions_lost: Option<String>,
    pub max_sessions_lost_percent: Option<f64>,
    pub max_stale_reads: Option<u64>,
    pub max_monotonic_violations: Option<u64>,
    pub max_resurrections: Option<u64>,
    pub lost_updates: Option<String>,
    pub max_lost_updates: Option<u64>,
    pub max_monotonic_writes: Option<u64>,
    pub known_losses: Option<Vec<KnownLossRaw>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KnownLossRaw {
    pub after: Option<String>,
    pub from: Option<String>,
    pub within: Option<String>,
    pub max_sessions: Option<u64>,
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaultRaw {
    pub at: Option<String>,
    pub kind: Option<String>,
    pub node: Option<String>,
    pub heal_after: Option<String>,
    pub interval: Option<String>,
    pub link: Option<String>,
    pub latency: Option<String>,
    pub jitter: Option<String>,
    pub inject: Option<String>,
    pub heal: Option<String>,
    pub timeout: Option<String>,
    pub ready_url: Option<String>,
    pub ready_status: Option<u16>,
    pub may_fail: Option<bool>,
    pub groups: Option<Vec<Vec<String>>>,
    pub from: Option<Vec<String>>,
    pub to: Option<Vec<String>>,
}

/// `status = 401` or `status = [401, 403]`.
fn statuses<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u16>>, D::Error> {
    struct Statuses;
    impl<'de> serde::de::Visitor<'de> for Statuses {
        type Value = Vec<u16>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an HTTP status (401) or a list of them ([401, 403])")
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u16::try_from(v)
                .map(|s| vec![s])
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u16::try_from(v)
                .map(|s| vec![s])
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(s) = seq.next_element()? {
                all.push(s);
            }
            Ok(all)
        }
    }
    d.deserialize_any(Statuses).map(Some)
}
