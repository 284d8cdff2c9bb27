//! `sessionbench run` end to end: the smoke suite and `check` on the stored run, the first run
//! without a suite file, open-model arrivals, a run directory reused only with `--force`, and
//! a run interrupted by SIGINT or a killed harness leaving no process behind.

use std::path::Path;

use serde_json::Value;

use crate::support::{
    RunGuard, alive, interrupt, json, kill_and_expect_no_orphans, run_named, run_suite,
    sessionbench, start_run, tempdir,
};

#[test]
fn smoke_suite_passes_with_the_results_contract_and_check_reproduces_it() {
    let out_dir = tempdir("smoke");
    let out = sessionbench()
        .args([
            "run",
            "suites/smoke.toml",
            "--duration",
            "9s",
            "--quiet",
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = json(&out_dir.join("results.json"));
    assert_eq!(results["format-version"], 1);
    let targets = results["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2);
    for t in targets {
        for key in ["name", "strategy", "verdict", "throughput-ops-per-s"] {
            assert!(!t[key].is_null(), "{key} missing");
        }
        for key in ["started", "lost", "stale-reads"] {
            assert!(t["sessions"][key].is_u64(), "sessions.{key} missing");
        }
        for key in ["total", "ok", "fail", "indeterminate"] {
            assert!(t["ops"][key].is_u64(), "ops.{key} missing");
        }
        for key in ["p50", "p90", "p99", "p999", "max"] {
            assert!(t["latency-ms"][key].is_f64(), "latency-ms.{key} missing");
        }
        assert_eq!(t["verdict"], "pass", "{}", t["reasons"]);
    }
    let (rr, sticky) = (&targets[0], &targets[1]);
    let n = |t: &Value, k: &str| t["sessions"][k].as_u64().expect("count");
    assert!(
        n(rr, "lost") * 2 > n(rr, "started"),
        "round robin loses most sessions: {}",
        rr["sessions"]
    );
    assert!(
        n(sticky, "lost") > 0,
        "sticky loses the sessions of the killed node"
    );
    assert!(
        n(sticky, "lost") * 4 < n(sticky, "started"),
        "…and only those: {}",
        sticky["sessions"]
    );
    for file in ["plan.json", "history.bin", "report.md"] {
        assert!(out_dir.join(file).is_file(), "{file} written");
    }
    // The load ends cleanly: no session signs in without time left for an operation, so
    // none is login-only (and the last second has no burst of logins).
    for t in targets {
        assert_eq!(t["sessions"]["login-only"], 0, "{}", t["sessions"]);
    }
    let history = crate::support::history_text(&out_dir);
    let mut logged_in = std::collections::HashSet::new();
    let mut used = std::collections::HashSet::new();
    // Login starts of the sticky target (round robin logs in again after every loss).
    let mut logins: Vec<u64> = Vec::new();
    for line in history.lines() {
        let op: Value = serde_json::from_str(line).expect("JSON");
        let Some(session) = op["session"].as_str() else {
            continue;
        };
        let key = format!("{}/{session}", op["target"]);
        match op["kind"].as_str() {
            Some("login") => {
                if op["outcome"] == "ok" {
                    logged_in.insert(key);
                }
                if op["target"] == "sticky" {
                    logins.push(op["start-us"].as_u64().expect("start"));
                }
            }
            Some(_) => {
                used.insert(key);
            }
            None => {}
        }
    }
    let login_only: Vec<_> = logged_in.difference(&used).collect();
    assert!(
        login_only.is_empty(),
        "sessions with a login alone: {login_only:?}"
    );
    let end = logins.iter().copied().max().unwrap_or(0);
    let seconds = (end / 1_000_000).max(1);
    let last = logins.iter().filter(|&&t| t + 1_000_000 > end).count() as u64;
    assert!(
        last <= 2 * logins.len() as u64 / seconds + 5,
        "{last} logins in the last second, {} in {seconds} s",
        logins.len()
    );

    // The stored history alone gives the same results, to the last number: what the run
    // checked as records arrived is what `check` finds streaming the file. So does the
    // history exported as JSON lines (the format of older runs), checked on its own.
    let mut online = json(&out_dir.join("results.json"));
    std::fs::remove_file(out_dir.join("results.json")).expect("remove");
    // How far the checks fell behind the load is the live run's alone: no history holds it.
    for t in online["targets"].as_array_mut().expect("targets") {
        let behind = t["driver"]
            .as_object_mut()
            .and_then(|d| d.remove("checks-behind"));
        assert!(
            behind.is_some(),
            "a live run says how far its checks fell behind: {t}"
        );
    }
    let checked = |dir: &Path| {
        let check = sessionbench()
            .args(["check", "--quiet"])
            .arg(dir)
            .output()
            .expect("check");
        assert_eq!(check.status.code(), Some(0));
        json(&dir.join("results.json"))["targets"].clone()
    };
    assert_eq!(online["targets"], checked(&out_dir));
    let exported = tempdir("smoke-exported");
    std::fs::create_dir_all(&exported).expect("mkdir");
    std::fs::copy(out_dir.join("plan.json"), exported.join("plan.json")).expect("copy plan");
    std::fs::write(
        exported.join("history.jsonl"),
        crate::support::history_text(&out_dir),
    )
    .expect("write the export");
    assert_eq!(online["targets"], checked(&exported));
    let md = sessionbench()
        .args(["report", "--format", "md"])
        .arg(&out_dir)
        .output()
        .expect("report");
    assert!(String::from_utf8_lossy(&md.stdout).contains("| round-robin |"));
}

/// Starts the smoke suite and waits until its first target's processes (3 nodes and the LB)
/// are up and load is recorded; returns the run and those children's pids.
fn start_smoke_run(out_dir: &Path) -> (RunGuard, Vec<u32>) {
    start_run("suites/smoke.toml", 4, out_dir)
}

#[test]
fn sigint_stops_the_run_keeps_the_history_and_leaves_no_process() {
    let out_dir = tempdir("sigint");
    let (mut run, kids) = start_smoke_run(&out_dir);
    assert_eq!(interrupt(&mut run), Some(130));
    let left: Vec<u32> = kids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let kept = crate::support::history_text(&out_dir);
    assert!(
        kept.lines().count() > 10 && kept.contains("\"interrupted\":true"),
        "the history so far is kept"
    );
    let results = json(&out_dir.join("results.json"));
    assert_ne!(
        results["targets"][0]["verdict"], "pass",
        "an interrupted run cannot pass"
    );
}

#[test]
fn open_loop_sessions_arrive_at_the_configured_rate() {
    let (code, results, _) = run_suite(
        "open",
        r#"
[suite]
name = "open"
duration = "4s"
warm-up = "500ms"

[workload]
model = "open"
arrival-rate = 25.0
max-sessions-in-flight = 100
think-time = "100ms"
ops-per-session = 5

[[targets]]
name = "one"
strategy = "direct"
"#,
    );
    let t = &results["targets"][0];
    assert_eq!(code, Some(0), "{}", t["reasons"]);
    let started = t["sessions"]["started"].as_u64().expect("started");
    assert!(
        (90..=110).contains(&started),
        "25/s for 4 s is 100 sessions, got {started}"
    );
    assert_eq!(
        t["sessions"]["lost"], 0,
        "one node, no faults: nothing lost"
    );
}

#[test]
fn a_killed_harness_takes_its_processes_with_it() {
    let (run, kids) = start_smoke_run(&tempdir("parent-death"));
    kill_and_expect_no_orphans(run, &kids);
}

#[test]
fn a_killed_harness_takes_its_redis_server_with_it() {
    // redis-server, three nodes and the LB.
    let (run, kids) = start_run("suites/redis.toml", 5, &tempdir("parent-death-redis"));
    let redis = kids.iter().filter(|p| {
        std::fs::read(format!("/proc/{p}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).starts_with("redis-server"))
    });
    assert_eq!(redis.count(), 1, "redis-server runs as the harness's child");
    kill_and_expect_no_orphans(run, &kids);
}

/// `sessionbench run` without a suite file, as a newcomer's first command: it passes, and
/// teaches: sticky sessions lose the killed node's sessions, delta and Redis none, and the
/// report ends with the comparison.
#[test]
fn the_first_run_passes_and_ends_with_the_strategy_comparison() {
    let dir = tempdir("first-run");
    let out = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .expect("run");
    let results = json(&dir.join("results.json"));
    assert_eq!(out.status.code(), Some(0), "{results}");
    let lost = |name: &str| {
        run_named(&results, &format!("{name}/failure"))["sessions"]["lost"]
            .as_u64()
            .expect("lost")
    };
    assert!(lost("sticky") > 0, "{results}");
    assert_eq!((lost("delta"), lost("redis")), (0, 0), "{results}");
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(report.contains("Strategy comparison"), "{report}");
}

/// `--out` never overwrites unseen: an earlier run's directory needs `--force` (which
/// removes only that run's files), and a directory holding anything else is refused.
#[test]
fn out_onto_an_earlier_run_needs_force_and_other_directories_are_refused() {
    let dir = tempdir("out-guard");
    let suite = dir.join("suite.toml");
    std::fs::create_dir_all(dir.join("earlier")).expect("dir");
    std::fs::write(
        &suite,
        "[suite]\nname = \"guard\"\nduration = \"1s\"\nwarm-up = \"0s\"\n\n[[targets]]\nname = \"one\"\nstrategy = \"direct\"\n",
    )
    .expect("suite");
    let run = |out: &Path, force: bool| {
        let mut c = sessionbench();
        c.args(["run", "--quiet", "--out"]).arg(out).arg(&suite);
        if force {
            c.arg("--force");
        }
        c.output().expect("run")
    };
    // An earlier run's directory, with a file of the user's beside it.
    let earlier = dir.join("earlier");
    std::fs::write(earlier.join("plan.json"), "{}").expect("plan");
    std::fs::write(earlier.join("notes.txt"), "mine").expect("notes");
    let refused = run(&earlier, false);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force replaces it"));
    assert_eq!(
        std::fs::read_to_string(earlier.join("plan.json")).expect("kept"),
        "{}"
    );
    let forced = run(&earlier, true);
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert!(earlier.join("results.json").is_file());
    assert_eq!(
        std::fs::read_to_string(earlier.join("notes.txt")).expect("kept"),
        "mine",
        "only the run's own files are replaced"
    );
    // Not a run's directory: refused even with --force, nothing deleted.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).expect("dir");
    std::fs::write(other.join("data.csv"), "1").expect("data");
    let refused = run(&other, true);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds no earlier run"));
    assert!(other.join("data.csv").is_file());
}
