//! `sessionbench check RUN_DIR` and `sessionbench report RUN_DIR`: the offline stages.

use std::path::PathBuf;

use clap::Args;
use sessionbench_model::results::{Results, Verdict};
use sessionbench_reports::Comparison;

use super::args::{OutputFormat, WideArg};
use super::exit::{CliError, ExitCode};
use crate::run_dir::RunDir;

/// Re-checks a stored run: reads plan.json and the history (streamed), writes results.json and
/// report.md again, prints the tables; exit code as for `run`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A run directory made by `sessionbench run`.
    run_dir: PathBuf,
    /// Only the verdict line.
    #[arg(long)]
    quiet: bool,
    /// Fail every threshold judged on a run whose driver was saturated or whose machine was
    /// busy, as `run --strict`.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    wide: WideArg,
}

/// Prints a stored run's results.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory made by `sessionbench run`.
    run_dir: PathBuf,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    #[command(flatten)]
    wide: WideArg,
}

pub fn check(a: CheckArgs) -> Result<ExitCode, CliError> {
    let dir = RunDir::open(&a.run_dir);
    let results = dir.check(&dir.plan()?, a.strict)?;
    // A run made with --baseline keeps its comparison in its reports.
    let baseline = dir.file(RunDir::BASELINE);
    let baseline: Option<Comparison> = if baseline.exists() {
        Some(crate::run_dir::read_json(&baseline)?)
    } else {
        None
    };
    finish(&dir, &results, baseline.as_ref(), a.quiet, a.wide.wide)
}

pub fn report(a: ReportArgs) -> Result<(), CliError> {
    let results = RunDir::open(&a.run_dir).results()?;
    match a.format {
        OutputFormat::Table => say!("{}", sessionbench_reports::table(&results, a.wide.wide)),
        OutputFormat::Md => say!("{}", sessionbench_reports::markdown(&results)),
        OutputFormat::Json => sayln!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| CliError::BadRun(e.to_string()))?
        ),
    }
    Ok(())
}

/// Ends a run (its files written by [`RunDir::finish`]), prints the outcome, and maps it to an
/// exit code: 3 when a continuity verdict is not pass, else 4 when a threshold was missed or a
/// metric regressed against `baseline`, else 0.
pub fn finish(
    dir: &RunDir,
    results: &Results,
    baseline: Option<&Comparison>,
    quiet: bool,
    wide: bool,
) -> Result<ExitCode, CliError> {
    let end = dir.finish(results, baseline)?;
    if quiet {
        sayln!("verdict: {} ({})", end.verdict.name(), dir.path().display());
        // The tables list them otherwise.
        for m in &end.missed {
            sayln!("threshold missed: {m}");
        }
    } else {
        say!("{}", sessionbench_reports::table(results, wide));
        if let Some(c) = baseline {
            say!("{}", sessionbench_reports::compare_markdown(c));
        }
        sayln!("files: {}", dir.path().display());
    }
    if end.regressed {
        sayln!("regressed against the baseline (see report.md)");
    }
    Ok(if end.checks != Verdict::Pass {
        ExitCode::CheckFailed
    } else if !end.missed.is_empty() || end.regressed {
        ExitCode::ThresholdMissed
    } else {
        ExitCode::Ok
    })
}
