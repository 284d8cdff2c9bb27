//! What a live run counts for Prometheus, fed one history record at a time (the same records
//! the history file and the checks get), and its text exposition.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sessionbench_model::history::{FaultPhase, Op, Record};
use sessionbench_model::results::{Judged, Sessions, TargetResult};

/// Latency buckets, in seconds: from a loopback answer to a request timeout.
const LATENCY: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Send lag buckets, in seconds: how late the driver sent an operation.
const LAG: [f64; 9] = [
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations at most each bound (not cumulative: summed when written).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        if let Some(i) = bounds.iter().position(|b| seconds <= *b) {
            self.counts[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let mut cumulative = 0;
        for (i, b) in bounds.iter().enumerate() {
            cumulative += self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// One target's numbers so far.
#[derive(Debug, Clone, Default)]
struct Target {
    running: bool,
    /// By (kind, outcome).
    ops: BTreeMap<(&'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    send_lag: Histogram,
    sessions: Sessions,
    /// By (fault kind, node, phase: `start`, or `end` when it healed or ended).
    faults: BTreeMap<(String, String, &'static str), u64>,
    /// Each check sessions needed, and how much of it was judged (1, 0.5 for part, 0),
    /// once the load has ended: a count of a check not judged says nothing.
    judged: Vec<(String, f64)>,
}

/// Every target's numbers, as the records have told them.
#[derive(Debug, Default)]
pub struct State {
    suite: String,
    targets: BTreeMap<String, Target>,
    /// The harness process's CPU time and the cores its driver can use, at the latest
    /// driver sample (none before the first).
    cpu: Option<(f64, u32)>,
}

impl State {
    pub fn new(suite: &str) -> Self {
        Self {
            suite: suite.to_string(),
            targets: BTreeMap::new(),
            cpu: None,
        }
    }

    /// Counts what `record` says: an operation, a fault, the driver's CPU, a target's start
    /// and end.
    pub fn observe(&mut self, record: &Record) {
        match record {
            Record::TargetStart { target, .. } => self.target(target).running = true,
            Record::TargetEnd { target, .. } => self.target(target).running = false,
            Record::Op(op) => self.op(op),
            Record::Fault(f) => {
                let phase = match f.phase {
                    FaultPhase::Start => "start",
                    FaultPhase::End => "end",
                };
                *self
                    .target(&f.target)
                    .faults
                    .entry((f.kind.clone(), f.node.clone(), phase))
                    .or_default() += 1;
            }
            Record::DriverSample { cpu_us, cores, .. } => {
                self.cpu = Some((*cpu_us as f64 / 1e6, *cores));
            }
            _ => {}
        }
    }

    fn op(&mut self, op: &Op) {
        // The harness's own probes and final reads are checks, not load.
        if op.kind.is_check() {
            return;
        }
        let t = self.target(&op.target);
        let kind = op.kind.name();
        *t.ops.entry((kind, op.outcome.name())).or_default() += 1;
        // From the intended start, as every latency the harness reports.
        let took = op.end_us.saturating_sub(op.intended_us) as f64 / 1e6;
        t.latency.entry(kind).or_default().observe(&LATENCY, took);
        let lag = op.start_us.saturating_sub(op.intended_us) as f64 / 1e6;
        t.send_lag.observe(&LAG, lag);
    }

    /// What the checks have found so far in `target`'s sessions (at its end: its results').
    pub fn sessions(&mut self, target: &str, sessions: Sessions) {
        self.target(target).sessions = sessions;
    }

    /// A target's results, at the end of its load: its counts and which checks they judged.
    pub fn finished(&mut self, result: &TargetResult) {
        let t = self.target(&result.name);
        t.sessions = result.sessions;
        t.judged = result
            .checks
            .iter()
            .filter(|c| c.sessions > 0)
            .map(|c| {
                let judged = match c.judged {
                    Judged::Judged => 1.0,
                    Judged::Partly => 0.5,
                    Judged::NotJudged => 0.0,
                };
                (c.label(), judged)
            })
            .collect();
    }

    fn target(&mut self, name: &str) -> &mut Target {
        // Looked up before it is made: a name is copied once per target, not per record.
        if !self.targets.contains_key(name) {
            self.targets.insert(name.to_string(), Target::default());
        }
        self.targets.get_mut(name).expect("inserted")
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let suite = escape(&self.suite);
        family(
            &mut out,
            "sessionbench_run_info",
            "gauge",
            "The suite being run.",
        );
        let _ = writeln!(out, "sessionbench_run_info{{suite=\"{suite}\"}} 1");
        family(
            &mut out,
            "sessionbench_target_running",
            "gauge",
            "1 while the target's load runs.",
        );
        for (name, t) in &self.targets {
            let _ = writeln!(
                out,
                "sessionbench_target_running{{target=\"{}\"}} {}",
                escape(name),
                u8::from(t.running)
            );
        }
        family(
            &mut out,
            "sessionbench_operations_total",
            "counter",
            "Operations of the workload (warm-up included; the harness's own probes left out), by kind and outcome (ok, fail, indeterminate).",
        );
        for (name, t) in &self.targets {
            for ((kind, outcome), n) in &t.ops {
                let _ = writeln!(
                    out,
                    "sessionbench_operations_total{{target=\"{}\",kind=\"{kind}\",outcome=\"{outcome}\"}} {n}",
                    escape(name)
                );
            }
        }
        family(
            &mut out,
            "sessionbench_operation_duration_seconds",
            "histogram",
            "Latency of operations from their intended start, by kind.",
        );
        for (name, t) in &self.targets {
            for (kind, h) in &t.latency {
                h.write(
                    &mut out,
                    "sessionbench_operation_duration_seconds",
                    &format!("target=\"{}\",kind=\"{kind}\"", escape(name)),
                    &LATENCY,
                );
            }
        }
        self.sessions_text(&mut out);
        family(
            &mut out,
            "sessionbench_check_judged",
            "gauge",
            "Whether a check was judged, set when the target's load ends: 1 for every session that needed it, 0.5 for some, 0 for none (its counts then say nothing).",
        );
        for (name, t) in &self.targets {
            for (check, judged) in &t.judged {
                let _ = writeln!(
                    out,
                    "sessionbench_check_judged{{target=\"{}\",check=\"{}\"}} {judged}",
                    escape(name),
                    escape(check)
                );
            }
        }
        family(
            &mut out,
            "sessionbench_fault_events_total",
            "counter",
            "Faults started and ended (healed), by fault kind and node.",
        );
        for (name, t) in &self.targets {
            for ((kind, node, phase), n) in &t.faults {
                let _ = writeln!(
                    out,
                    "sessionbench_fault_events_total{{target=\"{}\",fault=\"{}\",node=\"{}\",phase=\"{phase}\"}} {n}",
                    escape(name),
                    escape(kind),
                    escape(node)
                );
            }
        }
        family(
            &mut out,
            "sessionbench_driver_send_lag_seconds",
            "histogram",
            "How late the driver sent each operation after its intended start.",
        );
        for (name, t) in &self.targets {
            if t.send_lag.count > 0 {
                t.send_lag.write(
                    &mut out,
                    "sessionbench_driver_send_lag_seconds",
                    &format!("target=\"{}\"", escape(name)),
                    &LAG,
                );
            }
        }
        if let Some((cpu, cores)) = self.cpu {
            family(
                &mut out,
                "sessionbench_process_cpu_seconds_total",
                "counter",
                "CPU time the harness process has used (user and system), at its latest driver sample.",
            );
            let _ = writeln!(out, "sessionbench_process_cpu_seconds_total {cpu}");
            family(
                &mut out,
                "sessionbench_driver_cores",
                "gauge",
                "Cores the driver's threads can keep busy.",
            );
            let _ = writeln!(out, "sessionbench_driver_cores {cores}");
        }
        out
    }

    fn sessions_text(&self, out: &mut String) {
        let counts: [Count; 7] = [
            (
                "sessions_started_total",
                "Sessions used after their login, counted as each ends.",
                |s| s.started,
            ),
            (
                "sessions_lost_total",
                "Sessions lost: logged out, or served as another user, by the stack.",
                |s| s.lost,
            ),
            (
                "stale_reads_total",
                "Reads that showed an older state than one already acknowledged.",
                |s| s.stale_reads,
            ),
            (
                "monotonic_violations_total",
                "Reads that showed a counter going back.",
                |s| s.monotonic_violations,
            ),
            (
                "lost_updates_total",
                "Acknowledged writes and increments no later answer showed.",
                |s| s.lost_updates,
            ),
            (
                "resurrections_total",
                "Sessions that answered after their logout.",
                |s| s.resurrections,
            ),
            (
                "logout_failed_total",
                "Logouts answered as done that left the session alive.",
                |s| s.logout_failed,
            ),
        ];
        for (name, help, get) in counts {
            let name = format!("sessionbench_{name}");
            family(out, &name, "counter", help);
            for (target, t) in &self.targets {
                let _ = writeln!(
                    out,
                    "{name}{{target=\"{}\"}} {}",
                    escape(target),
                    get(&t.sessions)
                );
            }
        }
    }
}

/// A count of the checks: its name, its help, and where `Sessions` holds it.
type Count = (&'static str, &'static str, fn(&Sessions) -> u64);

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the exposition format writes it.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::test_read;
    use sessionbench_model::history::Outcome;

    #[test]
    fn operations_and_latency_are_counted_by_kind_and_outcome() {
        let mut s = State::new("suite \"x\"");
        s.observe(&Record::TargetStart {
            target: "t".into(),
            nodes: BTreeMap::new(),
            lb: None,
            started_unix_us: None,
        });
        // Intended at 0, sent at 100 µs, answered at 3 ms.
        let mut op = test_read("s1", (0, 100, 3_000), Outcome::Ok);
        op.target = "t".into();
        s.observe(&Record::Op(op.clone()));
        op.outcome = Outcome::Fail;
        s.observe(&Record::Op(op));
        s.sessions(
            "t",
            Sessions {
                lost: 2,
                ..Sessions::default()
            },
        );
        let text = s.text();
        for line in [
            "sessionbench_run_info{suite=\"suite \\\"x\\\"\"} 1",
            "sessionbench_target_running{target=\"t\"} 1",
            "sessionbench_operations_total{target=\"t\",kind=\"read\",outcome=\"ok\"} 1",
            "sessionbench_operations_total{target=\"t\",kind=\"read\",outcome=\"fail\"} 1",
            "sessionbench_operation_duration_seconds_bucket{target=\"t\",kind=\"read\",le=\"0.0025\"} 0",
            "sessionbench_operation_duration_seconds_bucket{target=\"t\",kind=\"read\",le=\"0.005\"} 2",
            "sessionbench_operation_duration_seconds_bucket{target=\"t\",kind=\"read\",le=\"+Inf\"} 2",
            "sessionbench_operation_duration_seconds_count{target=\"t\",kind=\"read\"} 2",
            "sessionbench_driver_send_lag_seconds_bucket{target=\"t\",le=\"0.0001\"} 2",
            "sessionbench_sessions_lost_total{target=\"t\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
    }
}
