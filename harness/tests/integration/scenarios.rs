//! A suite with scenarios: every target runs once per scenario, the results name each run,
//! and the report ends with the comparison. Its scale-out scenario shows what ip-hash costs:
//! the sessions lost are exactly those of clients the hash sends elsewhere once node4 joins,
//! while cookie-route loses none.

use std::net::IpAddr;

use sessionbench::load::source_address;
use sessionbench_targets::lb::ip_hash_backend;

use crate::support::{run_named, run_suite};

const USERS: u64 = 40;

const SUITE: &str = r#"
[suite]
name = "scenarios"
duration = "4s"
warm-up = "500ms"
reference = "cookie"

[workload]
virtual-users = 40
think-time = "50ms"
ops-per-session = 60

[[targets]]
name = "ip-hash"
strategy = "sticky"
lb-policy = "ip-hash"
nodes = 3

[targets.expect]
sessions-lost = "any"

[[targets]]
name = "cookie"
strategy = "sticky"
lb-policy = "cookie-route"
nodes = 3

[[scenarios]]
name = "steady"

[[scenarios]]
name = "scale-out"

[[scenarios.faults]]
at = "1500ms"
kind = "add-node"
node = "node4"
"#;

/// The virtual user behind a session named `v<user>.<n>`.
fn client_of(session: &str) -> IpAddr {
    let user = session
        .strip_prefix('v')
        .and_then(|s| s.split('.').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("session {session} is not v<user>.<n>"));
    source_address(user)
}

fn remapped(client: IpAddr) -> bool {
    ip_hash_backend(client, 3) != ip_hash_backend(client, 4)
}

#[test]
fn each_target_runs_in_each_scenario_and_scale_out_costs_ip_hash_the_remapped_clients() {
    let (code, results, dir) = run_suite("scenarios", SUITE);
    assert_eq!(code, Some(0), "{results}");
    let names: Vec<&str> = results["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "ip-hash/steady",
            "ip-hash/scale-out",
            "cookie/steady",
            "cookie/scale-out"
        ]
    );
    let steady = run_named(&results, "cookie/steady");
    assert_eq!(steady["run-of"]["target"], "cookie");
    assert_eq!(steady["run-of"]["scenario"], "steady");
    assert_eq!(steady["processes"], 4);
    assert!(steady["faults"].as_array().expect("faults").is_empty());
    assert!(steady.get("continuity").is_none(), "no fault, no risk");
    // The steady runs lose nothing: membership does not change.
    for name in ["ip-hash/steady", "cookie/steady"] {
        assert_eq!(run_named(&results, name)["sessions"]["lost"], 0, "{name}");
    }

    // cookie-route: node4 only takes new sessions; every session in use is kept.
    let cookie = &run_named(&results, "cookie/scale-out")["continuity"];
    let at_risk = cookie["at-risk"].as_u64().expect("at-risk");
    assert!(
        at_risk >= 30,
        "most of the 40 users were mid-session: {cookie}"
    );
    assert_eq!(cookie["kept"], at_risk, "{cookie}");
    assert_eq!(cookie["moved"], 0, "{cookie}");

    // ip-hash: the clients whose hash changes with four backends lose their session; no
    // other client does.
    let ip_hash = run_named(&results, "ip-hash/scale-out");
    let c = &ip_hash["continuity"];
    let at_risk = c["at-risk"].as_u64().expect("at-risk");
    let lost = at_risk - c["kept"].as_u64().expect("kept");
    let moved = c["moved"].as_u64().expect("moved");
    assert!(at_risk >= 30, "{c}");
    assert!(lost > 0 && lost <= moved, "lost {lost}, moved {moved}: {c}");
    let fault_at = ip_hash["faults"][0]["start-ms"].as_f64().expect("start");
    for v in ip_hash["violations"].as_array().expect("violations") {
        if v["kind"] == "session-lost" && v["at-ms"].as_f64().expect("at") >= fault_at {
            let session = v["session"].as_str().expect("session");
            assert!(
                remapped(client_of(session)),
                "{session} was lost, but its client maps to the same node with four: {v}"
            );
        }
    }
    let remap_share =
        (0..USERS).filter(|&u| remapped(source_address(u))).count() as f64 / USERS as f64;
    let lost_share = lost as f64 / at_risk as f64;
    assert!(
        (lost_share - remap_share).abs() <= 0.2,
        "the hash remaps {:.0}% of the clients; {:.0}% of the sessions in use were lost",
        remap_share * 100.0,
        lost_share * 100.0
    );

    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    let table = report
        .split("### Strategy comparison")
        .nth(1)
        .expect("the report ends with the comparison");
    assert!(
        table.contains("| Sessions kept on scale-out (%) |"),
        "{table}"
    );
    assert!(
        table.contains("| p99 latency vs cookie (steady) |"),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "| Sessions kept on scale-out (%) | {:.0} ({}/{at_risk}) |",
            (at_risk - lost) as f64 * 100.0 / at_risk as f64,
            at_risk - lost
        )),
        "{table}"
    );
}
