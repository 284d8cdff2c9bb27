//! `sessionbench check RUN_DIR` and `sessionbench report RUN_DIR`: the offline stages.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use sessionbench_reports::{Comparison, Results, Verdict};

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
    /// Fail every threshold judged on a run whose driver was saturated, as `run --strict`.
    #[arg(long)]
    strict: bool,
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
    let mut results = results::build(&plan, &history);
    if a.strict {
        results.fail_unsure_thresholds();
    }
    finish(&a.run_dir, &results, None, a.quiet)
}

pub fn report(a: ReportArgs) -> Result<(), CliError> {
    let results = read_results(&a.run_dir.join("results.json"))?;
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

/// The copy of the suite file a run keeps, shown in report.html.
pub const SUITE_COPY: &str = "suite.toml";

/// Writes results.json, report.md, report.html and junit.xml, prints the outcome, and maps it
/// to an exit code: 3 when a continuity verdict is not pass, else 4 when a threshold was
/// missed or a metric regressed against `baseline`, else 0.
pub fn finish(
    dir: &Path,
    results: &Results,
    baseline: Option<&Comparison>,
    quiet: bool,
) -> Result<ExitCode, CliError> {
    write_json(&dir.join("results.json"), results)?;
    let mut md = sessionbench_reports::markdown(results);
    if let Some(c) = baseline {
        md.push('\n');
        md.push_str(&sessionbench_reports::compare_markdown(c));
        write_json(&dir.join("baseline.json"), c)?;
    }
    let suite = std::fs::read_to_string(dir.join(SUITE_COPY)).ok();
    for (name, text) in [
        ("report.md", md),
        (
            "report.html",
            sessionbench_reports::html(results, suite.as_deref(), baseline),
        ),
        ("junit.xml", sessionbench_reports::junit(results)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(CliError::io(format!("cannot write {}", path.display())))?;
    }
    let verdict = results.verdict();
    let missed = results.thresholds_missed();
    let regressed = baseline.is_some_and(Comparison::regressed);
    if quiet {
        println!("verdict: {} ({})", verdict.name(), dir.display());
        // The tables list them otherwise.
        for m in &missed {
            println!("threshold missed: {m}");
        }
    } else {
        print!("{}", sessionbench_reports::table(results));
        if let Some(c) = baseline {
            print!("{}", sessionbench_reports::compare_markdown(c));
        }
        println!("files: {}", dir.display());
    }
    if regressed {
        println!("regressed against the baseline (see report.md)");
    }
    Ok(if verdict != Verdict::Pass {
        ExitCode::CheckFailed
    } else if !missed.is_empty() || regressed {
        ExitCode::ThresholdMissed
    } else {
        ExitCode::Ok
    })
}

/// Reads a results.json, refusing a format version this build does not know.
pub fn read_results(path: &Path) -> Result<Results, CliError> {
    let results: Results = read_json(path)?;
    if results.format_version != sessionbench_reports::FORMAT_VERSION {
        return Err(CliError::BadRun(format!(
            "{}: results format version {} is not supported",
            path.display(),
            results.format_version
        )));
    }
    Ok(results)
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
