//! `sessionbench merge OUT DIR...`: one run of a sharded run's directories. The histories are
//! merged in time (see `history::merge`), then checked and reported exactly as one run's:
//! percentiles come from every operation of every shard, not from the shards' percentiles.

use std::path::PathBuf;

use clap::Args;

use super::check::finish;
use super::exit::{CliError, ExitCode};
use crate::history::merge::{Input, merge};
use crate::results::Analysis;
use crate::run_dir::RunDir;
use sessionbench_model::plan::Plan;

/// Merges the run directories of `run --shard I/N` (and of a `--faults-only` run) into one
/// run directory, checked and reported as a single run's. Exit codes as for `run`; 2 when the
/// directories are not the shards of one run (a shard missing or given twice, different
/// suites, seeds or starts, loads that started more than 50 ms apart).
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged run's directory: new or empty (or an earlier run's, with --force).
    out: PathBuf,
    /// The shards' run directories.
    #[arg(required = true, num_args = 1..)]
    dirs: Vec<PathBuf>,
    /// Replace an earlier run in OUT.
    #[arg(long)]
    force: bool,
    /// Only the verdict line.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    wide: super::args::WideArg,
}

pub fn run(a: MergeArgs) -> Result<ExitCode, CliError> {
    let mut plans: Vec<(String, Plan)> = Vec::new();
    for dir in &a.dirs {
        let plan = RunDir::open(dir).plan()?;
        plans.push((dir.display().to_string(), plan));
    }
    let (plan, primary) = crate::shards::whole(&plans).map_err(CliError::Usage)?;
    let primary_dir = RunDir::open(&a.dirs[primary]);
    let suite = primary_dir.file(RunDir::SUITE);
    let out = RunDir::create(
        &a.out,
        &plan,
        suite.is_file().then_some(suite.as_path()),
        a.force,
    )?;
    let mut inputs = Vec::new();
    for (i, dir) in a.dirs.iter().enumerate() {
        inputs.push(Input {
            name: dir.display().to_string(),
            records: RunDir::open(dir).history()?,
            primary: i == primary,
        });
    }
    let mut writer = out.history_writer()?;
    let mut analysis = Analysis::new(&plan);
    let history = out.file(RunDir::HISTORY);
    let merged = merge(inputs, |record| {
        writer
            .append(&record)
            .map_err(|e| format!("cannot write {}: {e}", history.display()))?;
        analysis.observe(record);
        Ok(())
    })
    .map_err(CliError::Usage)?;
    writer
        .finish()
        .map_err(CliError::io(format!("cannot write {}", history.display())))?;
    if !a.quiet {
        let shares: Vec<String> = a
            .dirs
            .iter()
            .zip(&merged.ops)
            .map(|(d, n)| format!("{}: {n} operations", d.display()))
            .collect();
        eprintln!(
            "sessionbench: merged {} shards ({}); their loads started at most {:.1} ms apart",
            a.dirs.len(),
            shares.join(", "),
            merged.max_skew_us as f64 / 1000.0
        );
    }
    finish(&out, &analysis.finish(), None, a.quiet, a.wide.wide)
}
