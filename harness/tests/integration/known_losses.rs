//! Known losses: a loss a suite names, at a fault of a kind and within a window of it, is
//! judged by its own bound and carries its cause; every other loss still fails `"none"`.

use crate::support::{assert_run_fits_schemas, run_suite};

/// Sticky sessions by ip-hash lose the killed node's sessions, each found at its next
/// request, within a second of the kill.
fn suite(max_sessions: u64, within: &str) -> String {
    format!(
        r#"
[suite]
name = "known-losses"
duration = "3s"
warm-up = "500ms"

[workload]
virtual-users = 12
think-time = "50ms"
ops-per-session = 1000

[[faults]]
at = "1500ms"
kind = "kill"
node = "node2"

[[targets]]
name = "sticky"
strategy = "sticky"
lb-policy = "ip-hash"
nodes = 3

[targets.expect]
sessions-lost = "none"

[[targets.expect.known-losses]]
after = "kill"
within = "{within}"
max-sessions = {max_sessions}
cause = "the sessions of the killed node lived only there"
"#
    )
}

#[test]
fn a_known_loss_is_judged_by_its_bound_and_names_its_cause() {
    let (code, results, dir) = run_suite("known-losses", &suite(12, "1s"));
    let t = &results["targets"][0];
    assert_eq!(code, Some(0), "{t}");
    // A run with a fault, losses and findings: its files are what docs/schema/ promises.
    assert_run_fits_schemas(&dir);
    let lost = t["sessions"]["lost"].as_u64().expect("lost");
    assert!(lost > 0, "the kill lost node2's sessions: {t}");
    assert_eq!(t["sessions"]["lost-known"].as_u64(), Some(lost), "{t}");
    let listed = t["violations"].as_array().expect("violations");
    assert!(
        listed
            .iter()
            .all(|v| v["cause"] == "the sessions of the killed node lived only there"),
        "{t}"
    );
    let expectation = |name: &str| {
        t["expectations"]
            .as_array()
            .expect("expectations")
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .expect(name)
    };
    assert_eq!(expectation("known-loss-after-kill")["passed"], true);
    assert_eq!(expectation("sessions-lost")["actual"], "0", "{t}");

    // More than the bound fails, naming the known loss.
    let (code, results, dir) = run_suite("known-losses-over", &suite(1, "1s"));
    let t = &results["targets"][0];
    assert_eq!(code, Some(3), "{t}");
    let reasons = t["reasons"].to_string();
    assert!(reasons.contains("known-loss-after-kill"), "{reasons}");
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        report.contains("known loss: the sessions of the killed node lived only there"),
        "{report}"
    );

    // A loss outside the window is no known loss: `none` fails on it.
    let (code, results, _) = run_suite("known-losses-window", &suite(12, "1us"));
    let t = &results["targets"][0];
    assert_eq!(code, Some(3), "{t}");
    assert_eq!(t["sessions"]["lost-known"].as_u64().unwrap_or(0), 0, "{t}");
    assert!(t["reasons"].to_string().contains("sessions-lost"), "{t}");
}
