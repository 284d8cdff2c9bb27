//! Real Tomcat 10 clusters the harness starts (`strategy = "tomcat"`), measured as the
//! reference nodes are, through a kill of node2: DeltaManager with synchronous replication
//! behind round robin keeps every session, beside the reference delta it is modelled on; the
//! standard manager (no cluster) behind round robin loses most of them; behind Apache's
//! jvmRoute routing it loses only node2's.

use serde_json::Value;

use super::run::run_suite;

const SUITE: &str = r#"
[suite]
name = "tomcat"
duration = "8s"
# JVMs compile their hot paths in the first second.
warm-up = "3s"

[workload]
virtual-users = 16
think-time = "50ms"
ops-per-session = 40

[[targets]]
name = "delta-sync"
strategy = "tomcat"
manager = "delta"
replication = "sync"
model = "reference-delta-sync"
nodes = 3

[[targets]]
name = "reference-delta-sync"
strategy = "delta"
replication = "sync"
nodes = 3

[[targets]]
name = "standard"
strategy = "tomcat"
manager = "standard"
nodes = 3

[targets.expect]
sessions-lost = "some"

[[targets]]
name = "standard-jvmroute"
strategy = "tomcat"
manager = "standard"
lb = "apache"
lb-policy = "cookie-route"
nodes = 3

[targets.expect]
sessions-lost = "some"

[[faults]]
at = "5s"
kind = "kill"
node = "node2"
"#;

fn target<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} ran: {results}"))
}

#[test]
fn real_tomcat_keeps_or_loses_sessions_as_its_manager_and_balancer_say() {
    let (code, results, dir) = run_suite("tomcat", SUITE);
    assert_eq!(code, Some(0), "{results}");
    let delta = target(&results, "delta-sync");
    assert_eq!(delta["strategy"], "tomcat-delta-sync", "{delta}");
    assert!(delta["sessions"]["started"].as_u64() > Some(50), "{delta}");
    assert_eq!(delta["sessions"]["lost"], 0, "{delta}");

    let standard = &target(&results, "standard")["sessions"];
    let (lost, started) = (
        standard["lost"].as_f64().expect("lost"),
        standard["started"].as_f64().expect("started"),
    );
    assert!(
        lost > 0.5 * started,
        "round robin over Tomcats without a cluster loses most: {standard}"
    );

    // The report sets Tomcat beside the reference delta it is modelled on.
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(report.contains("### Real against model"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("| delta-sync |") && l.contains("| reference-delta-sync |")),
        "{report}"
    );

    // jvmRoute: the sessions of node2 only, after its kill.
    let routed = target(&results, "standard-jvmroute");
    let lost = routed["sessions"]["lost"].as_u64().expect("lost");
    let started = routed["sessions"]["started"].as_u64().expect("started");
    assert!(lost > 0 && lost * 4 < started, "{routed}");
    let kill_ms = routed["faults"][0]["start-ms"].as_f64().expect("the kill");
    let history = crate::support::history_text(&dir);
    let early = history
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "op" && r["target"] == "standard-jvmroute")
        .filter(|r| r["error"] == "no-session" && r["kind"] != "probe")
        .filter(|r| {
            r["end-us"]
                .as_f64()
                .is_some_and(|end| end < kill_ms * 1000.0)
        })
        .count();
    assert_eq!(early, 0, "jvmRoute keeps every session until the kill");

    // The servlet ran in Tomcat: its log says so, and nothing it started is left running.
    let log = std::fs::read_to_string(dir.join("logs/delta-sync-node1.log")).expect("node log");
    assert!(log.contains("Apache Tomcat/10"), "{log}");
    assert!(
        log.contains("DeltaManager") || log.contains("Replication member added"),
        "{log}"
    );
    let ps = std::process::Command::new("pgrep")
        .args(["-af", &dir.display().to_string()])
        .output()
        .expect("pgrep");
    let left = String::from_utf8_lossy(&ps.stdout);
    assert!(left.trim().is_empty(), "left running:\n{left}");
}

/// Scale-out onto a member the static membership listed from the start: the new Tomcat takes
/// the sessions from its peers, the balancer gains it, and it serves them; none is lost.
#[test]
fn a_tomcat_cluster_scales_out_onto_a_spare_member() {
    let (code, results, dir) = run_suite(
        "tomcat-scale-out",
        r#"
[suite]
name = "tomcat-scale-out"
duration = "8s"
warm-up = "3s"

[workload]
virtual-users = 12
think-time = "50ms"
ops-per-session = 40

[[targets]]
name = "delta-sync"
strategy = "tomcat"
manager = "delta"
replication = "sync"
nodes = 2

[[faults]]
at = "4s"
kind = "add-node"
node = "node3"
"#,
    );
    let t = &results["targets"][0];
    assert_eq!(code, Some(0), "{results}");
    assert_eq!(t["sessions"]["lost"], 0, "{t}");
    let served = crate::support::history_text(&dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "op" && r["node"] == "node3" && r["outcome"] == "ok")
        .count();
    assert!(
        served > 20,
        "node3 served after it joined: {served} operations"
    );
    let log = std::fs::read_to_string(dir.join("logs/delta-sync-node3.log")).expect("node3 log");
    assert!(
        log.contains("session state"),
        "node3 took the state:\n{log}"
    );
}
