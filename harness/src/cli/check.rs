//! `sessionbench check RUN_DIR` and `sessionbench report RUN_DIR`: the offline stages.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use sessionbench_reports::{Results, Verdict};

use super::args::OutputFormat;
use super::exit::{CliError, ExitCode};
use crate::plan::Plan;
use crate::{history, results};

/// Re-checks a stored run: reads plan.json and history.jsonl, writes results.json and
/// report.md again, prints the tables; exit code as for `run`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A run directory made by `sessionbench run`.
    run_dir: PathBuf,
    /// Only the verdict line.
    #[arg(long)]
    quiet: bool,
}

/// Prints a stored run's results.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory made by `sessionbench run`.
    run_dir: PathBuf,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub fn check(a: CheckArgs) -> Result<ExitCode, CliError> {
    let plan: Plan = read_json(&a.run_dir.join("plan.json"))?;
    let history = history::read(&a.run_dir.join("history.jsonl"))
        .map_err(|e| CliError::BadRun(e.to_string()))?;
    finish(&a.run_dir, &results::build(&plan, &history), a.quiet)
}

pub fn report(a: ReportArgs) -> Result<(), CliError> {
    let results: Results = read_json(&a.run_dir.join("results.json"))?;
    if results.format_version != sessionbench_reports::FORMAT_VERSION {
        return Err(CliError::BadRun(format!(
            "{}: results format version {} is not supported",
            a.run_dir.display(),
            results.format_version
        )));
    }
    match a.format {
        OutputFormat::Table => print!("{}", sessionbench_reports::table(&results)),
        OutputFormat::Md => print!("{}", sessionbench_reports::markdown(&results)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| CliError::BadRun(e.to_string()))?
        ),
    }
    Ok(())
}

/// Writes results.json and report.md, prints the outcome, and maps the verdict to an exit code.
pub fn finish(dir: &Path, results: &Results, quiet: bool) -> Result<ExitCode, CliError> {
    write_json(&dir.join("results.json"), results)?;
    let md = dir.join("report.md");
    std::fs::write(&md, sessionbench_reports::markdown(results))
        .map_err(CliError::io(format!("cannot write {}", md.display())))?;
    let verdict = results.verdict();
    if quiet {
        println!("verdict: {} ({})", verdict.name(), dir.display());
    } else {
        print!("{}", sessionbench_reports::table(results));
        println!("files: {}", dir.display());
    }
    Ok(if verdict == Verdict::Pass {
        ExitCode::Ok
    } else {
        ExitCode::CheckFailed
    })
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::BadRun(e.to_string()))?;
    std::fs::write(path, text + "\n")
        .map_err(CliError::io(format!("cannot write {}", path.display())))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::BadRun(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| CliError::BadRun(format!("{}: {e}", path.display())))
}
