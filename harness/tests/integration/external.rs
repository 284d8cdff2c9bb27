//! `strategy = "external"`: the harness starts nothing itself. The suite's own shell
//! commands start reference nodes and a load balancer (as a user's scripts would start their
//! stack), kill a node, and stop everything; the harness only drives load at the URL and
//! checks. A kill loses sessions held in memory and none held by every node. The replicated
//! stack is described by request templates, as any application would be: the harness then
//! uses nothing but the suite's requests and commands.

use crate::support::{free_port, run_suite};

/// A shell script that starts three nodes (with `node_args`, and `cluster` adding each node's
/// replication port and peers) and an LB with `policy` in front, writing their pids.
fn start_script(
    lb: u16,
    nodes: &[(u16, u16)],
    node_args: &str,
    cluster: bool,
    policy: &str,
) -> String {
    // As a stack someone else runs would: the cluster secret in a file only its owner reads.
    let mut script = String::from(
        "d=\"$SESSIONBENCH_DIR\"; (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d \" \\n\" > \"$d/cluster.secret\"); ",
    );
    let mut backends = String::new();
    for (i, (http, repl)) in nodes.iter().enumerate() {
        let id = format!("node{}", i + 1);
        let mut args = format!("--id {id} --listen 127.0.0.1:{http} {node_args}");
        if cluster {
            args.push_str(&format!(
                " --cluster-listen 127.0.0.1:{repl} --cluster-secret-file \"$d/cluster.secret\""
            ));
            for (j, (_, other)) in nodes.iter().enumerate() {
                if j != i {
                    args.push_str(&format!(" --peer node{}=127.0.0.1:{other}", j + 1));
                }
            }
        }
        script.push_str(&format!(
            "\"$SESSIONBENCH\" node {args} > \"$d/{id}.log\" 2>&1 & echo $! > \"$d/{id}.pid\"; "
        ));
        backends.push_str(&format!(" --backend {id}=127.0.0.1:{http}"));
    }
    // The balancer once every node listens: started sooner, its first health checks find
    // them down, and until the next ones it routes sessions to any node, cookie or not.
    let ids: Vec<String> = (1..=nodes.len()).map(|n| n.to_string()).collect();
    script.push_str(&format!(
        "for n in {}; do i=0; until grep -qs \\\"ready\\\" \"$d/node$n.log\"; do i=$((i+1)); [ $i -le 200 ] || exit 1; sleep 0.02; done; done; ",
        ids.join(" ")
    ));
    script.push_str(&format!(
        "\"$SESSIONBENCH\" lb --listen 127.0.0.1:{lb} --policy {policy} --health-interval 500ms{backends} > \"$d/lb.log\" 2>&1 & echo $! > \"$d/lb.pid\""
    ));
    script
}

/// The node protocol written as request templates: one value attribute, read by JSON pointer.
const NODE_API: &str = r#"
[targets.requests.login]
path = "/login"
json = { user = "{user}" }
user = { pointer = "/user" }

[targets.requests.read]
method = "GET"
path = "/session"
user = { pointer = "/user" }
counter = { pointer = "/counter" }
value = { pointer = "/attrs/value/write" }

[targets.requests.write]
method = "PUT"
path = "/session/attrs/value"
json = { value = "{seq}", write = "{value}" }
value = { pointer = "/attrs/value/write" }

[targets.requests.counter]
path = "/session/counter"
counter = { pointer = "/counter" }

[targets.requests.logout]
path = "/logout"
"#;

fn target(name: &str, node_args: &str, cluster: bool, api: &str, expect: &str) -> String {
    stack_target(
        name,
        "cookie-route",
        "20s",
        (node_args, cluster),
        api,
        expect,
    )
}

/// An external target whose `start` runs three nodes (`node`: their arguments, and whether
/// they form a cluster) behind an LB with `policy`, each command bounded by `timeout`.
pub(crate) fn stack_target(
    name: &str,
    policy: &str,
    timeout: &str,
    (node_args, cluster): (&str, bool),
    api: &str,
    expect: &str,
) -> String {
    let lb = free_port();
    let nodes: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    format!(
        r#"
[[targets]]
name = "{name}"
strategy = "external"
url = "http://127.0.0.1:{lb}"
start = '{start}'
stop = 'kill $(cat "$SESSIONBENCH_DIR"/*.pid) 2>/dev/null; true'
ready-url = "http://127.0.0.1:{lb}/healthz"
timeout = "{timeout}"
{api}
[targets.expect]
{expect}
"#,
        start = start_script(lb, &nodes, node_args, cluster, policy),
    )
}

#[test]
fn an_external_stack_started_and_broken_by_the_suites_commands_is_checked() {
    let suite = format!(
        r#"
[suite]
name = "external"
duration = "6s"
warm-up = "500ms"

[workload]
virtual-users = 12
think-time = "50ms"
ops-per-session = 40
{}{}
[[faults]]
at = "2s"
kind = "command"
node = "node2"
inject = 'kill -9 $(cat "$SESSIONBENCH_DIR/node2.pid")'
"#,
        target(
            "memory",
            "--route-suffix",
            false,
            "",
            "sessions-lost = \"some\""
        ),
        target(
            "replicated",
            "--route-suffix --store delta --replication sync",
            true,
            NODE_API,
            "sessions-lost = \"none\"\nmax-stale-reads = 0"
        ),
    );
    let (code, results, dir) = run_suite("external", &suite);
    // Whatever happened, nothing the suite started may outlive the test.
    kill_leftovers(&dir, &["memory", "replicated"]);
    assert_eq!(code, Some(0), "{results}");
    let targets = results["targets"].as_array().expect("targets");
    let (memory, replicated) = (&targets[0], &targets[1]);
    assert_eq!(memory["strategy"], "external");
    let lost_after = |t: &serde_json::Value| t["faults"][0]["sessions-lost-after"].as_u64();
    assert!(
        lost_after(memory) > Some(0),
        "the kill cost sessions: {memory}"
    );
    assert!(memory["faults"][0]["detail"].is_null(), "{memory}");
    assert_eq!(replicated["sessions"]["lost"], 0, "{replicated}");
    assert!(
        replicated["sessions"]["started"].as_u64() > Some(20),
        "{replicated}"
    );
    // The templates read what the checks need: the writes the views show.
    let history = crate::support::history_text(&dir);
    assert!(
        history
            .lines()
            .any(|l| l.contains(r#""target":"replicated""#)
                && l.contains(r#""kind":"read""#)
                && l.contains(r#""attrs":{"value":"#)),
        "reads of the replicated stack show the value written"
    );
}

/// Kills every process whose pid a target's commands wrote under `logs/<target>-commands/`
/// (its stop command should have; a failed run may not have run it).
pub(crate) fn kill_leftovers(run_dir: &std::path::Path, targets: &[&str]) {
    for t in targets {
        let pids = run_dir.join("logs").join(format!("{t}-commands"));
        let Ok(entries) = std::fs::read_dir(&pids) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().extension().is_none_or(|x| x != "pid") {
                continue;
            }
            if let Ok(pid) = std::fs::read_to_string(e.path()) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

#[test]
fn a_start_that_fails_half_way_runs_the_stop_command_and_keeps_the_earlier_results() {
    let dir = crate::support::tempdir("start-fails");
    std::fs::create_dir_all(&dir).expect("dir");
    let suite = format!(
        r#"
[suite]
name = "start-fails"
duration = "3s"
warm-up = "500ms"

[[targets]]
name = "before"
strategy = "direct"

[[targets]]
name = "half"
strategy = "external"
url = "http://127.0.0.1:{}"
start = 'sleep 300 >/dev/null 2>&1 & echo $! > "$SESSIONBENCH_DIR/sleeper.pid"; echo the second half failed >&2; exit 1'
stop = 'kill $(cat "$SESSIONBENCH_DIR/sleeper.pid") && touch "$SESSIONBENCH_DIR/stopped"'
timeout = "5s"
"#,
        free_port()
    );
    let file = dir.join("suite.toml");
    std::fs::write(&file, suite).expect("suite");
    let out = crate::support::sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("run"))
        .arg(&file)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the second half failed"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The target that ran first keeps its results; the failed one is judged unknown.
    let results = crate::support::json(&dir.join("run/results.json"));
    let before = &results["targets"][0];
    assert_eq!(before["name"], "before", "{results}");
    assert_eq!(before["verdict"], "pass", "{before}");
    assert_eq!(before["interrupted"], false, "{before}");
    assert!(before["ops"]["total"].as_u64() > Some(100), "{before}");
    let half = &results["targets"][1];
    assert_eq!(half["verdict"], "unknown", "{half}");
    assert_eq!(half["reasons"][0], "the target never started", "{half}");
    assert!(dir.join("run/report.md").exists(), "the report too");
    assert!(
        stderr.contains("what ran before the error is checked and reported in"),
        "{stderr}"
    );
    let stopped = dir.join("run/logs/half-commands/stopped").exists();
    if !stopped {
        kill_leftovers(&dir.join("run"), &["half"]);
    }
    assert!(stopped, "the stop command ran: {stderr}");
    let pid_file = dir.join("run/logs/half-commands/sleeper.pid");
    let pid = std::fs::read_to_string(&pid_file).expect("the start command ran");
    let proc = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    // Gone, or a zombie waiting for init to reap it.
    let alive = || {
        std::fs::read_to_string(proc.join("stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|s| !s.trim_start().starts_with('Z'))
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive() {
        if std::time::Instant::now() > deadline {
            kill_leftovers(&dir.join("run"), &["half"]);
            panic!(
                "the stop command did not run: pid {} outlived the run",
                pid.trim()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
