//! nginx, HAProxy and Apache httpd, started by the harness from the configuration it writes,
//! in front of reference nodes: sticky policies keep every session until node2 is killed and
//! then lose some, round robin loses them from the start, and an `lb-restart` brings each
//! balancer back on its port.

use std::path::Path;

use serde_json::Value;

use crate::support::{Suite, fault, target, tier_fault};

/// Four balancers in front of three reference nodes each, through a kill and an
/// `lb-restart`: round robin loses sessions from the start, the sticky ones only node2's.
fn real_balancers() -> Suite {
    let balanced = |name: &str, strategy: &str, lb: &str| {
        target(name, strategy)
            .set("lb", lb)
            .nodes(3)
            .expect("sessions-lost", "some")
    };
    Suite::new("real-lb", "6s")
        .users(16)
        .set(&["workload"], "ops-per-session", 40)
        .target(balanced("nginx-round-robin", "round-robin", "nginx"))
        .target(balanced("nginx-ip-hash", "sticky", "nginx").set("lb-policy", "ip-hash"))
        .target(
            balanced("haproxy-cookie-insert", "sticky", "haproxy")
                .set("lb-policy", "cookie-insert"),
        )
        .target(
            balanced("apache-cookie-route", "sticky", "apache").set("lb-policy", "cookie-route"),
        )
        .fault(fault("2s", "kill", "node2").heal_after("1500ms"))
        .fault(tier_fault("4500ms", "lb-restart"))
}

/// Operations of `target` answered "no session" before `until_us`. By when they were answered,
/// not when they started: a request sent just before the kill and redispatched after it is
/// the kill's loss, not the policy's.
fn lost_before(dir: &Path, target: &str, until_us: f64) -> usize {
    crate::support::history_text(dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "op" && r["target"] == target && r["kind"] != "probe")
        .filter(|r| r["error"] == "no-session")
        .filter(|r| r["end-us"].as_f64().is_some_and(|end| end < until_us))
        .count()
}

#[test]
fn nginx_haproxy_and_apache_keep_sticky_sessions_until_the_kill_and_come_back_after_a_restart() {
    let (code, results, dir) = real_balancers().run();
    assert_eq!(code, Some(0), "{results}");
    for t in results["targets"].as_array().expect("targets") {
        let name = t["name"].as_str().expect("name");
        let kill_us = t["faults"][0]["start-ms"]
            .as_f64()
            .expect("the kill's start")
            * 1000.0;
        let before = lost_before(&dir, name, kill_us);
        if name == "nginx-round-robin" {
            assert!(before > 0, "round robin loses sessions from the start: {t}");
        } else {
            assert_eq!(before, 0, "{name} kept every session until the kill");
            assert!(
                t["sessions"]["lost"].as_u64() > Some(0),
                "{name} lost node2's"
            );
        }
        let restart = &t["faults"][1];
        assert_eq!(restart["kind"], "lb-restart");
        assert!(restart["detail"].is_null(), "{name}: {restart}");
        // The balancer is back: requests started after the restart are served.
        let ends = t["timeline"].as_array().expect("timeline");
        let last = ends.last().expect("a second");
        assert!(
            last["ok"].as_u64() > Some(0),
            "{name} serves after its restart: {last}"
        );
    }
    let conf = dir.join("logs/nginx-ip-hash-nginx/nginx.conf");
    let text = std::fs::read_to_string(&conf).expect("the nginx configuration is kept");
    assert!(text.contains("ip_hash;"), "{text}");
    // Apache routes by the session id's `.nodeN` suffix (Tomcat's jvmRoute), one member each.
    let conf = dir.join("logs/apache-cookie-route-apache/httpd.conf");
    let text = std::fs::read_to_string(&conf).expect("the apache configuration is kept");
    assert!(text.contains("stickysession=SESSION|session"), "{text}");
    assert_eq!(text.matches(" route=node").count(), 3, "{text}");
    // Nothing it started outlives the run.
    crate::support::assert_nothing_left_running(&dir);
    let cfg = dir.join("logs/haproxy-cookie-insert-haproxy/haproxy.cfg");
    let text = std::fs::read_to_string(&cfg).expect("the haproxy configuration is kept");
    assert!(
        text.contains("cookie SERVERID insert indirect nocache"),
        "{text}"
    );
}

/// Scale-out and -in behind Apache, through its balancer-manager as an operator would: node3
/// joins two delta nodes and serves, node1 is drained out and back, and an `lb-restart`
/// afterwards keeps node3 (the configuration the harness rewrote lists it with its route).
#[test]
fn apache_gains_and_drains_members_through_its_balancer_manager() {
    let delta = target("apache-delta", "delta")
        .set("replication", "sync")
        .set("lb", "apache")
        .set("lb-policy", "cookie-route")
        .nodes(2);
    let (code, results, dir) = Suite::new("apache-scale", "8s")
        .users(12)
        .set(&["workload"], "ops-per-session", 40)
        .target(delta)
        .fault(fault("1500ms", "add-node", "node3"))
        .fault(fault("3s", "remove-node", "node1").heal_after("1500ms"))
        .fault(tier_fault("6s", "lb-restart"))
        .run();
    let t = &results["targets"][0];
    assert_eq!(code, Some(0), "{results}");
    assert_eq!(t["sessions"]["lost"], 0, "{t}");
    let faults = t["faults"].as_array().expect("faults");
    for f in faults {
        assert!(f["detail"].is_null(), "went through: {f}");
    }
    let at = |i: usize, key: &str| faults[i][key].as_f64().expect("fault times") * 1000.0;
    let ops: Vec<Value> = crate::support::history_text(&dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "op" && r["outcome"] == "ok")
        .collect();
    let served = |node: &str, from: f64, to: f64| {
        ops.iter()
            .filter(|r| r["node"] == node)
            .filter(|r| r["start-us"].as_f64().is_some_and(|s| s > from && s < to))
            .count()
    };
    let (added, removed, restored, restarted) = (
        at(0, "end-ms"),
        at(1, "start-ms"),
        at(1, "end-ms"),
        at(2, "end-ms"),
    );
    assert_eq!(served("node3", 0.0, at(0, "start-ms")), 0);
    // It serves before node1 leaves, and its share after: the window before the removal is
    // short (3 s less the join), and a slow join on a loaded machine leaves it few requests.
    assert!(served("node3", added, removed) > 0, "node3 joined");
    assert!(served("node3", added, f64::MAX) > 10, "node3 kept serving");
    // Drained: new requests go elsewhere at once (a few in flight may start just before).
    assert_eq!(
        served("node1", removed + 100_000.0, restored - 100_000.0),
        0,
        "node1 was drained"
    );
    assert!(served("node1", restored, f64::MAX) > 10, "node1 came back");
    assert!(
        served("node3", restarted, f64::MAX) > 10,
        "the restarted Apache still has node3"
    );
    let conf = dir.join("logs/apache-delta-apache/httpd.conf");
    let text = std::fs::read_to_string(&conf).expect("the apache configuration is kept");
    assert_eq!(text.matches(" route=node").count(), 3, "{text}");
    assert!(!text.contains("status=+D"), "node1 is back: {text}");
}
