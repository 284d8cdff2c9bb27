//! Faults that are shell commands: a `kill -9` of the node the harness names in the
//! environment loses sessions held in memory and none held by every node; a command that
//! fails, one that hangs past its timeout, and a readiness probe that never answers are each
//! reported on their fault with what went wrong, and the run goes on. A fault that could not
//! be applied makes the verdict unknown (exit 3), listed first in the reports and as a failed
//! JUnit case, unless the fault says `may-fail = true`.

use serde_json::Value;

use crate::support::{run_suite, run_users};

const SUITE: &str = r#"
[suite]
name = "commands"
duration = "6s"
warm-up = "500ms"

[workload]
virtual-users = 12
think-time = "50ms"
ops-per-session = 40

[[targets]]
name = "sticky"
strategy = "sticky"
lb-policy = "cookie-route"
nodes = 3

[targets.expect]
sessions-lost = "some"

[[targets]]
name = "delta"
strategy = "delta"
replication = "sync"
nodes = 3

[[faults]]
at = "1500ms"
kind = "command"
node = "node2"
inject = 'kill -9 "$SESSIONBENCH_NODE_PID"'

[[faults]]
at = "2500ms"
kind = "command"
node = "node1"
inject = "echo cannot reach $SESSIONBENCH_NODE >&2; exit 3"
may-fail = true

[[faults]]
at = "3s"
kind = "command"
node = "node3"
inject = "sleep 30"
timeout = "1s"

[[faults]]
at = "4500ms"
kind = "command"
node = "node3"
inject = "true"
timeout = "500ms"
ready-url = "http://127.0.0.1:9/healthz"
"#;

fn detail(t: &Value, i: usize) -> String {
    t["faults"][i]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn command_faults_kill_by_pid_and_report_failures_hangs_and_unready_probes() {
    let started = std::time::Instant::now();
    let (code, results, dir) = run_suite("commands", SUITE);
    assert_eq!(
        code,
        Some(3),
        "faults that failed leave the verdict unknown: {results}"
    );
    assert!(
        started.elapsed().as_secs() < 40,
        "a hanging command does not hang the run"
    );
    let targets = results["targets"].as_array().expect("targets");
    let (sticky, delta) = (&targets[0], &targets[1]);
    assert!(
        sticky["faults"][0]["sessions-lost-after"].as_u64() > Some(0),
        "{sticky}"
    );
    assert_eq!(delta["sessions"]["lost"], 0, "{delta}");
    for t in targets {
        assert!(
            detail(t, 0).is_empty(),
            "the kill command succeeded: {}",
            detail(t, 0)
        );
        let failed = detail(t, 1);
        assert!(
            failed.contains("inject failed") && failed.contains("exit status: 3"),
            "{failed}"
        );
        assert!(
            failed.contains("cannot reach node1"),
            "its output: {failed}"
        );
        let hung = detail(t, 2);
        assert!(hung.contains("still running after 1s; killed"), "{hung}");
        let unready = detail(t, 3);
        assert!(
            unready.contains("readiness probe") && unready.contains("did not answer 200"),
            "{unready}"
        );
        let failed: Vec<(bool, bool)> = (0..4)
            .map(|i| {
                let f = &t["faults"][i];
                (f["failed"] == true, f["may-fail"] == true)
            })
            .collect();
        assert_eq!(
            failed,
            [(false, false), (true, true), (true, false), (true, false)]
        );
        assert_eq!(t["verdict"], "unknown", "{}", t["reasons"]);
        let reasons = t["reasons"].to_string();
        assert!(
            reasons.contains("the command fault on node3 at 3.0 s could not be applied")
                && !reasons.contains("node1"),
            "the failed faults, not the one that may fail: {reasons}"
        );
    }
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    let warning = md
        .lines()
        .position(|l| l.contains("**Warning:** sticky: the command fault on node3 at 3.0 s"))
        .expect("the failed fault is a warning");
    let phases = md.find("Phases:").expect("phases");
    assert!(
        md[..phases].lines().count() > warning,
        "listed before the details"
    );
    assert!(md.contains("on node1 at 2.5 s could not be applied: inject failed"));
    assert!(md.contains("(may-fail: accepted)"), "{md}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("fault the command fault on node3 at 4.5 s applied")
            && junit.contains("type=\"fault\""),
        "{junit}"
    );
}

#[test]
fn a_fault_that_may_fail_leaves_the_verdict_alone_but_is_still_reported() {
    let (code, results, dir) = run_users(
        "may-fail",
        "2s",
        4,
        r#"
[[targets]]
name = "direct"
strategy = "direct"

[targets.expect]
sessions-lost = "none"

[[faults]]
at = "1s"
kind = "command"
node = "node1"
inject = "echo nothing to break >&2; exit 1"
may-fail = true
"#,
    );
    let t = &results["targets"][0];
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(t["verdict"], "pass");
    assert_eq!(t["faults"][0]["failed"], true, "{t}");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        md.contains(
            "**Warning:** direct: the command fault on node1 at 1.0 s could not be applied"
        ) && md.contains("nothing to break")
            && md.contains("(may-fail: accepted)"),
        "{md}"
    );
}

/// A fault whose injection had not returned when the load ended (a scale-out whose node was
/// not serving yet, here a command still running) was never in force: failed, not "not
/// healed", so the verdict cannot pass on a run that did not test it.
#[test]
fn a_fault_still_being_applied_when_the_load_ends_was_not_applied() {
    let started = std::time::Instant::now();
    let (code, results, _) = run_users(
        "late-fault",
        "2s",
        4,
        r#"
[[targets]]
name = "direct"
strategy = "direct"

[[faults]]
at = "1s"
kind = "command"
node = "node1"
inject = "sleep 30"
timeout = "25s"
"#,
    );
    let t = &results["targets"][0];
    assert_eq!(code, Some(3), "{t}");
    assert_eq!(t["faults"][0]["failed"], true, "{t}");
    let detail = t["faults"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("still being applied when the load ended"),
        "{detail}"
    );
    assert!(started.elapsed().as_secs() < 20, "the command was stopped");
}
