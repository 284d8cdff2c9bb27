//! `sessionbench run SUITE`: the whole pipeline, with every stage persisted in the run
//! directory (plan.json, history.bin as it happens, results.json, report.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use tokio::sync::{mpsc, watch};

use super::args;
use super::exit::{CliError, ExitCode};
use crate::history::Record;
use crate::metrics::Metrics;
use crate::results::Analysis;
use crate::run_dir::RunDir;
use crate::{driver, suite};
use sessionbench_model::plan::Plan;

use super::check::finish;
use super::compare::{self, JudgeArgs};
use super::progress::Progress;

/// How often the history file is flushed while a run goes (a crash loses at most this much).
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Runs a suite: each target in turn is started, loaded, faulted, and stopped; then every
/// session's history is checked. Exit 0 when every verdict passes, 3 when one fails or cannot
/// be judged, 2 for an invalid suite, 130 when interrupted (what ran is kept and checked).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Suite file (TOML). Without one, a first run: sticky sessions, delta replication and
    /// Redis through the same node kill, compared, in under a minute (`--print-first-run`).
    suite: Option<PathBuf>,
    /// Run directory (default: target/sessionbench/runs/<suite>-<time>). It must be new or
    /// empty; an earlier run's directory is replaced only with --force.
    #[arg(long)]
    out: Option<PathBuf>,
    /// With --out on an earlier run's directory: remove that run's files and run there.
    #[arg(long)]
    force: bool,
    /// Override the suite's load duration per target, e.g. 10s.
    #[arg(long, value_parser = args::duration)]
    duration: Option<Duration>,
    /// Run the suite's reduced version (its `[quick]` section: fewer scenarios or targets, a
    /// shorter load), as CI does on every change.
    #[arg(long)]
    quick: bool,
    /// Override the suite's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Let every external target's URL be on another host (as `remote = true` on each): for
    /// a deployment on a staging host. Without it, URLs must be on loopback.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    vars: args::VarArgs,
    /// Compare with an earlier run (its results.json or run directory): a regression in
    /// throughput or latency beyond noise exits 4.
    #[arg(long)]
    baseline: Option<PathBuf>,
    #[command(flatten)]
    judge: JudgeArgs,
    /// Serve live metrics in Prometheus's text format at http://ADDR/metrics while the run
    /// goes (loopback only, e.g. 127.0.0.1:9464): operations and latency by target, request
    /// kind and outcome, sessions started and lost, stale reads, lost updates, fault events,
    /// the driver's send lag and CPU. At its end the run waits for one more scrape (at most
    /// 30 s), so the final numbers, those of results.json, are scraped (docs/running.md).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// No progress line and no tables: only the verdict and where the files are.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    wide: args::WideArg,
    /// Fail every threshold judged on a run whose driver was saturated or whose machine was
    /// busy (its numbers then describe the harness or the machine): exit 4 even where the
    /// threshold held.
    #[arg(long)]
    strict: bool,
    /// Drive shard I of N of the load (users whose index is I modulo N; 1/N of an open
    /// model's arrivals), for load from many processes or machines: every shard is given the
    /// same --start-at, and `sessionbench merge` makes one run of their directories. Shard 0
    /// also runs the faults and the targets' start and stop commands (unless --load-only).
    /// Every target must be external: the shards share one deployment.
    #[arg(long, value_name = "I/N", value_parser = crate::shards::parse_shard)]
    shard: Option<(u32, u32)>,
    /// When the shards start, the same for all: an RFC 3339 time (2026-12-01T10:00:00Z) or
    /// +DURATION from now. Each target gets a window: its start command when the window opens,
    /// the load one `timeout` later on every shard, then its stop command.
    #[arg(long, value_name = "TIME", value_parser = crate::shards::parse_start_at)]
    start_at: Option<std::time::SystemTime>,
    /// With --shard 0/N: drive the load only (a --faults-only process runs the faults).
    #[arg(long, requires = "shard")]
    load_only: bool,
    /// Run only the faults and the targets' commands of a sharded run, no load: a process of
    /// its own beside N --load-only shards.
    #[arg(long, conflicts_with = "shard", requires = "start_at")]
    faults_only: bool,
    /// Worker threads of the load driver (and its checks). Default: half the cores, at least
    /// one, for a load at full speed (no think time) when something the run loads runs on
    /// this machine (the nodes, balancers and stores it starts, or an external target on
    /// loopback), so the driver leaves the target its cores; every core for a paced load
    /// (its threads mostly wait), when all targets are on other hosts, or when the fault
    /// proxies (on these threads) carry a target's traffic.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    driver_threads: Option<u16>,
    /// Print the commented default suite (every key, with its default) and exit.
    #[arg(long, conflicts_with = "suite")]
    print_default_suite: bool,
    /// Print the suite run without a file and exit.
    #[arg(long, conflicts_with = "suite")]
    print_first_run: bool,
}

pub fn run(a: RunArgs) -> Result<ExitCode, CliError> {
    if a.print_first_run {
        say!("{}", suite::FIRST_RUN);
        return Ok(ExitCode::Ok);
    }
    if a.print_default_suite {
        say!("{}", suite::DEFAULT_SUITE);
        return Ok(ExitCode::Ok);
    }
    let mut plan = plan_of(a.suite.as_deref(), a.quick, a.allow_remote, &a.vars)?;
    if let Some(d) = a.duration {
        let show = |d: Duration| humantime::format_duration(d).to_string();
        if d > suite::MAX_DURATION {
            return Err(CliError::Usage(format!(
                "--duration {}: a run lasts at most {} per target, as a suite's `duration` (a soak longer than that is several runs, compared)",
                show(d),
                show(suite::MAX_DURATION)
            )));
        }
        if d <= plan.warm_up {
            return Err(CliError::Usage(format!(
                "--duration {} is not longer than the warm-up ({})",
                show(d),
                show(plan.warm_up)
            )));
        }
        let runs = plan.runs();
        if let Some(f) = runs.iter().flat_map(|r| r.faults).find(|f| f.at >= d) {
            return Err(CliError::Usage(format!(
                "--duration {} ends before the {} fault on {} at {}: it would never happen",
                show(d),
                f.kind.name(),
                f.node,
                show(f.at)
            )));
        }
        plan.duration = d;
    }
    if let Some(seed) = a.seed {
        plan.seed = seed;
    }
    shard_plan(&mut plan, &a)?;
    if plan.targets.iter().any(|t| !t.network.is_loopback()) {
        crate::topology::netns::privileges().map_err(|e| CliError::Usage(e.to_string()))?;
    }
    // Read before the run, so a bad baseline or a taken port fails fast.
    let baseline = a.baseline.as_deref().map(compare::load).transpose()?;
    let metrics = a
        .metrics_listen
        .map(crate::metrics::bind)
        .transpose()
        .map_err(CliError::Usage)?;
    let path = a.out.clone().unwrap_or_else(|| default_dir(&plan));
    let dir = RunDir::create(&path, &plan, a.suite.as_deref(), a.force)?;
    if !a.quiet {
        let scenarios = match plan.scenarios.len() {
            0 => String::new(),
            n => format!(" in {n} scenarios"),
        };
        eprintln!(
            "sessionbench: running suite `{}` ({} targets{scenarios}, {} each) in {}",
            plan.name,
            plan.targets.len(),
            humantime::format_duration(plan.duration),
            dir.path().display()
        );
        if let Some(s) = plan.shard {
            let role = match (s.load, s.faults) {
                (true, true) => format!(
                    "shard {} of {}, with the faults and commands",
                    s.index, s.count
                ),
                (true, false) => format!("shard {} of {}, load only", s.index, s.count),
                _ => "the faults and commands only, no load".into(),
            };
            let (open, load) = sessionbench_model::plan::window(&plan, &s, 0);
            eprintln!(
                "sessionbench: {role}; the first target's window opens at {}, its load starts at {}",
                humantime::format_rfc3339_millis(open),
                humantime::format_rfc3339_millis(load)
            );
        }
    }
    let threads = a
        .driver_threads
        .map_or_else(|| driver_threads(&plan), usize::from);
    let (driven, mut results) = args::runtime(Some(threads))
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(drive(&plan, &dir, a.quiet, metrics))?;
    if a.strict {
        results.fail_unsure_thresholds();
    }
    // Results cut short by an error are not compared: what did not run would show as a
    // regression.
    let comparison = baseline
        .as_ref()
        .filter(|_| driven.is_ok())
        .map(|base| sessionbench_reports::compare(base, &results, a.judge.options()));
    // A target that fails mid-suite costs none of the results of those that ran before it:
    // they are written (the failed and later ones unknown: cut short or never started), then
    // the error ends the run with its own exit code.
    let code = finish(&dir, &results, comparison.as_ref(), a.quiet, a.wide.wide);
    match driven {
        Ok(true) => code.map(|_| ExitCode::Interrupted),
        Ok(false) => code,
        Err(e) => {
            match code {
                Ok(_) => eprintln!(
                    "sessionbench: what ran before the error is checked and reported in {}",
                    dir.path().display()
                ),
                Err(report) => eprintln!("sessionbench: {report}"),
            }
            Err(e.into())
        }
    }
}

/// The driver's worker threads by default. A load at full speed (no think time) on the
/// machine that runs the target takes half the cores: on two cores, a second thread that
/// competes with a one-thread node for its core cost the driver a tenth of its throughput
/// (docs/benchmarks.md). Otherwise every core: a paced load's threads mostly wait, and a
/// second one sends an operation that falls due while the first is busy (docs/running.md); the fault proxies, which run on these threads, carry the
/// target's own traffic (links proxied for network faults); or nothing measured runs here.
fn driver_threads(plan: &Plan) -> usize {
    default_threads(
        plan,
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    )
}

fn default_threads(plan: &Plan, cores: usize) -> usize {
    let beside_its_target_at_full_speed = plan.runs().iter().any(|r| {
        let local = r
            .target
            .external
            .as_ref()
            .is_none_or(|e| e.url.addr.ip().is_loopback());
        let full_speed = matches!(
            r.workload.model,
            sessionbench_model::plan::LoadModel::Closed { .. }
        ) && r.workload.think_time.is_zero();
        local && full_speed && !r.proxied()
    });
    if beside_its_target_at_full_speed {
        (cores / 2).max(1)
    } else {
        cores
    }
}

/// Runs the driver with the history writer, the analysis and the progress line listening,
/// and Ctrl-C (or SIGTERM) turned into a clean stop. Returns whether the run was interrupted
/// (or the driver's error), and its results: every record is checked as it arrives, so they
/// are ready when the load ends (and `check` on the stored history gives the same).
pub(super) async fn drive(
    plan: &Plan,
    dir: &RunDir,
    quiet: bool,
    metrics: Option<std::net::TcpListener>,
) -> Result<
    (
        Result<bool, crate::driver::DriverError>,
        sessionbench_model::results::Results,
    ),
    CliError,
> {
    let (events, mut records) = mpsc::unbounded_channel::<Record>();
    let (cancel_tx, cancel) = watch::channel(false);
    let cancel_tx = std::sync::Arc::new(cancel_tx);
    let on_signal = cancel_tx.clone();
    let signals = tokio::spawn(async move {
        if sessionbench_targets::shutdown::terminate_signal()
            .await
            .is_ok()
        {
            let _ = on_signal.send(true);
        }
    });
    let metrics = metrics
        .map(|l| {
            let addr = l.local_addr()?;
            if !quiet {
                eprintln!("sessionbench: Prometheus metrics at http://{addr}/metrics");
            }
            Metrics::serve(l, &plan.name)
        })
        .transpose()
        .map_err(CliError::io("cannot serve the metrics"))?;
    let live = metrics.clone();
    let path = dir.file(RunDir::HISTORY);
    let mut writer = dir.history_writer()?;
    let own_plan = plan.clone();
    // A task of its own on the runtime's workers: on the thread that blocks on the driver,
    // every record would wake that thread, a context switch per operation.
    let recorder = tokio::spawn(async move {
        let mut analysis = Analysis::new(&own_plan);
        let mut progress = Progress::new(quiet);
        let mut ages = super::behind::Ages::default();
        let mut overran = false;
        let mut last_flush = tokio::time::Instant::now();
        while let Some(record) = records.recv().await {
            progress.observe(&record);
            writer.append(&record)?;
            if let Some(age) = ages.age_us(&record) {
                let queued = records.len();
                analysis.behind(&record, age, queued as u64);
                // The checks cannot keep up: stop the load before its records fill the memory.
                if queued > super::behind::QUEUED_LIMIT && !overran {
                    overran = true;
                    let _ = cancel_tx.send(true);
                }
            }
            match &live {
                Some(m) => observe_live(m, &mut analysis, record),
                None => {
                    analysis.observe(record);
                }
            }
            if last_flush.elapsed() >= FLUSH_EVERY {
                writer.flush()?;
                progress.draw();
                last_flush = tokio::time::Instant::now();
            }
        }
        writer.finish()?;
        std::io::Result::Ok((analysis.finish(), overran))
    });
    let driven = driver::run(plan, dir, events, cancel).await;
    signals.abort();
    let recorded = recorder.await.map_err(|e| CliError::Io {
        what: "the history writer failed".into(),
        source: std::io::Error::other(e),
    })?;
    let (results, overran) =
        recorded.map_err(CliError::io(format!("cannot write {}", path.display())))?;
    if let Some(m) = &metrics {
        for t in &results.targets {
            m.state().finished(t);
        }
        // Not for an interrupted run, and a signal ends the wait: the user wants out.
        if driven.as_ref().is_ok_and(|interrupted| !interrupted) {
            tokio::select! {
                _ = m.last_scrape(quiet) => {}
                _ = sessionbench_targets::shutdown::terminate_signal() => {}
            }
        }
    }
    if overran {
        eprintln!(
            "sessionbench: the checks fell {} records behind the load, so the run stopped; the history so far is kept and checked (a lighter load, or a shorter one, would let them keep up)",
            super::behind::QUEUED_LIMIT
        );
    } else if driven.as_ref().is_ok_and(|interrupted| *interrupted) && !quiet {
        eprintln!("sessionbench: interrupted; the history so far is kept and checked");
    }
    Ok((driven, results))
}

/// Counts `record` in the live metrics, then checks it, and shows what the checks found.
fn observe_live(metrics: &Metrics, analysis: &mut Analysis<'_>, record: Record) {
    metrics.state().observe(&record);
    if let Some(i) = analysis.observe(record) {
        match analysis.finished(i) {
            Some(result) => metrics.state().finished(result),
            None => {
                let (target, sessions) = analysis.sessions_of(i);
                metrics.state().sessions(target, sessions);
            }
        }
    }
}

/// Makes `plan` this process's share of a sharded run, as `--shard`, `--start-at`,
/// `--load-only` and `--faults-only` say: a shard that does not run the faults has none, and
/// runs none of the targets' commands.
fn shard_plan(plan: &mut Plan, a: &RunArgs) -> Result<(), CliError> {
    let (index, count, load, faults) = match (a.shard, a.faults_only) {
        (Some((index, count)), _) => (index, count, true, index == 0 && !a.load_only),
        (None, true) => (0, 0, false, true),
        (None, false) => {
            if a.start_at.is_some() {
                return Err(CliError::Usage(
                    "--start-at is for a sharded run: give --shard I/N (or --faults-only)".into(),
                ));
            }
            return Ok(());
        }
    };
    let Some(start_at) = a.start_at else {
        return Err(CliError::Usage(
            "--shard: the shards must start together: give each the same --start-at (an RFC 3339 time, or +DURATION)".into(),
        ));
    };
    refuse_own_targets(plan)?;
    if !faults {
        plan.faults.clear();
        for s in &mut plan.scenarios {
            s.faults.clear();
        }
        for t in &mut plan.targets {
            if let Some(e) = t.external.as_mut() {
                e.start = None;
                e.stop = None;
                e.ready = None;
            }
        }
    }
    let start_at_unix_ms = start_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    plan.shard = Some(sessionbench_model::plan::Shard {
        index,
        count,
        load,
        faults,
        start_at_unix_ms,
    });
    Ok(())
}

/// A sharded run's shards load one deployment: a target the harness starts would be started
/// once per shard.
pub(super) fn refuse_own_targets(plan: &Plan) -> Result<(), CliError> {
    let own: Vec<String> = plan
        .targets
        .iter()
        .filter(|t| t.external.is_none())
        .map(|t| format!("`{}`", t.name))
        .collect();
    if own.is_empty() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "--shard: the shards load one deployment, so every target must be external (strategy = \"external\", started by its own commands or already running); each shard would start its own {}",
        own.join(", ")
    )))
}

/// The validated plan of `suite` (the embedded first run without one), reduced to what
/// its `[quick]` keeps with `quick`; `allow_remote` and `vars` as `--allow-remote` and
/// `--var` say.
pub(super) fn plan_of(
    suite: Option<&Path>,
    quick: bool,
    allow_remote: bool,
    vars: &args::VarArgs,
) -> Result<Plan, CliError> {
    let plan = plan_with(
        suite,
        quick,
        suite::Options {
            allow_remote,
            unresolved: false,
            vars: vars.map(),
        },
    )?;
    // Before anything starts: a program missing for the last target would otherwise be
    // found after the others ran.
    let missing = crate::topology::missing_programs(&plan);
    if !missing.is_empty() {
        return Err(CliError::Usage(format!(
            "this machine lacks what the suite needs (nothing was started):\n  {}",
            missing.join("\n  ")
        )));
    }
    Ok(plan)
}

/// As [`plan_of`], with every option.
pub(super) fn plan_with(
    suite: Option<&Path>,
    quick: bool,
    options: suite::Options,
) -> Result<Plan, CliError> {
    let plan = match suite {
        Some(path) => suite::load_with(path, options)?,
        None => suite::parse(suite::FIRST_RUN, "first-run.toml")?,
    };
    if !quick {
        return Ok(plan);
    }
    plan.quick().ok_or_else(|| {
        CliError::Usage(format!(
            "--quick: {} has no [quick] section to say what the quick run keeps",
            suite.map_or("the first run".into(), |p| p.display().to_string())
        ))
    })
}

pub(super) fn default_dir(plan: &Plan) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let runs = PathBuf::from("target/sessionbench/runs");
    // Two runs of a suite in one second get directories of their own.
    (1..)
        .map(|n| match n {
            1 => runs.join(format!("{}-{secs}", plan.name)),
            n => runs.join(format!("{}-{secs}-{n}", plan.name)),
        })
        .find(|dir| !dir.exists())
        .expect("some name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_at_full_speed_beside_its_target_takes_half_the_cores_a_paced_one_all() {
        let parse = |text: &str| suite::parse(text, "suite.toml").expect("a valid suite");
        let full = parse(include_str!("../../../suites/bench-driver.toml"));
        let paced = parse(include_str!("../../../suites/bench-driver-paced.toml"));
        assert_eq!(default_threads(&full, 1), 1);
        assert_eq!(default_threads(&full, 2), 1);
        assert_eq!(default_threads(&full, 8), 4);
        assert_eq!(default_threads(&paced, 2), 2);
        // At full speed, but every run's traffic through the fault proxies on these threads.
        let proxied = parse(
            r#"
[suite]
name = "proxied"
[workload]
think-time = "0ms"
[[targets]]
name = "sticky"
strategy = "sticky"
[[faults]]
at = "2s"
kind = "partition"
node = "node2"
link = "lb"
heal-after = "1s"
"#,
        );
        assert_eq!(default_threads(&proxied, 2), 2);
    }
}
