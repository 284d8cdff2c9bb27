//! `network = "netns"`: every process in a namespace of its own, partitions made by the
//! kernel. The cut is real (a connection across it times out, one beside it does not, and
//! after the heal it opens again), and nothing of a run's network outlives it: not after a
//! normal end, a SIGINT, or a SIGKILL followed by another run or `sessionbench clean`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{RunGuard, interrupt, run_named, sessionbench, tempdir, write_suite};

/// Three delta nodes behind round robin, each in its own namespace, node1 split from the
/// others from 2 s to 8 s (long enough for two connects to time out before the heal).
const SPLIT: &str = r#"
[suite]
name = "netns-split"
duration = "10s"
warm-up = "500ms"
network = "netns"

[workload]
virtual-users = 6
think-time = "50ms"
ops-per-session = 60
request-timeout = "1s"

[[targets]]
name = "delta"
strategy = "delta"
nodes = 3
lb-policy = "round-robin"

[targets.expect]
sessions-lost = "any"
max-stale-reads = 100000
max-monotonic-violations = 100000
max-resurrections = 100000
lost-updates = "any"
max-monotonic-writes = 100000

[[faults]]
at = "2s"
kind = "partition"
groups = [["node1"], ["node2", "node3"]]
heal-after = "6s"
"#;

fn start(suite: &Path, out: &Path) -> RunGuard {
    RunGuard(
        sessionbench()
            .args(["run", "--quiet", "--out"])
            .arg(out)
            .arg(suite)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run"),
    )
}

/// What a harness of pid `pid` made: its namespaces and its interfaces.
fn made_by(pid: u32) -> Vec<String> {
    let tag = format!("{pid:06x}");
    let text = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let namespaces = text(&["netns", "list"]);
    let links = text(&["-o", "link", "show"]);
    namespaces
        .lines()
        .chain(links.lines())
        .filter(|l| l.contains(&format!("sessionbench-{tag}-")) || l.contains(&format!(" sb{tag}")))
        .map(String::from)
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let since = Instant::now();
    while !done() {
        assert!(since.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ip netns exec NS ARGS`.
fn in_ns(ns: &str, args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec")
}

/// The address of the process in `ns` and a port it listens on there.
fn listener(ns: &str) -> (String, u16) {
    let tcp = String::from_utf8_lossy(&in_ns(ns, &["cat", "/proc/net/tcp"]).stdout).into_owned();
    tcp.lines()
        .skip(1)
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let (ip, port) = fields.get(1)?.split_once(':')?;
            let ip = u32::from_str_radix(ip, 16).ok()?.to_le_bytes();
            let listening = fields.get(3) == Some(&"0A") && ip[0] == 10;
            listening.then(|| {
                let ip = std::net::Ipv4Addr::from(ip).to_string();
                (ip, u16::from_str_radix(port, 16).expect("port"))
            })
        })
        .next()
        .unwrap_or_else(|| panic!("nothing listens in {ns}:\n{tcp}"))
}

/// Whether a process in `from` opens a TCP connection to `to` within 2 s.
fn connects(from: &str, to: &(String, u16)) -> bool {
    let script = format!("exec 3<>/dev/tcp/{}/{}", to.0, to.1);
    in_ns(from, &["timeout", "2", "bash", "-c", &script])
        .status
        .success()
}

fn has_cut(ns: &str) -> bool {
    String::from_utf8_lossy(&in_ns(ns, &["nft", "list", "tables"]).stdout).contains("sessionbench")
}

#[test]
fn a_split_is_cut_by_the_kernel_and_healed() {
    let suite = write_suite("netns-split", SPLIT);
    let out = tempdir("netns-split-run");
    let mut run = start(&suite, &out);
    let pid = run.0.id();
    let ns = |name: &str| format!("sessionbench-{pid:06x}-0-{name}");
    wait_for("the split", Duration::from_secs(20), || {
        has_cut(&ns("node1"))
    });
    let node2 = listener(&ns("node2"));
    let node1 = listener(&ns("node1"));
    // Across the split: the SYN is dropped, the connection times out.
    assert!(
        !connects(&ns("node1"), &node2),
        "node1 reached node2 across the split"
    );
    assert!(
        !connects(&ns("node3"), &node1),
        "node3 reached node1 across the split"
    );
    // Within a side, and from the LB (in no group), connections open.
    assert!(
        connects(&ns("node3"), &node2),
        "node3 and node2 are on one side"
    );
    assert!(connects(&ns("lb"), &node1), "the LB is in no group");
    wait_for("the heal", Duration::from_secs(10), || {
        !has_cut(&ns("node1"))
    });
    assert!(
        connects(&ns("node1"), &node2),
        "healed, node1 reaches node2 again"
    );

    let status = run.0.wait().expect("the run ends");
    let results = crate::support::json(&out.join("results.json"));
    assert_eq!(status.code(), Some(0), "{results}");
    let t = run_named(&results, "delta");
    let fault = &t["faults"][0];
    assert_eq!(fault["kind"], "partition", "{t}");
    assert_eq!(fault["node"], "[node1] [node2 node3]", "{t}");
    assert!(t["ops"]["total"].as_u64() > Some(200), "{t}");
    assert_eq!(
        made_by(pid),
        Vec::<String>::new(),
        "left behind after the run"
    );
}

#[test]
fn interrupted_and_killed_runs_leave_no_namespace_or_interface() {
    let suite = write_suite("netns-life", SPLIT);
    let up = |pid: u32| {
        wait_for("the namespaces", Duration::from_secs(20), || {
            made_by(pid).iter().filter(|l| !l.contains(": sb")).count() >= 4
        });
    };

    // SIGINT: the run removes its own on the way out.
    let mut run = start(&suite, &tempdir("netns-sigint"));
    let pid = run.0.id();
    up(pid);
    assert_eq!(interrupt(&mut run), Some(130));
    assert_eq!(
        made_by(pid),
        Vec::<String>::new(),
        "left behind after SIGINT"
    );

    // SIGKILL: nothing can run on the way out; the next run sweeps it.
    let mut run = start(&suite, &tempdir("netns-sigkill"));
    let killed = run.0.id();
    up(killed);
    run.0.kill().expect("SIGKILL");
    run.0.wait().expect("reap");
    assert!(
        !made_by(killed).is_empty(),
        "a SIGKILLed run cannot remove its own"
    );
    let mut next = start(&suite, &tempdir("netns-next"));
    up(next.0.id());
    assert_eq!(
        made_by(killed),
        Vec::<String>::new(),
        "the next run sweeps it"
    );
    let next_pid = next.0.id();
    // `sessionbench clean` keeps a running run's, and says so.
    let clean = sessionbench().arg("clean").output().expect("clean");
    let said = String::from_utf8_lossy(&clean.stdout);
    assert!(
        said.contains(&format!("of run {next_pid}, which still runs")),
        "{said}"
    );
    assert!(!made_by(next_pid).is_empty(), "clean kept a running run's");

    // Killed and not reaped (a zombie, as under a PID 1 that never reaps), it holds nothing:
    // `clean`, when no run comes next, removes what it made.
    next.0.kill().expect("SIGKILL");
    wait_for("the zombie", Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{next_pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
    });
    let clean = sessionbench().arg("clean").output().expect("clean");
    assert!(clean.status.success());
    let said = String::from_utf8_lossy(&clean.stdout);
    assert!(
        said.contains(&format!("removed sessionbench-{next_pid:06x}-0-node1")),
        "{said}"
    );
    assert_eq!(made_by(next_pid), Vec::<String>::new(), "clean removes it");
    next.0.wait().expect("reap");
}

#[test]
fn without_net_admin_a_netns_suite_is_refused() {
    let suite = write_suite("netns-caps", SPLIT);
    let out = Command::new("setpriv")
        .args([
            "--bounding-set",
            "-net_admin,-sys_admin",
            "--inh-caps",
            "-all",
        ])
        .arg(env!("CARGO_BIN_EXE_sessionbench"))
        .args(["run", "--quiet"])
        .arg(&suite)
        .output()
        .expect("setpriv (util-linux)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("needs root (CAP_NET_ADMIN"), "{said}");
}

#[test]
fn kernel_cuts_name_processes_and_need_namespaces() {
    let check = |suite: &str| {
        let file = write_suite("netns-invalid", suite);
        let out = sessionbench()
            .arg("validate")
            .arg(&file)
            .output()
            .expect("validate");
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let loopback = SPLIT.replace("network = \"netns\"\n", "");
    let unknown = SPLIT.replace("[\"node2\", \"node3\"]", "[\"node2\", \"redis\"]");
    let latency = SPLIT.replace(
        "kind = \"partition\"\ngroups = [[\"node1\"], [\"node2\", \"node3\"]]",
        "kind = \"latency\"\nnode = \"node1\"\nlatency = \"50ms\"",
    );
    let nginx = SPLIT.replace(
        "lb-policy = \"round-robin\"",
        "lb-policy = \"round-robin\"\nlb = \"nginx\"",
    );
    for (suite, said) in [
        (loopback, "made by the kernel: set network = \"netns\""),
        (
            unknown,
            "has no process `redis` (it has node1, node2, node3, lb)",
        ),
        (latency, "this kernel has no netem"),
        (nginx, "nginx runs on loopback only here"),
    ] {
        let out = check(&suite);
        assert!(out.contains(said), "{out}");
    }
}

/// A process's cable pulled, and a node's link to the LB cut as the proxies of loopback
/// would cut it: behind sticky sessions without replication, the sessions on the cut node
/// are lost each time, and the run records both faults as applied. The partition lasts 4 s:
/// the balancer finds the node down by its health checks (every second, 500 ms timeout)
/// and only then sends its users elsewhere, where their sessions are not; in a 2 s
/// partition on a loaded machine, that window held no request once, and nothing was lost.
#[test]
fn link_down_and_a_link_partition_cut_a_node_off() {
    let suite = SPLIT
        .replace("strategy = \"delta\"", "strategy = \"sticky\"")
        .replace(
            "lb-policy = \"round-robin\"",
            "lb-policy = \"cookie-route\"",
        );
    let faults = suite.find("[[faults]]").expect("faults");
    let suite = format!(
        "{}{}",
        &suite[..faults],
        r#"[[faults]]
at = "2s"
kind = "link-down"
node = "node2"
heal-after = "2s"

[[faults]]
at = "5s"
kind = "partition"
node = "node3"
link = "lb"
heal-after = "4s"
"#
    );
    let file = write_suite("netns-links", &suite);
    let out = tempdir("netns-links-run");
    let run = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .expect("run");
    let results = crate::support::json(&out.join("results.json"));
    assert_eq!(run.status.code(), Some(0), "{results}");
    let faults = &run_named(&results, "delta")["faults"];
    for (i, (kind, node)) in [("link-down", "node2"), ("partition", "node3")]
        .iter()
        .enumerate()
    {
        let f = &faults[i];
        assert_eq!(
            (f["kind"].as_str(), f["node"].as_str()),
            (Some(*kind), Some(*node)),
            "{f}"
        );
        assert!(f.get("failed").is_none(), "{f}");
        assert!(f["sessions-lost-after"].as_u64() > Some(0), "{f}");
    }
}
