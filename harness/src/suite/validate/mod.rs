//! From a suite file's text to a [`Plan`]: parse, merge the defaults, check every value, and
//! report every problem at once with its file, line, column and key path.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use toml_edit::Document;

mod api;
mod command;
mod external;
mod lb;
mod scenario;
mod thresholds;

use super::locate::{self, Seg};
use super::raw::{ExpectRaw, FaultRaw, MixRaw, SuiteRaw, TargetRaw, WorkloadRaw};
use crate::plan::{
    DriverLimits, Expect, FaultKind, FaultPlan, LbKind, Link, LoadModel, LossExpectation, Mix,
    Plan, RedisPlan, Strategy, TargetPlan, Workload,
};

/// The commented default suite: the source of every default, and what `run` uses without a file.
pub const DEFAULT_SUITE: &str = include_str!("../default-suite.toml");

/// One problem in a suite file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The key path, e.g. `targets[1].expect.max-stale-reads`; empty for syntax errors.
    pub key: String,
    pub message: String,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a suite file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteErrors(pub Vec<SuiteError>);

impl fmt::Display for SuiteErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SuiteErrors {}

/// Reads and validates the suite file at `path`.
pub fn load(path: &Path) -> Result<Plan, SuiteErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        SuiteErrors(vec![SuiteError {
            file: file.clone(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the suite file: {e}"),
        }])
    })?;
    parse(&text, &file)
}

/// Validates suite text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Plan, SuiteErrors> {
    let at = |offset: usize, key: String, message: String| {
        let (line, column) = locate::line_col(text, offset);
        SuiteErrors(vec![SuiteError {
            file: file.into(),
            line,
            column,
            key,
            message,
        }])
    };
    let doc = Document::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, String::new(), first_line(e.message()))
    })?;
    let (raw, mut errors) = deserialize_all(text, file, &doc);
    let defaults = default_raw();
    let mut check = Check {
        text,
        file,
        doc: &doc,
        errors: Vec::new(),
    };
    let plan = check.plan(raw, defaults);
    errors.extend(check.errors);
    if errors.is_empty() {
        Ok(plan)
    } else {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        Err(SuiteErrors(errors))
    }
}

/// Most structural errors (unknown keys, wrong types) a file may report in one go.
const MAX_STRUCTURAL_ERRORS: usize = 50;

/// Deserializes the suite, reporting every structural error rather than the first: each error
/// is recorded (located by its key path in the original file), its key removed from a copy of
/// the document, and deserialization tried again. What remains is what the checks then judge,
/// with defaults where keys were removed.
fn deserialize_all(text: &str, file: &str, doc: &Document<&str>) -> (SuiteRaw, Vec<SuiteError>) {
    let mut errors = Vec::new();
    let mut copy: toml_edit::DocumentMut = match text.parse() {
        Ok(d) => d,
        Err(_) => return (SuiteRaw::default(), errors), // Syntax errors were reported already.
    };
    for _ in 0..MAX_STRUCTURAL_ERRORS {
        let current = copy.to_string();
        let attempt = toml_edit::de::Deserializer::parse(&current)
            .map_err(|e| (Vec::<Seg>::new(), first_line(e.message())))
            .and_then(|d| {
                serde_path_to_error::deserialize::<_, SuiteRaw>(d).map_err(|e| {
                    let path = segments(e.path());
                    (path, first_line(e.into_inner().message()))
                })
            });
        match attempt {
            Ok(raw) => return (raw, errors),
            Err((path, message)) => {
                // A misspelt key is fixed at the key; a wrong type or value at the value.
                let offset = if message.starts_with("unknown field") {
                    locate::offset(doc, &path)
                } else {
                    locate::value_offset(doc, &path)
                };
                let (line, column) = locate::line_col(text, offset);
                errors.push(SuiteError {
                    file: file.into(),
                    line,
                    column,
                    key: locate::render(&path),
                    message,
                });
                if path.is_empty() || !locate::remove(&mut copy, &path) {
                    break;
                }
            }
        }
    }
    (SuiteRaw::default(), errors)
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            _ => None,
        })
        .collect()
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn default_raw() -> SuiteRaw {
    let deserializer = toml_edit::de::Deserializer::parse(DEFAULT_SUITE)
        .expect("the embedded default suite is valid TOML");
    serde_path_to_error::deserialize(deserializer)
        .expect("the embedded default suite has only known keys")
}

/// Collects errors while resolving values; every accessor returns a usable placeholder on error
/// so checking goes on and all problems are reported together.
struct Check<'a> {
    text: &'a str,
    file: &'a str,
    doc: &'a Document<&'a str>,
    errors: Vec<SuiteError>,
}

fn key(k: &str) -> Seg {
    Seg::Key(k.into())
}

fn join(base: &[Seg], k: &str) -> Vec<Seg> {
    let mut p = base.to_vec();
    p.push(key(k));
    p
}

impl Check<'_> {
    fn err(&mut self, path: &[Seg], message: impl Into<String>) {
        let (line, column) = locate::line_col(self.text, locate::offset(self.doc, path));
        self.errors.push(SuiteError {
            file: self.file.into(),
            line,
            column,
            key: locate::render(path),
            message: message.into(),
        });
    }

    /// Parses a duration; `None` (with the error recorded) when it is not one.
    fn duration(
        &mut self,
        path: &[Seg],
        value: Option<String>,
        default: Option<String>,
    ) -> Option<Duration> {
        let text = value.or(default).unwrap_or_default();
        match humantime::parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    path,
                    format!("`{text}` is not a duration like \"500ms\", \"30s\" or \"5m\" ({e})"),
                );
                None
            }
        }
    }

    /// A duration that must be above zero; an unparsable one was reported already.
    fn positive(&mut self, path: &[Seg], d: Option<Duration>, what: &str) -> Duration {
        if d.is_some_and(|d| d.is_zero()) {
            self.err(path, format!("{what} must be above zero"));
        }
        d.unwrap_or_default()
    }

    fn one_of<'v>(&mut self, path: &[Seg], value: &str, allowed: &[&'v str]) -> Option<&'v str> {
        let found = allowed.iter().find(|a| **a == value).copied();
        if found.is_none() {
            self.err(
                path,
                format!("`{value}` is not one of: {}", allowed.join(", ")),
            );
        }
        found
    }

    fn plan(&mut self, raw: SuiteRaw, d: SuiteRaw) -> Plan {
        let s = raw.suite.unwrap_or_default();
        let ds = d.suite.unwrap_or_default();
        let base = [key("suite")];
        let name = s.name.or(ds.name).unwrap_or_default();
        if name.trim().is_empty() {
            self.err(&join(&base, "name"), "a suite needs a name");
        }
        let duration = self.duration(&join(&base, "duration"), s.duration, ds.duration);
        let duration = self.positive(&join(&base, "duration"), duration, "the duration");
        let warm_up = self
            .duration(&join(&base, "warm-up"), s.warm_up, ds.warm_up)
            .unwrap_or_default();
        if !duration.is_zero() && warm_up >= duration {
            self.err(
                &join(&base, "warm-up"),
                format!(
                    "the warm-up ({}) must be shorter than the duration ({})",
                    show(warm_up),
                    show(duration)
                ),
            );
        }
        let send_lag = self.duration(
            &join(&base, "send-lag-limit"),
            s.send_lag_limit,
            ds.send_lag_limit,
        );
        let send_lag = self.positive(
            &join(&base, "send-lag-limit"),
            send_lag,
            "the send-lag limit",
        );
        let cpu_percent = s.driver_cpu_limit.or(ds.driver_cpu_limit).unwrap_or(90.0);
        if !(cpu_percent > 0.0 && cpu_percent <= 100.0) {
            self.err(
                &join(&base, "driver-cpu-limit"),
                format!("{cpu_percent} is not a percentage above 0, up to 100"),
            );
        }
        let driver_limits = DriverLimits {
            send_lag_us: u64::try_from(send_lag.as_micros()).unwrap_or(u64::MAX),
            cpu_percent,
        };
        let errors_before = self.errors.len();
        let default_workload = d.workload.unwrap_or_default();
        let workload_raw = raw.workload.unwrap_or_default().over(&default_workload);
        let workload = self.workload(
            &[key("workload")],
            workload_raw.clone(),
            WorkloadRaw::default(),
        );
        let inherited = if self.errors.len() == errors_before {
            workload_raw
        } else {
            default_workload
        };
        let template = d
            .targets
            .and_then(|t| t.into_iter().next())
            .unwrap_or_default();
        let raw_targets = raw.targets.unwrap_or_else(|| vec![template.clone()]);
        if raw_targets.is_empty() {
            self.err(&[key("targets")], "a suite needs at least one target");
        }
        let mut targets: Vec<TargetPlan> = Vec::new();
        for (i, t) in raw_targets.into_iter().enumerate() {
            let path = [key("targets"), Seg::Index(i)];
            let target = self.target(&path, t, &template);
            if targets.iter().any(|other| other.name == target.name) {
                self.err(
                    &join(&path, "name"),
                    format!("target name `{}` is used twice", target.name),
                );
            }
            targets.push(target);
        }
        let faults = self.faults(&[key("faults")], raw.faults, duration, &targets);
        let scenarios = self.scenarios(
            raw.scenarios,
            !faults.is_empty(),
            &inherited,
            duration,
            &targets,
        );
        let mixes: Vec<(String, Mix)> = if scenarios.is_empty() {
            vec![("the workload".into(), workload.mix)]
        } else {
            scenarios
                .iter()
                .map(|s| (format!("scenario `{}`", s.name), s.workload.mix))
                .collect()
        };
        self.mix_fits_api(&targets, &mixes);
        let reference = self.reference(s.reference, &scenarios, &targets);
        let quick = raw
            .quick
            .map(|q| self.quick(q, &scenarios, &faults, &targets, warm_up));
        Plan {
            name,
            source: self.file.into(),
            seed: s.seed.or(ds.seed).unwrap_or(1),
            duration,
            warm_up,
            workload,
            targets,
            faults,
            scenarios,
            reference,
            quick,
            driver_limits,
        }
    }

    fn faults(
        &mut self,
        path: &[Seg],
        faults: Option<Vec<FaultRaw>>,
        duration: Duration,
        targets: &[TargetPlan],
    ) -> Vec<FaultPlan> {
        faults
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let mut p = path.to_vec();
                p.push(Seg::Index(i));
                self.fault(&p, f, duration, targets)
            })
            .collect()
    }

    /// `w` at `base`, each missing key from `d`.
    fn workload(&mut self, base: &[Seg], w: WorkloadRaw, d: WorkloadRaw) -> Workload {
        let model_name = w.model.or(d.model).unwrap_or_default();
        let model = match self.one_of(&join(base, "model"), &model_name, &["closed", "open"]) {
            Some("open") => {
                let rate = w.arrival_rate.or(d.arrival_rate).unwrap_or(0.0);
                if !(rate.is_finite() && rate > 0.0) {
                    self.err(
                        &join(base, "arrival-rate"),
                        "the arrival rate must be a positive number of sessions per second",
                    );
                }
                let max = w
                    .max_sessions_in_flight
                    .or(d.max_sessions_in_flight)
                    .unwrap_or(0);
                if max == 0 {
                    self.err(&join(base, "max-sessions-in-flight"), "must be at least 1");
                }
                LoadModel::Open {
                    arrival_rate: rate,
                    max_sessions_in_flight: max,
                }
            }
            _ => {
                let users = w.virtual_users.or(d.virtual_users).unwrap_or(0);
                if users == 0 {
                    self.err(
                        &join(base, "virtual-users"),
                        "a closed-loop workload needs at least 1 virtual user",
                    );
                }
                LoadModel::Closed {
                    virtual_users: users,
                }
            }
        };
        let think_time = self
            .duration(&join(base, "think-time"), w.think_time, d.think_time)
            .unwrap_or_default();
        let think_time_jitter = w.think_time_jitter.or(d.think_time_jitter).unwrap_or(0.0);
        if !(0.0..=1.0).contains(&think_time_jitter) {
            self.err(
                &join(base, "think-time-jitter"),
                format!("{think_time_jitter} is not a fraction from 0 to 1"),
            );
        }
        let ops_per_session = w.ops_per_session.or(d.ops_per_session).unwrap_or(0);
        if ops_per_session == 0 {
            self.err(&join(base, "ops-per-session"), "must be at least 1");
        }
        let request_timeout = self.duration(
            &join(base, "request-timeout"),
            w.request_timeout,
            d.request_timeout,
        );
        let request_timeout = self.positive(
            &join(base, "request-timeout"),
            request_timeout,
            "the request timeout",
        );
        let mix = self.mix(
            &join(base, "mix"),
            w.mix.unwrap_or_default(),
            d.mix.unwrap_or_default(),
        );
        Workload {
            model,
            think_time,
            think_time_jitter,
            ops_per_session,
            request_timeout,
            mix,
        }
    }

    fn mix(&mut self, path: &[Seg], m: MixRaw, d: MixRaw) -> Mix {
        // A mix given in the file replaces the default one whole: unnamed weights are 0.
        let given =
            m.read.is_some() || m.write.is_some() || m.counter.is_some() || m.logout.is_some();
        let pick = |v: Option<u32>, dv: Option<u32>| {
            if given {
                v.unwrap_or(0)
            } else {
                dv.unwrap_or(0)
            }
        };
        let mix = Mix {
            read: pick(m.read, d.read),
            write: pick(m.write, d.write),
            counter: pick(m.counter, d.counter),
            logout: pick(m.logout, d.logout),
        };
        if mix.read + mix.write + mix.counter + mix.logout == 0 {
            self.err(path, "at least one operation needs a weight above zero");
        }
        mix
    }

    fn target(&mut self, path: &[Seg], t: TargetRaw, d: &TargetRaw) -> TargetPlan {
        if t.strategy.as_deref() == Some("external") {
            return self.external_target(path, t, d);
        }
        let given = [
            ("url", t.url.is_some()),
            ("start", t.start.is_some()),
            ("stop", t.stop.is_some()),
            ("ready-url", t.ready_url.is_some()),
            ("ready-status", t.ready_status.is_some()),
            ("timeout", t.timeout.is_some()),
            ("requests", t.requests.is_some()),
            ("logged-out", t.logged_out.is_some()),
            ("served-by", t.served_by.is_some()),
        ];
        self.refuse(
            path,
            &given,
            "only an \"external\" target is reached by URL, started by commands and described by requests",
        );
        let name = self.target_name(path, t.name);
        let strategy_name = t.strategy.unwrap_or_default();
        let strategy = match self.one_of(
            &join(path, "strategy"),
            &strategy_name,
            &[
                "round-robin",
                "sticky",
                "direct",
                "delta",
                "backup",
                "redis",
                "external",
            ],
        ) {
            Some("redis") => Strategy::Redis,
            Some("sticky") => Strategy::Sticky,
            Some("direct") => Strategy::Direct,
            Some("delta") => Strategy::Delta,
            Some("backup") => Strategy::Backup,
            _ => Strategy::RoundRobin,
        };
        let nodes = t.nodes.or(d.nodes).unwrap_or(0);
        if !(1..=64).contains(&nodes) {
            self.err(
                &join(path, "nodes"),
                format!("{nodes} nodes: a target has 1 to 64"),
            );
        }
        if strategy == Strategy::Direct && nodes != 1 && t.nodes.is_some() {
            self.err(
                &join(path, "nodes"),
                "a \"direct\" target has exactly one node (there is no load balancer)",
            );
        }
        let nodes = if strategy == Strategy::Direct {
            1
        } else {
            nodes
        };
        let lb = self.lb_kind(path, strategy, t.lb.or_else(|| d.lb.clone()));
        let lb_policy = match strategy {
            Strategy::Direct | Strategy::External => {
                if t.lb_policy.is_some() {
                    self.err(
                        &join(path, "lb-policy"),
                        "a \"direct\" target has no load balancer",
                    );
                }
                None
            }
            Strategy::RoundRobin => {
                if let Some(p) = t.lb_policy.as_deref().filter(|p| *p != "round-robin") {
                    self.err(
                        &join(path, "lb-policy"),
                        format!("`{p}` contradicts strategy \"round-robin\""),
                    );
                }
                Some("round-robin".to_string())
            }
            Strategy::Sticky => {
                let p = t
                    .lb_policy
                    .or_else(|| d.lb_policy.clone())
                    .unwrap_or_default();
                self.policy(&join(path, "lb-policy"), &p, lb, true);
                Some(p)
            }
            Strategy::Delta | Strategy::Backup | Strategy::Redis => {
                // Shared or replicated sessions let any node serve any session: round robin
                // by default.
                let p = t.lb_policy.unwrap_or_else(|| "round-robin".into());
                self.policy(&join(path, "lb-policy"), &p, lb, false);
                Some(p)
            }
        };
        let replication = match (strategy, t.replication) {
            (Strategy::Delta, r) => {
                let r = r.unwrap_or_else(|| "async".into());
                self.one_of(&join(path, "replication"), &r, &["async", "sync"]);
                Some(r)
            }
            (Strategy::Backup, Some(_)) => {
                self.err(
                    &join(path, "replication"),
                    "a \"backup\" target always writes to the backup before answering; `replication` is for \"delta\"",
                );
                None
            }
            (_, Some(_)) => {
                self.err(
                    &join(path, "replication"),
                    "only a \"delta\" target replicates",
                );
                None
            }
            (_, None) => None,
        };
        let replication_delay = match t.replication_delay {
            None => Duration::ZERO,
            Some(_) if replication.as_deref() != Some("async") => {
                self.err(
                    &join(path, "replication-delay"),
                    "only a \"delta\" target with replication = \"async\" delays its changes",
                );
                Duration::ZERO
            }
            text => self
                .duration(&join(path, "replication-delay"), text, None)
                .unwrap_or_default(),
        };
        let redis = self.redis(path, strategy, t.redis, t.redis_appendonly);
        let redis_flush = match t.redis_flush {
            Some(_) if strategy != Strategy::Redis => {
                self.err(
                    &join(path, "redis-flush"),
                    "only a \"redis\" target has a Redis",
                );
                None
            }
            Some(flush) => {
                self.one_of(
                    &join(path, "redis-flush"),
                    &flush,
                    &["on-save", "immediate"],
                );
                Some(flush)
            }
            None => None,
        };
        let cookie = t.cookie.or_else(|| d.cookie.clone()).unwrap_or_default();
        if cookie.is_empty()
            || !cookie
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.err(
                &join(path, "cookie"),
                format!("`{cookie}` is not a cookie name (A-Z a-z 0-9 `-` `_`)"),
            );
        }
        let max_inactive = self.duration(
            &join(path, "max-inactive"),
            t.max_inactive,
            d.max_inactive.clone(),
        );
        let max_inactive = self.positive(&join(path, "max-inactive"), max_inactive, "max-inactive");
        let padding_bytes = t.padding_bytes.or(d.padding_bytes).unwrap_or(0);
        if padding_bytes > 16 * 1024 * 1024 {
            self.err(&join(path, "padding-bytes"), "at most 16 MiB");
        }
        let codec = self.codec(path, strategy, t.codec);
        let expect = self.expect(
            &join(path, "expect"),
            t.expect.unwrap_or_default(),
            d.expect.clone().unwrap_or_default(),
        );
        let thresholds = self.thresholds(&join(path, "thresholds"), t.thresholds);
        TargetPlan {
            route_suffix: lb_policy.as_deref() == Some("cookie-route"),
            replication,
            replication_delay,
            redis,
            redis_flush,
            name,
            strategy,
            nodes,
            lb_policy,
            lb,
            cookie,
            max_inactive,
            proxied_links: false,
            padding_bytes,
            codec,
            expect,
            thresholds,
            external: None,
        }
    }

    fn target_name(&mut self, path: &[Seg], name: Option<String>) -> String {
        let name = name.unwrap_or_default();
        if !sessionbench_targets::app::is_node_id(&name) {
            self.err(
                &join(path, "name"),
                format!("`{name}` is not a target name: 1 to 64 of A-Z a-z 0-9 `-` `_`"),
            );
        }
        name
    }

    /// `codec = "format[+compression]"` for the strategies that serialize sessions (default
    /// `json`); local-memory strategies keep objects and take none.
    fn codec(&mut self, path: &[Seg], strategy: Strategy, codec: Option<String>) -> Option<String> {
        if strategy.clustered_store().is_none() && strategy != Strategy::Redis {
            if codec.is_some() {
                self.err(
                    &join(path, "codec"),
                    format!(
                        "a \"{}\" target keeps sessions in memory and serializes nothing; `codec` is for delta, backup and redis",
                        strategy.name()
                    ),
                );
            }
            return None;
        }
        let codec = codec.unwrap_or_else(|| "json".into());
        if let Err(e) = codec.parse::<sessionbench_targets::codec::FormatCodec>() {
            self.err(&join(path, "codec"), e);
        }
        Some(codec)
    }

    /// `redis = "standalone"` (the default: the harness starts one redis-server),
    /// `"sentinel"` (a primary, a replica, three sentinels), `"cluster"` (three masters, three
    /// replicas) or a `redis://` URL of a Redis the harness does not own.
    fn redis(
        &mut self,
        path: &[Seg],
        strategy: Strategy,
        mode: Option<String>,
        appendonly: Option<bool>,
    ) -> Option<RedisPlan> {
        if strategy != Strategy::Redis {
            for (key, given) in [
                ("redis", mode.is_some()),
                ("redis-appendonly", appendonly.is_some()),
            ] {
                if given {
                    self.err(&join(path, key), "only a \"redis\" target has a Redis");
                }
            }
            return None;
        }
        let mode = mode.unwrap_or_else(|| "standalone".into());
        if mode.starts_with("redis://") {
            if appendonly.is_some() {
                self.err(
                    &join(path, "redis-appendonly"),
                    "the harness does not run a Redis given by URL: configure persistence there",
                );
            }
            return Some(RedisPlan::External { url: mode });
        }
        let appendonly = appendonly.unwrap_or(false);
        match mode.as_str() {
            "sentinel" => Some(RedisPlan::Sentinel { appendonly }),
            "cluster" => Some(RedisPlan::Cluster { appendonly }),
            "standalone" => Some(RedisPlan::Standalone { appendonly }),
            _ => {
                self.err(
                    &join(path, "redis"),
                    format!(
                        "`{mode}` is not \"standalone\", \"sentinel\", \"cluster\" or a redis:// URL"
                    ),
                );
                Some(RedisPlan::Standalone { appendonly })
            }
        }
    }

    fn expect(&mut self, path: &[Seg], e: ExpectRaw, d: ExpectRaw) -> Expect {
        let lost = e.sessions_lost.or(d.sessions_lost).unwrap_or_default();
        let sessions_lost = match self.one_of(
            &join(path, "sessions-lost"),
            &lost,
            &["none", "some", "any"],
        ) {
            Some("some") => LossExpectation::Some,
            Some("any") => LossExpectation::Any,
            _ => LossExpectation::None,
        };
        let percent = e.max_sessions_lost_percent.or(d.max_sessions_lost_percent);
        if let Some(p) = percent.filter(|p| !(0.0..=100.0).contains(p)) {
            self.err(
                &join(path, "max-sessions-lost-percent"),
                format!("{p} is not a percentage from 0 to 100"),
            );
        }
        Expect {
            sessions_lost,
            max_sessions_lost_percent: percent,
            max_stale_reads: e.max_stale_reads.or(d.max_stale_reads).unwrap_or(0),
            max_monotonic_violations: e
                .max_monotonic_violations
                .or(d.max_monotonic_violations)
                .unwrap_or(0),
            max_resurrections: e.max_resurrections.or(d.max_resurrections).unwrap_or(0),
        }
    }

    fn fault(
        &mut self,
        path: &[Seg],
        f: FaultRaw,
        duration: Duration,
        targets: &[TargetPlan],
    ) -> FaultPlan {
        let keys = command::CommandKeys {
            inject: f.inject.clone(),
            heal: f.heal.clone(),
            timeout: f.timeout.clone(),
            ready_url: f.ready_url.clone(),
            ready_status: f.ready_status,
        };
        let at_text = f.at.clone();
        if at_text.is_none() {
            self.err(
                path,
                "a fault needs `at` (when, from the start of the load)",
            );
        }
        let at = self
            .duration(&join(path, "at"), at_text.or(Some("0s".into())), None)
            .unwrap_or_default();
        if !duration.is_zero() && at >= duration {
            self.err(
                &join(path, "at"),
                format!(
                    "{} is not before the end of the load ({})",
                    show(at),
                    show(duration)
                ),
            );
        }
        let kind_name = f.kind.unwrap_or_default();
        let kind = match self.one_of(
            &join(path, "kind"),
            &kind_name,
            &[
                "kill",
                "stop",
                "restart",
                "add-node",
                "deploy",
                "pause",
                "remove-node",
                "rolling-restart",
                "lb-restart",
                "partition",
                "latency",
                "store-kill",
                "store-restart",
                "store-flush",
                "store-pause",
                "command",
            ],
        ) {
            Some("store-kill") => FaultKind::StoreKill,
            Some("store-restart") => FaultKind::StoreRestart,
            Some("store-flush") => FaultKind::StoreFlush,
            Some("store-pause") => FaultKind::StorePause,
            Some("stop") => FaultKind::Stop,
            Some("restart") => FaultKind::Restart,
            Some("add-node") => FaultKind::AddNode,
            Some("deploy") => FaultKind::Deploy,
            Some("pause") => FaultKind::Pause,
            Some("remove-node") => FaultKind::RemoveNode,
            Some("rolling-restart") => FaultKind::RollingRestart,
            Some("lb-restart") => FaultKind::LbRestart,
            Some("partition") => FaultKind::Partition,
            Some("latency") => FaultKind::Latency,
            Some("command") => FaultKind::Command,
            _ => FaultKind::Kill,
        };
        if kind != FaultKind::Command {
            for t in targets.iter().filter(|t| t.strategy == Strategy::External) {
                self.err(
                    &join(path, "kind"),
                    format!(
                        "target `{}` is \"external\": the harness cannot {kind_name} what it did not start; use kind = \"command\"",
                        t.name
                    ),
                );
            }
        }
        // Faults on the whole tier name it, so the history and reports say what they hit.
        let whole = match kind {
            FaultKind::RollingRestart => Some("all"),
            FaultKind::LbRestart => Some("lb"),
            _ => None,
        };
        let mut node = f.node.unwrap_or_default();
        if let Some(whole) = whole {
            if node.is_empty() {
                node = whole.to_string();
            } else if node != whole {
                self.err(
                    &join(path, "node"),
                    format!("`{kind_name}` acts on `{whole}`: leave `node` out"),
                );
            }
            if kind == FaultKind::LbRestart {
                self.needs_lb(path, &kind_name, targets);
            }
        } else if node.is_empty() {
            self.err(path, "a fault needs `node` (for example \"node2\")");
        } else if kind == FaultKind::Command {
            // Any name: the commands get it in SESSIONBENCH_NODE.
        } else if kind == FaultKind::AddNode {
            if !sessionbench_targets::app::is_node_id(&node) {
                self.err(
                    &join(path, "node"),
                    format!("`{node}` is not a node id: 1 to 64 of A-Z a-z 0-9 `-` `_`"),
                );
            }
            for t in targets {
                if t.node_ids().any(|n| n == node) {
                    self.err(
                        &join(path, "node"),
                        format!(
                            "target `{}` already has a node `{node}`: name the new one",
                            t.name
                        ),
                    );
                }
                if t.strategy == Strategy::Direct {
                    self.err(
                        &join(path, "kind"),
                        format!(
                            "target `{}` is \"direct\": there is no load balancer to add a node to",
                            t.name
                        ),
                    );
                }
            }
        } else if kind.on_store() {
            for t in targets {
                let stores = t.store_ids();
                if !stores.contains(&node.as_str()) {
                    let has = if stores.is_empty() {
                        "it has no store process the harness runs".to_string()
                    } else {
                        format!("it has {}", stores.join(", "))
                    };
                    self.err(
                        &join(path, "node"),
                        format!("target `{}` has no store process `{node}` ({has})", t.name),
                    );
                }
            }
        } else {
            // An external target's nodes are its own business (reported above).
            let ours = targets.iter().filter(|t| t.strategy != Strategy::External);
            for t in ours {
                if !t.node_ids().any(|n| n == node) {
                    self.err(
                        &join(path, "node"),
                        format!(
                            "target `{}` has no node `{node}` (it has node1 to node{})",
                            t.name, t.nodes
                        ),
                    );
                }
            }
        }
        let heal_after = match f.heal_after {
            Some(text) => {
                let d = self.duration(&join(path, "heal-after"), Some(text), None);
                let d = self.positive(&join(path, "heal-after"), d, "heal-after");
                if crate::faults::kind_heals_itself(kind) {
                    let why = if kind.on_store() {
                        "a store-restart or store-flush has no heal: it is over once done"
                    } else {
                        "a restart, deploy or add-node has no heal: it ends when the node is serving"
                    };
                    self.err(&join(path, "heal-after"), why);
                }
                Some(d)
            }
            None => None,
        };
        let interval = match (kind, f.interval) {
            (FaultKind::RollingRestart, text) => {
                let d = self.duration(&join(path, "interval"), text.or(Some("2s".into())), None);
                Some(self.positive(&join(path, "interval"), d, "interval"))
            }
            (_, Some(_)) => {
                self.err(
                    &join(path, "interval"),
                    "only a rolling-restart waits between nodes",
                );
                None
            }
            (_, None) => None,
        };
        if kind == FaultKind::RemoveNode {
            self.needs_lb(path, &kind_name, targets);
        }
        if matches!(kind, FaultKind::AddNode | FaultKind::RemoveNode) {
            for t in targets.iter().filter(|t| t.lb != LbKind::Reference) {
                self.err(
                    &join(path, "kind"),
                    format!(
                        "target `{}` runs {}: `{kind_name}` changes backends through the reference LB's admin API, which {} does not have",
                        t.name,
                        t.lb.name(),
                        t.lb.name()
                    ),
                );
            }
        }
        let network = matches!(kind, FaultKind::Partition | FaultKind::Latency);
        let link = self.link(path, &kind_name, network, f.link, targets);
        let (latency, jitter) = if kind == FaultKind::Latency {
            if f.latency.is_none() {
                self.err(
                    path,
                    "a latency fault needs `latency` (for example \"50ms\")",
                );
            }
            let latency = self.duration(
                &join(path, "latency"),
                f.latency.or(Some("1ms".into())),
                None,
            );
            let latency = self.positive(&join(path, "latency"), latency, "latency");
            let jitter = self
                .duration(&join(path, "jitter"), f.jitter.or(Some("0s".into())), None)
                .unwrap_or_default();
            (Some(latency), Some(jitter))
        } else {
            for (key, given) in [
                ("latency", f.latency.is_some()),
                ("jitter", f.jitter.is_some()),
            ] {
                if given {
                    self.err(&join(path, key), "only a `latency` fault adds latency");
                }
            }
            (None, None)
        };
        let command = self.command(path, kind, keys, heal_after.is_some());
        FaultPlan {
            at,
            kind,
            node,
            heal_after,
            interval,
            link,
            latency,
            jitter,
            command,
            may_fail: f.may_fail.unwrap_or(false),
        }
    }

    /// `link = "lb" | "store" | "peers"` for network faults: which of the node's links the
    /// proxy cuts or slows. A store link needs a standalone Redis the harness runs (a Sentinel or
    /// Cluster client learns real addresses from the servers and would go around a proxy).
    fn link(
        &mut self,
        path: &[Seg],
        kind: &str,
        network: bool,
        link: Option<String>,
        targets: &[TargetPlan],
    ) -> Option<Link> {
        let key_path = join(path, "link");
        if !network {
            if link.is_some() {
                self.err(&key_path, "only `partition` and `latency` act on a link");
            }
            return None;
        }
        let name = link.unwrap_or_else(|| "lb".into());
        let link = match self.one_of(&key_path, &name, &["lb", "store", "peers"]) {
            Some("store") => Link::Store,
            Some("peers") => Link::Peers,
            _ => Link::Lb,
        };
        for t in targets {
            let fits = match link {
                Link::Lb => t.lb_policy.is_some(),
                Link::Store => matches!(t.redis, Some(RedisPlan::Standalone { .. })),
                Link::Peers => t.strategy.clustered_store().is_some(),
            };
            if !fits {
                self.err(
                    &key_path,
                    format!(
                        "target `{}` has no {} link for a {kind} (store links need redis = \"standalone\"; peers links delta or backup; lb links a load balancer)",
                        t.name,
                        link.name()
                    ),
                );
            }
        }
        Some(link)
    }

    /// A fault that works through the load balancer needs every target to have one.
    fn needs_lb(&mut self, path: &[Seg], kind: &str, targets: &[TargetPlan]) {
        for t in targets.iter().filter(|t| t.lb_policy.is_none()) {
            self.err(
                &join(path, "kind"),
                format!(
                    "target `{}` is \"direct\": there is no load balancer for `{kind}`",
                    t.name
                ),
            );
        }
    }
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_suite_is_valid_and_complete() {
        let plan = parse(DEFAULT_SUITE, "default-suite.toml").expect("valid");
        assert_eq!(plan.name, "default");
        assert_eq!(plan.targets.len(), 1);
        assert_eq!(plan.targets[0].lb_policy.as_deref(), Some("cookie-route"));
        assert!(plan.targets[0].route_suffix);
        assert_eq!(plan.faults.len(), 1);
    }

    #[test]
    fn a_minimal_suite_takes_every_default() {
        let plan = parse(
            "[suite]\nname = \"m\"\n\n[[targets]]\nname = \"rr\"\nstrategy = \"round-robin\"\n",
            "m.toml",
        )
        .expect("valid");
        assert_eq!(
            (plan.duration, plan.workload.ops_per_session),
            (Duration::from_secs(30), 30)
        );
        let t = &plan.targets[0];
        assert_eq!(
            (t.nodes, t.lb_policy.as_deref(), t.route_suffix),
            (3, Some("round-robin"), false)
        );
        assert!(plan.faults.is_empty(), "faults are not inherited");
    }

    #[test]
    fn add_node_needs_a_new_name_and_a_load_balancer() {
        let text = "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"one\"\nstrategy = \"direct\"\n\n[[faults]]\nat = \"1s\"\nkind = \"add-node\"\nnode = \"node1\"\nheal-after = \"1s\"\n";
        let shown: Vec<String> = parse(text, "x.toml")
            .expect_err("invalid")
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "x.toml:10:1: `faults[0].kind`: target `one` is \"direct\": there is no load balancer to add a node to",
                "x.toml:11:1: `faults[0].node`: target `one` already has a node `node1`: name the new one",
                "x.toml:12:1: `faults[0].heal-after`: a restart, deploy or add-node has no heal: it ends when the node is serving",
            ]
        );
    }

    #[test]
    fn every_semantic_error_is_reported_with_its_place() {
        let text = "[suite]\nname = \"x\"\nduration = \"10s\"\n\n[[targets]]\nname = \"a\"\nstrategy = \"sticky\"\nlb-policy = \"magic\"\nnodes = 2\n\n[[faults]]\nat = \"20s\"\nkind = \"kill\"\nnode = \"node3\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:8:1: `targets[0].lb-policy`: `magic` is not one of: cookie-route, cookie-insert, ip-hash",
                "x.toml:12:1: `faults[0].at`: 20s is not before the end of the load (10s)",
                "x.toml:14:1: `faults[0].node`: target `a` has no node `node3` (it has node1 to node2)",
            ]
        );
    }

    #[test]
    fn backup_targets_take_lb_policies_but_no_replication_mode() {
        let text = "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"b\"\nstrategy = \"backup\"\nnodes = 3\nlb-policy = \"cookie-route\"\n\n[[targets]]\nname = \"c\"\nstrategy = \"backup\"\nreplication = \"async\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:13:1: `targets[1].replication`: a \"backup\" target always writes to the backup before answering; `replication` is for \"delta\"",
            ]
        );
        let ok = parse(
            &text[..text.find("\n\n[[targets]]\nname = \"c\"").expect("second")],
            "x.toml",
        )
        .expect("valid");
        let t = &ok.targets[0];
        assert_eq!(
            (
                t.strategy,
                t.lb_policy.as_deref(),
                t.route_suffix,
                t.strategy_label()
            ),
            (
                Strategy::Backup,
                Some("cookie-route"),
                true,
                "backup".to_string()
            )
        );
    }

    #[test]
    fn only_async_delta_targets_delay_their_changes() {
        let text = "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"a\"\nstrategy = \"delta\"\nreplication-delay = \"5ms\"\n\n[[targets]]\nname = \"s\"\nstrategy = \"delta\"\nreplication = \"sync\"\nreplication-delay = \"5ms\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:13:1: `targets[1].replication-delay`: only a \"delta\" target with replication = \"async\" delays its changes",
            ]
        );
        let first = &text[..text.find("\n\n[[targets]]\nname = \"s\"").expect("second")];
        let ok = parse(first, "x.toml").expect("valid");
        assert_eq!(ok.targets[0].replication_delay, Duration::from_millis(5));
    }

    #[test]
    fn redis_targets_and_store_faults_are_checked() {
        let text = "[suite]\nname = \"x\"\nduration = \"10s\"\n\n[[targets]]\nname = \"r\"\nstrategy = \"redis\"\nredis = \"sentinels\"\n\n[[targets]]\nname = \"rr\"\nstrategy = \"round-robin\"\nredis-appendonly = true\n\n[[faults]]\nat = \"2s\"\nkind = \"store-flush\"\nnode = \"redis\"\nheal-after = \"1s\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:8:1: `targets[0].redis`: `sentinels` is not \"standalone\", \"sentinel\", \"cluster\" or a redis:// URL",
                "x.toml:13:1: `targets[1].redis-appendonly`: only a \"redis\" target has a Redis",
                "x.toml:18:1: `faults[0].node`: target `rr` has no store process `redis` (it has no store process the harness runs)",
                "x.toml:19:1: `faults[0].heal-after`: a store-restart or store-flush has no heal: it is over once done",
            ]
        );
        let ok = parse(
            "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"r\"\nstrategy = \"redis\"\nredis-appendonly = true\n\n[[targets]]\nname = \"e\"\nstrategy = \"redis\"\nredis = \"redis://127.0.0.1:6390\"\n",
            "x.toml",
        )
        .expect("valid");
        assert_eq!(
            (ok.targets[0].redis.clone(), ok.targets[0].strategy_label()),
            (
                Some(RedisPlan::Standalone { appendonly: true }),
                "redis-standalone".to_string()
            )
        );
        assert_eq!(ok.targets[0].store_ids(), ["redis"]);
        assert!(
            ok.targets[1].store_ids().is_empty(),
            "an external Redis is not ours to kill"
        );
    }
}
