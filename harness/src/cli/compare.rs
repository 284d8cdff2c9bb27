//! `sessionbench compare BASE NEW`: is a run faster or slower than an earlier one, beyond
//! noise? Exit 4 when a metric regressed, 0 otherwise.

use std::path::{Path, PathBuf};

use clap::Args;
use sessionbench_model::results::Results;
use sessionbench_reports::{CompareOptions, Comparison};

use super::args::OutputFormat;
use super::exit::{CliError, ExitCode};

/// How to judge a comparison; shared by `compare` and `run --baseline`.
#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// Changes smaller than this percentage are "no change", however certain.
    #[arg(long, default_value_t = 5.0, value_parser = percentage)]
    pub noise: f64,
    /// Confidence of the bootstrap interval a change must exclude zero from (0.5 to 0.999).
    #[arg(long, default_value_t = 0.95, value_parser = confidence)]
    pub confidence: f64,
    /// Latency changes smaller than this are "no change" (scheduling noise), e.g. 1ms.
    #[arg(long, default_value = "1ms", value_parser = super::args::duration)]
    pub latency_floor: std::time::Duration,
}

impl JudgeArgs {
    pub fn options(&self) -> CompareOptions {
        CompareOptions {
            noise: self.noise / 100.0,
            confidence: self.confidence,
            latency_floor_ms: self.latency_floor.as_secs_f64() * 1000.0,
            ..CompareOptions::default()
        }
    }
}

/// Compares two runs of the same suite, run by run: throughput, p50 and p99 latency from their
/// per-second samples. A change is reported when its confidence interval excludes zero and it
/// exceeds the noise threshold. Exit 4 when one regressed.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a results.json, or a run directory holding one.
    base: PathBuf,
    /// The run to judge: a results.json, or a run directory.
    new: PathBuf,
    #[command(flatten)]
    judge: JudgeArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Md)]
    format: OutputFormat,
}

pub fn run(a: CompareArgs) -> Result<ExitCode, CliError> {
    let base = load(&a.base)?;
    let new = load(&a.new)?;
    if base.suite != new.suite {
        eprintln!(
            "sessionbench: note: comparing suite `{}` with suite `{}`",
            base.suite, new.suite
        );
    }
    let c = sessionbench_reports::compare(&base, &new, a.judge.options());
    let common = new
        .targets
        .iter()
        .any(|n| base.targets.iter().any(|b| b.name == n.name));
    if !common {
        let names = |r: &Results| -> String {
            let names: Vec<&str> = r.targets.iter().map(|t| t.name.as_str()).collect();
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        };
        return Err(CliError::Usage(format!(
            "nothing to compare: no run of {} is in {} (base: {}; new: {})",
            a.new.display(),
            a.base.display(),
            names(&base),
            names(&new)
        )));
    }
    match a.format {
        OutputFormat::Json => sayln!(
            "{}",
            serde_json::to_string_pretty(&c).map_err(|e| CliError::BadRun(e.to_string()))?
        ),
        OutputFormat::Md | OutputFormat::Table => {
            say!("{}", sessionbench_reports::compare_markdown(&c));
        }
    }
    Ok(verdict(&c))
}

/// Exit 4 on a regression.
pub fn verdict(c: &Comparison) -> ExitCode {
    if c.regressed() {
        ExitCode::ThresholdMissed
    } else {
        ExitCode::Ok
    }
}

/// A results.json, or the one in a run directory.
pub fn load(path: &Path) -> Result<Results, CliError> {
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    };
    Ok(crate::run_dir::RunDir::read_results(&file)?)
}

fn percentage(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..100.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a percentage from 0 to 100")),
    }
}

fn confidence(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.5..=0.999).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a confidence from 0.5 to 0.999")),
    }
}
