//! Running the harness on a suite: the workspace, the binary, a suite written to a temporary
//! file and run to its end, and what its results say.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness crate sits in the workspace")
}

pub fn sessionbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sessionbench"));
    c.current_dir(workspace());
    c
}

/// A program the test needs, or a failure that says how to get it.
pub fn program(name: &str, package: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is not installed: run ci/setup (apt-get install {package})"
    );
    name.to_string()
}

/// What a finished command printed, stdout then stderr: where a test looks for a message.
pub fn printed(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The run called `name` in results.json.
pub fn run_named<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no run {name} in {results}"))
}

/// A loopback port free now, below the kernel's ephemeral range: no outgoing connection of
/// this or another test can take it before a process the test starts binds it.
pub fn free_port() -> u16 {
    sessionbench_common::ports::free_loopback_port().expect("a free loopback port")
}

pub fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("file")).expect("JSON")
}

pub fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sessionbench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Writes `suite` to `suite.toml` in a fresh temporary directory named for `name`.
pub fn write_suite(name: &str, suite: &str) -> PathBuf {
    let dir = tempdir(name);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("suite.toml");
    std::fs::write(&file, suite).expect("write suite");
    file
}

/// Every file under `dir` whose bytes hold `needle` (a password that must be in none).
pub fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(path);
        }
    }
    found
}

/// Writes `suite` to a temporary file, runs it, and returns the exit code and results.json.
pub fn run_suite(name: &str, suite: &str) -> (Option<i32>, Value, std::path::PathBuf) {
    let (code, run) = run_suite_with(name, suite, &[]);
    (code, json(&run.join("results.json")), run)
}

/// Writes `suite` to a temporary file and runs it with `args`; the exit code and the run
/// directory.
pub fn run_suite_with(name: &str, suite: &str, args: &[&str]) -> (Option<i32>, PathBuf) {
    let file = write_suite(name, suite);
    let run = file.with_file_name("run");
    let out = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(&run)
        .args(args)
        .arg(&file)
        .output()
        .expect("run");
    (out.status.code(), run)
}

/// Every operation of a run, from its history.
pub fn ops(dir: &Path) -> Vec<Value> {
    super::history_text(dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "op")
        .collect()
}

/// A check of results.json's `checks` as reports name it: `check` or `check (part)`.
pub fn check_label(c: &Value) -> String {
    let check = c["check"].as_str().unwrap_or("");
    match c["part"].as_str() {
        Some(part) => format!("{check} ({part})"),
        None => check.to_string(),
    }
}

/// Whether target `t`'s check `label` was judged ("judged", "partly", "not-judged"), or
/// "no check LABEL".
pub fn judged(t: &Value, label: &str) -> String {
    t["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| check_label(c) == label)
        .map_or_else(
            || format!("no check {label}"),
            |c| c["judged"].as_str().unwrap_or("").to_string(),
        )
}
