//! The suites CI runs, each as a test: they share the tests' build and run beside the other
//! tests instead of after them (they spend most of their time waiting on think time). Each
//! leaves its run directory in `target/sessionbench/runs/ci-<suite>` for the CI job's
//! artifacts, and fails with the tables of the run that did not pass.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// Runs `suites/<suite>.toml` (with `extra` flags) to its end; returns its run directory.
fn run_suite(suite: &str, extra: &[&str]) -> PathBuf {
    let out = root()
        .join("target/sessionbench/runs")
        .join(format!("ci-{suite}"));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .current_dir(root())
        .arg("run")
        .arg(format!("suites/{suite}.toml"))
        .args(extra)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("sessionbench runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "suites/{suite}.toml did not pass ({}):\n{}\n{}",
        out.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The main suite, quick: every strategy through failure, restart and scale-out, ending with
/// the strategy comparison.
#[test]
fn strategies_quick_ends_with_the_strategy_comparison() {
    let out = run_suite("strategies", &["--quick"]);
    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        report.lines().any(|l| l == "### Strategy comparison"),
        "{report}"
    );
}

/// Real load balancers: nginx and HAProxy policies next to the reference LB's. The kill at 3 s
/// heals at 6 s; 7 s of load still sees every policy serve again after it.
#[test]
fn nginx_and_haproxy_keep_what_their_policies_promise() {
    run_suite("nginx", &["--duration", "7s"]);
}

/// Store failures: Redis standalone, Sentinel and Cluster lose their primary.
#[test]
fn redis_standalone_sentinel_and_cluster_lose_their_primary() {
    run_suite("redis", &[]);
}

/// Serialization: every codec with 100 KB sessions on Redis and on delta replication. There
/// are no faults: 3 s at full speed is hundreds of saves and reads per codec (the suite's own
/// 5 s is for comparing their speed, which CI does not judge).
#[test]
fn every_codec_carries_large_sessions() {
    run_suite("serialization", &["--duration", "3s"]);
}

/// A rolling deploy onto session schema 2, per codec. The last node moves at 7 s; 9 s of load
/// leaves every session of the old schema time to meet a new node.
#[test]
fn a_rolling_deploy_keeps_or_loses_sessions_by_codec() {
    run_suite("deploy", &["--duration", "9s"]);
}
