//! A run directory and the files in it: the plan, the suite as it was run, the history, the
//! results and their reports, each process's log. Every stage that writes or reads a run's files
//! goes through here, and so does the end of a run: results built from the plan and the
//! history alone (so `check` reproduces `run`), written with every report, and the outcome that
//! decides the exit code.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sessionbench_model::results::{Results, Verdict};
use sessionbench_reports::Comparison;

use crate::history;
use crate::results;
use sessionbench_model::plan::Plan;

/// Why a run's files could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A stored file that does not hold what this build reads.
    #[error("{0}")]
    Unreadable(String),
    /// `--out` names a directory that holds something already.
    #[error("{0}")]
    Occupied(String),
}

/// How a run ended, as the exit code and the summary need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// The verdict shown: a missed threshold fails it.
    pub verdict: Verdict,
    /// The expectations' verdict alone (exit 3 unless pass).
    pub checks: Verdict,
    /// Each threshold missed, as a line.
    pub missed: Vec<String>,
    /// A metric regressed against the baseline.
    pub regressed: bool,
}

#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The copy of the suite file a run keeps, shown in report.html.
    pub const SUITE: &str = "suite.toml";
    pub const PLAN: &str = "plan.json";
    /// The compact history (see `history::file`).
    pub const HISTORY: &str = "history.bin";
    /// The history of runs made before the compact file, still read.
    pub const HISTORY_JSONL: &str = "history.jsonl";
    pub const RESULTS: &str = "results.json";
    /// The comparison with a baseline (`run --baseline`), kept for `check`.
    pub const BASELINE: &str = "baseline.json";

    /// A run directory that exists (`check`, `report`).
    pub fn open(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    /// What a run writes: what `--force` removes from an earlier run's directory.
    const WRITTEN: [&str; 9] = [
        Self::SUITE,
        Self::PLAN,
        Self::HISTORY,
        Self::HISTORY_JSONL,
        Self::RESULTS,
        "report.md",
        "report.html",
        "junit.xml",
        "logs",
    ];

    /// Makes the directory of a new run and writes its plan (and a copy of its suite file).
    /// A directory that holds something is refused, so no run's results are overwritten
    /// unseen; with `force`, an earlier run's directory is emptied of that run's files first
    /// (any other non-empty directory is still refused: nothing else is deleted).
    pub fn create(
        path: &Path,
        plan: &Plan,
        suite: Option<&Path>,
        force: bool,
    ) -> Result<Self, RunDirError> {
        if path.exists() && !path.is_dir() {
            return Err(RunDirError::Occupied(format!(
                "--out {}: a file is there, not a directory: choose an empty or new one",
                path.display()
            )));
        }
        let held = std::fs::read_dir(path).map_or(0, |entries| entries.count());
        if held > 0 {
            let earlier_run = path.join(Self::PLAN).is_file();
            if !earlier_run {
                return Err(RunDirError::Occupied(format!(
                    "--out {}: the directory is not empty and holds no earlier run: choose an empty or new one",
                    path.display()
                )));
            }
            if !force {
                return Err(RunDirError::Occupied(format!(
                    "--out {}: an earlier run is there; --force replaces it",
                    path.display()
                )));
            }
            for name in Self::WRITTEN {
                let file = path.join(name);
                let removed = if file.is_dir() {
                    std::fs::remove_dir_all(&file)
                } else {
                    std::fs::remove_file(&file)
                };
                if let Err(e) = removed {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        return Err(io("remove", &file)(e));
                    }
                }
            }
        }
        std::fs::create_dir_all(path).map_err(io("create", path))?;
        let dir = Self::open(path);
        write_json(&dir.file(Self::PLAN), plan)?;
        if let Some(suite) = suite {
            let copy = dir.file(Self::SUITE);
            std::fs::copy(suite, &copy).map_err(io("copy the suite to", &copy))?;
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Where the processes write their logs (a folder per target).
    pub fn logs(&self) -> PathBuf {
        self.file("logs")
    }

    /// The history file, opened for the records of a run as they happen.
    pub fn history_writer(&self) -> Result<history::file::Writer, RunDirError> {
        let path = self.file(Self::HISTORY);
        history::file::Writer::create(&path).map_err(io("create", &path))
    }

    /// The run's plan.json, refusing a format version this build does not read.
    pub fn plan(&self) -> Result<Plan, RunDirError> {
        use sessionbench_model::plan::{FORMAT_VERSION, OLDEST_READABLE};
        read_versioned(
            &self.file(Self::PLAN),
            "plan",
            OLDEST_READABLE..=FORMAT_VERSION,
        )
    }

    /// The stored history, read a record at a time: the compact file, or the JSON lines of
    /// a run made before it.
    pub fn history(&self) -> Result<history::Records, RunDirError> {
        let compact = self.file(Self::HISTORY);
        let path = if compact.exists() {
            compact
        } else {
            self.file(Self::HISTORY_JSONL)
        };
        history::open(&path).map_err(unreadable)
    }

    /// The results of `plan`, computed from the stored history alone (streamed: memory
    /// does not grow with the history); with `strict`, a threshold judged on a saturated
    /// driver fails.
    pub fn check(&self, plan: &Plan, strict: bool) -> Result<Results, RunDirError> {
        let mut analysis = results::Analysis::new(plan);
        for record in self.history()? {
            analysis.observe(record.map_err(unreadable)?);
        }
        let mut results = analysis.finish();
        if strict {
            results.fail_unsure_thresholds();
        }
        Ok(results)
    }

    /// The run's stored results.json.
    pub fn results(&self) -> Result<Results, RunDirError> {
        Self::read_results(&self.file(Self::RESULTS))
    }

    /// A results.json, here or elsewhere, refusing a format version this build does not read.
    pub fn read_results(path: &Path) -> Result<Results, RunDirError> {
        use sessionbench_model::results::{FORMAT_VERSION, OLDEST_READABLE};
        read_versioned(path, "results", OLDEST_READABLE..=FORMAT_VERSION)
    }

    /// Writes results.json, report.md, report.html and junit.xml (and baseline.json with a
    /// comparison), and says how the run ended.
    pub fn finish(
        &self,
        results: &Results,
        baseline: Option<&Comparison>,
    ) -> Result<Ending, RunDirError> {
        write_json(&self.file(Self::RESULTS), results)?;
        let mut md = sessionbench_reports::markdown(results);
        if let Some(c) = baseline {
            md.push('\n');
            md.push_str(&sessionbench_reports::compare_markdown(c));
            write_json(&self.file(Self::BASELINE), c)?;
        }
        let suite = std::fs::read_to_string(self.file(Self::SUITE)).ok();
        for (name, text) in [
            ("report.md", md),
            (
                "report.html",
                sessionbench_reports::html(results, suite.as_deref(), baseline),
            ),
            ("junit.xml", sessionbench_reports::junit(results)),
        ] {
            let path = self.file(name);
            std::fs::write(&path, text).map_err(io("write", &path))?;
        }
        Ok(Ending {
            verdict: results.verdict(),
            checks: results.checks_verdict(),
            missed: results.thresholds_missed(),
            regressed: baseline.is_some_and(Comparison::regressed),
        })
    }
}

fn unreadable(e: history::ReadError) -> RunDirError {
    RunDirError::Unreadable(e.to_string())
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError {
    let path = path.display().to_string();
    move |source| RunDirError::Io { what, path, source }
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), RunDirError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| RunDirError::Unreadable(format!("{}: {e}", path.display())))?;
    std::fs::write(path, text + "\n").map_err(io("write", path))
}

/// A file of the contract, read whole only once its `format-version` is one in `readable`:
/// a newer file is named as such, not as a field or a variant this build does not know.
/// (Files written before the field are version 1.)
fn read_versioned<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    readable: std::ops::RangeInclusive<u32>,
) -> Result<T, RunDirError> {
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(rename = "format-version")]
        version: Option<u32>,
    }
    let text = read_text(path)?;
    let Version { version } = parse_json(path, &text)?;
    let version = version.unwrap_or(1);
    if !readable.contains(&version) {
        return Err(RunDirError::Unreadable(format!(
            "{}: {what} format version {version} is not supported (this build reads {} to {})",
            path.display(),
            readable.start(),
            readable.end()
        )));
    }
    parse_json(path, &text)
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, RunDirError> {
    parse_json(path, &read_text(path)?)
}

fn read_text(path: &Path) -> Result<String, RunDirError> {
    std::fs::read_to_string(path)
        .map_err(|e| RunDirError::Unreadable(format!("cannot read {}: {e}", path.display())))
}

/// `text`, the contents of `path` (named in errors), as a `T`.
fn parse_json<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, RunDirError> {
    serde_json::from_str(text)
        .map_err(|e| RunDirError::Unreadable(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan or results from a newer build is refused by its version, before a field or a
    /// variant this build does not know could be blamed instead.
    #[test]
    fn a_newer_format_is_named_before_its_fields_are_read() {
        let dir =
            std::env::temp_dir().join(format!("sessionbench-versions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let newer = r#"{"format-version": 99, "kind": "disk-full"}"#;
        std::fs::write(dir.join(RunDir::PLAN), newer).expect("plan");
        std::fs::write(dir.join(RunDir::RESULTS), newer).expect("results");
        let run = RunDir::open(&dir);
        let plan = run.plan().expect_err("newer plan").to_string();
        assert!(
            plan.contains("plan format version 99 is not supported (this build reads 1 to 1)"),
            "{plan}"
        );
        let results = run.results().expect_err("newer results").to_string();
        assert!(
            results.contains("results format version 99 is not supported"),
            "{results}"
        );
        // A plan written before the field is version 1, and read.
        std::fs::write(dir.join(RunDir::PLAN), "{}").expect("plan");
        let old = run.plan().expect_err("not a whole plan").to_string();
        assert!(!old.contains("format version"), "{old}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
