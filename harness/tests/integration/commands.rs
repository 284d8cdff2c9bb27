//! Faults that are shell commands: a `kill -9` of the node the harness names in the
//! environment loses sessions held in memory and none held by every node; a command that
//! fails, one that hangs past its timeout, and a readiness probe that never answers are each
//! reported on their fault with what went wrong, and the run goes on. A fault that could not
//! be applied makes the verdict unknown (exit 3), listed first in the reports and as a failed
//! JUnit case, unless the fault says `may-fail = true`.

use serde_json::Value;

use crate::support::{Keys, Suite, fault, target};

/// A sticky and a delta target through four command faults: a kill by pid, a command that
/// fails (and may), one that hangs past its timeout, and a probe that never answers.
fn commands_suite() -> Suite {
    let sticky = target("sticky", "sticky").set("lb-policy", "cookie-route");
    let delta = target("delta", "delta").set("replication", "sync");
    Suite::new("commands", "6s")
        .users(12)
        .set(&["workload"], "ops-per-session", 40)
        .target(sticky.nodes(3).expect("sessions-lost", "some"))
        .target(delta.nodes(3))
        .fault(command(
            "1500ms",
            "node2",
            r#"kill -9 "$SESSIONBENCH_NODE_PID""#,
        ))
        .fault(
            command(
                "2500ms",
                "node1",
                "echo cannot reach $SESSIONBENCH_NODE >&2; exit 3",
            )
            .set("may-fail", true),
        )
        .fault(command("3s", "node3", "sleep 30").set("timeout", "1s"))
        .fault(
            command("4500ms", "node3", "true")
                .set("timeout", "500ms")
                .set("ready-url", "http://127.0.0.1:9/healthz"),
        )
}

/// A command fault on `node` at `at` that runs `inject`.
fn command(at: &str, node: &str, inject: &str) -> Keys {
    fault(at, "command", node).set("inject", inject)
}

/// A direct target under 4 users for 2 s, through `fault`.
fn direct_through(name: &str, fault: Keys) -> Suite {
    Suite::new(name, "2s")
        .users(4)
        .target(target("direct", "direct"))
        .fault(fault)
}

fn detail(t: &Value, i: usize) -> String {
    t["faults"][i]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn command_faults_kill_by_pid_and_report_failures_hangs_and_unready_probes() {
    let started = std::time::Instant::now();
    let (code, results, dir) = commands_suite().run();
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
    let may_fail = command("1s", "node1", "echo nothing to break >&2; exit 1");
    let (code, results, dir) = direct_through("may-fail", may_fail.set("may-fail", true)).run();
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
    let hangs = command("1s", "node1", "sleep 30").set("timeout", "25s");
    let (code, results, _) = direct_through("late-fault", hangs).run();
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
