//! Real Tomcat 10 clusters the harness starts (`strategy = "tomcat"`): scale-out onto a
//! spare member, JvmRouteBinderValve moving a failed-over session's route, and no JVM or
//! Apache left after Ctrl-C or a SIGKILL of the run. The kill of node2 on real and model side
//! by side is `suites/real.toml --quick` (ci_suites.rs).

use serde_json::Value;

use crate::support::run_suite;

/// Scale-out onto a member the static membership listed from the start: the new Tomcat takes
/// the sessions from its peers, the balancer gains it, and it serves them; none is lost. The
/// new JVM joined in 0.7 s on a quiet machine and 1.7 s beside a full-speed run, but once in
/// a CI run beside one it was not serving 11 s after the fault (the run then passed on a
/// scale-out that never happened; such a fault is now reported as not applied). The fault
/// comes 1 s into the load and the load lasts 20 s, so a slow join still leaves time to serve.
#[test]
fn a_tomcat_cluster_scales_out_onto_a_spare_member() {
    let (code, results, dir) = run_suite(
        "tomcat-scale-out",
        r#"
[suite]
name = "tomcat-scale-out"
duration = "20s"
warm-up = "1s"

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

# What the test judges is the join: node3 serves and no session is lost. Stale reads are
# not: once in a CI run node3 served `a0` at write 14 though write 25 had been acknowledged
# by node1 (a change replicated while node3 took the state missed its copy): 5 stale reads
# and as many writes gone back. docs/real-stacks.md tells of it.
[targets.expect]
max-stale-reads = 1000000
max-monotonic-writes = 1000000

[[faults]]
at = "1s"
kind = "add-node"
node = "node3"
"#,
    );
    let t = &results["targets"][0];
    assert_eq!(code, Some(0), "{}: {}", t["faults"], t["reasons"]);
    assert_eq!(t["sessions"]["lost"], 0, "{t}");
    let served = crate::support::history_text(&dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "op" && r["node"] == "node3" && r["outcome"] == "ok")
        .count();
    assert!(
        served > 20,
        "node3 served after it joined: {served} operations; {}",
        t["faults"]
    );
    let log = std::fs::read_to_string(dir.join("logs/delta-sync-node3.log")).expect("node3 log");
    assert!(
        log.contains("session state"),
        "node3 took the state:\n{log}"
    );
}

/// Ctrl-C or a SIGKILL of `sessionbench run` mid-run leaves no JVM and no Apache behind.
/// An Apache that dropped root for `nobody` itself lost the kernel's parent-death signal and
/// outlived a killed harness: this is checked on everything whose command line names the
/// run directory, not only on the harness's children.
#[test]
fn an_interrupted_or_killed_tomcat_run_leaves_no_java_or_apache_behind() {
    use crate::support::{interrupt, kill_and_expect_no_orphans, start_run, tempdir};
    let suite = tempdir("tomcat-signals").with_extension("toml");
    std::fs::write(
        &suite,
        r#"
[suite]
name = "tomcat-signals"
duration = "60s"

[workload]
virtual-users = 4
think-time = "50ms"

[[targets]]
name = "delta-jvmroute"
strategy = "tomcat"
manager = "delta"
lb = "apache"
lb-policy = "cookie-route"
nodes = 3
"#,
    )
    .expect("suite");
    for signal in ["INT", "KILL"] {
        let out = tempdir(&format!("tomcat-signals-{signal}"));
        let (mut run, kids) = start_run(suite.to_str().expect("path"), 4, &out);
        let programs: Vec<String> = kids
            .iter()
            .filter_map(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok())
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .split('\0')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        assert_eq!(
            programs.iter().filter(|p| p.ends_with("java")).count(),
            3,
            "{programs:?}"
        );
        assert!(
            programs.iter().any(|p| p.ends_with("apache2")),
            "{programs:?}"
        );
        if signal == "INT" {
            assert_eq!(interrupt(&mut run), Some(130));
        } else {
            kill_and_expect_no_orphans(run, &kids);
        }
        crate::support::assert_nothing_left_running(&out);
    }
}
