//! `sessionbench validate SUITE`: the suite checked and what a run of it would do, shown
//! without starting anything, so a suite can be reviewed (or checked in CI) before it runs.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::exit::{CliError, ExitCode};
use super::run::plan_of;
use sessionbench_model::plan::{
    DriverLimits, FaultPlan, LbKind, LoadModel, Plan, RedisPlan, TargetPlan, Workload,
};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Suite file (TOML). Without one, the first run (`run --print-first-run`).
    suite: Option<PathBuf>,
    /// Show what `run --quick` would run.
    #[arg(long)]
    quick: bool,
    /// As `run --allow-remote`: external targets may be on another host.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    vars: super::args::VarArgs,
    /// Print the whole resolved plan as JSON (what a run's plan.json holds) instead.
    #[arg(long)]
    json: bool,
    /// Then drive each target with one user for a few seconds, no faults (its start and stop
    /// commands run), and say whether the login works, every answer is read, no session is
    /// lost, the user is shown and each check is fed: before a load run is spent on a suite.
    /// Exit 3 when something is not.
    #[arg(long, conflicts_with = "json")]
    probe: bool,
}

pub fn run(a: ValidateArgs) -> Result<ExitCode, CliError> {
    let plan = plan_of(a.suite.as_deref(), a.quick, a.allow_remote, &a.vars)?;
    if a.json {
        let text =
            serde_json::to_string_pretty(&plan).map_err(|e| CliError::BadRun(e.to_string()))?;
        sayln!("{text}");
    } else {
        say!("{}", describe(&plan));
    }
    match &a.suite {
        Some(suite) if a.probe => super::probe::probe(suite, a.quick, a.allow_remote, &a.vars),
        None if a.probe => Err(CliError::Usage("--probe needs a suite file".into())),
        _ => Ok(ExitCode::Ok),
    }
}

/// The plan for a reader: the suite, then each run with its processes, load and faults.
fn describe(plan: &Plan) -> String {
    let runs = plan.runs();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "suite `{}` ({}): valid. {} runs of {} each ({} warm-up), about {} of load; seed {}.",
        plan.name,
        plan.source,
        runs.len(),
        show(plan.duration),
        show(plan.warm_up),
        show(plan.duration * u32::try_from(runs.len()).unwrap_or(u32::MAX)),
        plan.seed
    );
    let place = if plan.targets.iter().any(|t| !t.network.is_loopback()) {
        "Every process runs in a network namespace of its own (network = \"netns\", as root), \
         on an address of a private subnet and a free port chosen when it starts."
    } else if plan.targets.iter().all(|t| t.external.is_some()) {
        "Every target is external: the harness starts none of its processes, and its \
         addresses and ports are the suite's."
    } else {
        "Every process the harness starts listens on a free loopback port chosen when it starts."
    };
    let _ = writeln!(
        out,
        "{place} A run falls behind past a send-lag p99 of {} us or {}% of the harness's cores: \
         a busy machine where its threads spent at least {}% of their ready time waiting for \
         a core while other processes kept at least {}% of the cores busy, otherwise a \
         saturated driver.",
        plan.driver_limits.send_lag_us,
        plan.driver_limits.cpu_percent,
        DriverLimits::CPU_WAIT_PERCENT,
        DriverLimits::OTHERS_PERCENT
    );
    for run in &runs {
        let t = run.target;
        let mut what = t.strategy_label();
        if let Some(policy) = &t.lb_policy {
            let lb = match t.lb {
                LbKind::Reference => "the reference LB",
                other => other.name(),
            };
            let _ = write!(what, " behind {lb} ({policy})");
        }
        if let Some(fsync) = t.redis.as_ref().and_then(RedisPlan::append_only) {
            let _ = write!(what, "; append-only file, appendfsync {}", fsync.as_str());
        }
        if let Some(e) = &t.external {
            let _ = write!(
                what,
                " at {} ({}{})",
                e.url.show(&e.url.path),
                e.url.addr,
                if e.remote { ", remote" } else { "" }
            );
            if e.tls.as_ref().is_some_and(|tls| tls.insecure_skip_verify) {
                what.push_str("; its TLS certificate is NOT verified (insecure-skip-verify)");
            }
        }
        let _ = writeln!(
            out,
            "\n{}: {what}; {} processes to start",
            run.name,
            t.processes()
        );
        let _ = writeln!(out, "  load: {}", load(run.workload));
        if let Some(idle) = run.workload.idle {
            let _ = writeln!(
                out,
                "  idle: every session pauses {} after every {}; idle limit {}{}",
                show(idle.pause),
                show(idle.every),
                show(t.max_inactive),
                if t.redis_access_renews_ttl {
                    ""
                } else {
                    " (the Redis TTL is set at login and never renewed)"
                }
            );
        }
        if run.faults.is_empty() {
            let _ = writeln!(out, "  faults: none");
        }
        for f in run.faults {
            let _ = writeln!(out, "  fault: {}", fault(f));
        }
        for line in unfed(t, run.workload) {
            let _ = writeln!(out, "  warning: {line}");
        }
        for k in &t.expect.known_losses {
            let _ = writeln!(
                out,
                "  known loss: at most {} sessions within {} of {} each {}: {}",
                k.max_sessions,
                show(k.within),
                if k.from_end {
                    "the end of"
                } else {
                    "the start of"
                },
                k.after,
                k.cause
            );
        }
    }
    out
}

/// The checks an application's templates cannot feed for the workload's mix: each run would
/// report them as not judged.
fn unfed(t: &TargetPlan, w: &Workload) -> Vec<String> {
    let Some(api) = t.external.as_ref().and_then(|e| e.api.as_ref()) else {
        return Vec::new();
    };
    let login_counter = api.login.last().is_some_and(|l| l.counter.is_some());
    let counter_shown = api.read.counter.is_some()
        || login_counter
        || api.counter.as_ref().is_some_and(|c| c.counter.is_some());
    let mut lines = Vec::new();
    if w.mix.counter > 0 && !counter_shown {
        lines.push(
            "lost-update (increments) and stale-read (counter) will not be judged: no request \
             shows the counter (give `requests.read` a `counter`)"
                .to_string(),
        );
    }
    if w.mix.write > 0 && api.read.value.is_none() {
        lines.push(
            "stale-read (writes), lost-update (writes) and monotonic-write will not be judged: \
             `requests.read` shows no `value` (what `write` sets)"
                .to_string(),
        );
    }
    if api.read.counter.is_none() {
        lines.push(
            "monotonic-read will not be judged: `requests.read` shows no `counter`".to_string(),
        );
    }
    lines
}

fn load(w: &Workload) -> String {
    let model = match w.model {
        LoadModel::Closed { virtual_users } => format!("{virtual_users} users"),
        LoadModel::Open {
            arrival_rate,
            max_sessions_in_flight,
        } => {
            format!("{arrival_rate} sessions/s arriving (at most {max_sessions_in_flight} at once)")
        }
    };
    let m = w.mix;
    let parallel = if w.parallel > 1 {
        format!(", up to {} requests at once", w.parallel)
    } else {
        String::new()
    };
    format!(
        "{model}, think time {} (±{:.0}%), {} operations per session{parallel}; mix read {} / \
         write {} / counter {} / logout {}",
        show(w.think_time),
        w.think_time_jitter * 100.0,
        w.ops_per_session,
        m.read,
        m.write,
        m.counter,
        m.logout
    )
}

fn fault(f: &FaultPlan) -> String {
    let mut line = format!("at {} {}", show(f.at), f.kind.name());
    if !f.node.is_empty() {
        let _ = write!(line, " {}", f.node);
    }
    if let Some(link) = f.link {
        let _ = write!(line, " (its {} link)", link.name());
    }
    if let Some(latency) = f.latency {
        let _ = write!(line, " +{} each way", show(latency));
    }
    if let Some(c) = &f.command {
        let _ = write!(line, ": `{}`", c.inject);
    }
    if let Some(interval) = f.interval {
        let _ = write!(line, ", {} apart", show(interval));
    }
    match f.heal_after {
        _ if f.heals_itself() => {} // Over once applied.
        Some(after) => {
            let _ = write!(line, ", healed {} later", show(after));
        }
        None => line.push_str(", lasting to the end"),
    }
    if f.may_fail {
        line.push_str(" (may fail)");
    }
    line
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
