//! Load from many processes: an external suite shaped like the smoke suite (round robin and
//! sticky, each three reference nodes and an LB its own `start` command runs on fixed
//! loopback ports, node2 killed by a `command` fault) run as three shards against one
//! topology, then merged. The merged run adds up the shards, judges as one process does, and
//! takes its percentiles from every operation; a shard missing or a different seed is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::external::stack_target;
use crate::support::{json, printed, run_named, sessionbench, tempdir};

/// Three reference nodes and an LB with `policy`, started by the target's own command; a
/// 5 s budget for it, so the shards' windows stay short.
fn target(name: &str, policy: &str, expect: &str) -> String {
    stack_target(name, policy, "5s", ("--route-suffix", false), "", expect)
}

fn suite() -> String {
    format!(
        r#"
[suite]
name = "sharded"
seed = 11
duration = "6s"
warm-up = "500ms"

[workload]
virtual-users = 18
think-time = "50ms"
ops-per-session = 40
{}{}
[[faults]]
at = "3s"
kind = "command"
node = "node2"
inject = 'kill -9 $(cat "$SESSIONBENCH_DIR/node2.pid")'
"#,
        target("round-robin", "round-robin", "sessions-lost = \"some\""),
        target("sticky", "cookie-route", "sessions-lost = \"some\""),
    )
}

fn results(dir: &Path) -> Value {
    json(&dir.join("results.json"))
}

fn merge(out: &Path, dirs: &[&Path]) -> Output {
    sessionbench()
        .arg("merge")
        .arg(out)
        .args(dirs)
        .output()
        .expect("merge")
}

/// Every successful operation's latency in `dir`'s history after the warm-up, in µs.
fn latencies(dir: &Path, target: &str, warm_up_us: f64) -> Vec<u64> {
    crate::support::history_text(dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "op" && r["target"] == target && r["outcome"] == "ok")
        // The checks' own reads are not the load's: results leave them out.
        .filter(|r| r["kind"] != "probe" && r["kind"] != "final-read")
        .filter(|r| r["start-us"].as_f64() >= Some(warm_up_us))
        .map(|r| r["end-us"].as_u64().expect("end") - r["intended-us"].as_u64().expect("intended"))
        .collect()
}

#[test]
fn three_shards_merged_add_up_and_judge_as_one_process_does() {
    let suite_file = tempdir("sharded").with_extension("toml");
    std::fs::write(&suite_file, suite()).expect("suite");
    let start_at = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(3));
    let dirs: Vec<PathBuf> = (0..3).map(|i| tempdir(&format!("shard-{i}"))).collect();
    let shards: Vec<std::process::Child> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            sessionbench()
                .arg("run")
                .arg(&suite_file)
                .args(["--shard", &format!("{i}/3"), "--start-at"])
                .arg(start_at.to_string())
                .args(["--quiet", "--out"])
                .arg(dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("a shard")
        })
        .collect();
    for (i, shard) in shards.into_iter().enumerate() {
        let out = shard.wait_with_output().expect("the shard ends");
        assert_eq!(out.status.code(), Some(0), "shard {i}: {}", printed(&out));
    }
    let merged = tempdir("sharded-merged");
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let out = merge(&merged, &refs);
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert!(
        printed(&out).contains("merged 3 shards"),
        "{}",
        printed(&out)
    );

    let whole = results(&merged);
    let parts: Vec<Value> = dirs.iter().map(|d| results(d)).collect();
    for name in ["round-robin", "sticky"] {
        let t = run_named(&whole, name);
        assert_eq!(t["verdict"], "pass", "{t}");
        let sum: u64 = parts
            .iter()
            .map(|p| run_named(p, name)["ops"]["total"].as_u64().expect("ops"))
            .sum();
        assert_eq!(
            t["ops"]["total"].as_u64(),
            Some(sum),
            "{name}: the sum of the shards"
        );
        for p in &parts {
            let share = run_named(p, name);
            assert!(
                share["ops"]["total"].as_u64() > Some(100),
                "every shard loaded {name}"
            );
            // A share may lose none where the whole loses some: the merge judges that.
            assert_eq!(
                share["expectations"][0]["expected"], "some (judged on the merged run)",
                "{share}"
            );
        }
        // The kill ran once, in shard 0, and the merged run has it.
        assert_eq!(t["faults"][0]["kind"], "command", "{t}");
        // The percentile of every operation, not an average of the shards'. The union is
        // read from the merged history: its times are on the primary shard's clock, so the
        // warm-up cuts the same operations as the merged results do (a shard's own clock is
        // off by the measured skew, enough to move an operation across the cut).
        let mut every: Vec<u64> = dirs.iter().flat_map(|d| latencies(d, name, 0.0)).collect();
        let mut union = latencies(&merged, name, 0.0);
        every.sort_unstable();
        union.sort_unstable();
        assert!(
            every == union,
            "{name}: the merged history holds every shard's answers"
        );
        let mut all = latencies(&merged, name, 500_000.0);
        all.sort_unstable();
        // hdrhistogram takes the rank round(0.99 n), this ceil(0.99 n): at most one apart;
        // its three significant digits allow 0.1 % on the value.
        let rank = ((all.len() as f64) * 0.99).ceil() as usize - 1;
        let low = all[rank.saturating_sub(1)] as f64 / 1000.0;
        let high = all[(rank + 1).min(all.len() - 1)] as f64 / 1000.0;
        let p99 = t["latency-ms"]["p99"].as_f64().expect("p99");
        assert!(
            low * 0.999 - 0.001 <= p99 && p99 <= high * 1.001 + 0.001,
            "{name}: merged p99 {p99} ms, p99 of the union between {low} and {high} ms"
        );
    }
    let lost = |r: &Value, name: &str| {
        let s = &run_named(r, name)["sessions"];
        s["lost"].as_f64().expect("lost") / s["started"].as_f64().expect("started")
    };
    assert!(lost(&whole, "round-robin") > 0.5, "round robin loses most");
    let sticky = lost(&whole, "sticky");
    assert!(
        sticky > 0.0 && sticky < 0.34,
        "sticky loses node2's only: {sticky}"
    );

    // One process, the same suite and topology: the same verdicts, losses within the noise.
    let single = tempdir("sharded-single");
    let out = sessionbench()
        .arg("run")
        .arg(&suite_file)
        .args(["--quiet", "--out"])
        .arg(&single)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let one = results(&single);
    for name in ["round-robin", "sticky"] {
        assert_eq!(
            run_named(&one, name)["verdict"],
            run_named(&whole, name)["verdict"]
        );
        let (a, b) = (lost(&one, name), lost(&whole, name));
        assert!(
            (a - b).abs() < 0.15,
            "{name}: one process lost {a}, the shards {b}"
        );
    }

    // Refused, with why: a shard missing, a shard from another seed.
    let out = merge(&tempdir("sharded-missing"), &[refs[0], refs[2]]);
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(
        printed(&out).contains("shard 1 of 3 is missing"),
        "{}",
        printed(&out)
    );
    let other = tempdir("sharded-other-seed");
    std::fs::create_dir_all(&other).expect("dir");
    for f in ["history.bin", "suite.toml"] {
        std::fs::copy(dirs[1].join(f), other.join(f)).expect("copy");
    }
    let plan = std::fs::read_to_string(dirs[1].join("plan.json")).expect("plan");
    let mut plan: Value = serde_json::from_str(&plan).expect("JSON");
    plan["seed"] = 12.into();
    std::fs::write(other.join("plan.json"), plan.to_string()).expect("plan");
    let out = merge(&tempdir("sharded-seeds"), &[refs[0], &other, refs[2]]);
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(printed(&out).contains("seed 12"), "{}", printed(&out));
}

/// A suite whose targets the harness starts cannot be sharded: each shard would start its own.
#[test]
fn a_suite_the_harness_starts_is_refused_with_shard() {
    let out = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "../suites/smoke.toml",
            "--shard",
            "0/2",
            "--start-at",
            "+5s",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(
        printed(&out).contains("every target must be external"),
        "{}",
        printed(&out)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "../suites/smoke.toml", "--shard", "0/2"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(printed(&out).contains("--start-at"), "{}", printed(&out));
}

/// `sessionbench k8s`: the suite as a ConfigMap, an Indexed Job of shards and the merge Job,
/// pinned here and valid against Kubernetes' schemas (checked offline by
/// `kubernetes-validate`, which ci/setup installs from PyPI).
#[test]
fn k8s_prints_an_indexed_job_of_shards_that_validates_offline() {
    let out = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "k8s",
            "../suites/external/in-cluster.toml",
            "--workers",
            "4",
            "--image",
            "sessionbench:dev",
            "--results-claim",
            "sessionbench-results",
            "--allow-remote",
            "--start-at",
            "2026-12-01T10:00:00Z",
        ])
        .output()
        .expect("k8s");
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let yaml = String::from_utf8(out.stdout).expect("UTF-8");
    insta::assert_snapshot!("k8s_in_cluster", yaml);
    let file = tempdir("k8s").with_extension("yaml");
    std::fs::write(&file, &yaml).expect("manifests");
    let validated = Command::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.33.0"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubernetes-validate is not installed ({e}); ci/setup installs it from PyPI")
        });
    let report = printed(&validated);
    assert!(validated.status.success(), "{report}");
    assert_eq!(report.matches("passed for resource").count(), 3, "{report}");

    let refused = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "k8s",
            "../suites/smoke.toml",
            "--workers",
            "2",
            "--image",
            "x",
        ])
        .output()
        .expect("k8s");
    assert_eq!(refused.status.code(), Some(2), "{}", printed(&refused));
    assert!(printed(&refused).contains("every target must be external"));
}
