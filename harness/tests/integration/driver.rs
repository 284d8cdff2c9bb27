//! The driver measuring itself: a run whose driver is starved says that its numbers describe
//! the harness (results.json, report.md, report.html), its thresholds are unsure and
//! `--strict` fails them; a run late because the machine was busy says that instead, with its
//! own wording and colour; a normal run on an idle machine says nothing of the kind.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::{json, sessionbench, tempdir};

// Paced, and light enough for the unoptimized build the tests run: 500 operations a second.
// That build's own send lag p99 measured 0.47 to 1.30 ms on a quiet 2-core machine, about the
// release build's 1 ms limit, so the tests judge it against 3 ms: still a tenth of what a
// starved driver shows (the release build's timing is `ci/bench driver`'s to judge).
const SUITE: &str = r#"
[suite]
name = "driver"
duration = "4s"
warm-up = "500ms"
send-lag-limit = "3ms"

[workload]
virtual-users = 10
think-time = "20ms"

[workload.mix]
read = 100

[[targets]]
name = "direct"
strategy = "direct"

[targets.expect]
sessions-lost = "none"

[targets.thresholds]
min-throughput = 1.0
"#;

#[test]
fn a_run_on_an_idle_machine_is_not_saturated_and_reports_the_nodes_own_latency() {
    let dir = tempdir("driver-idle");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("suite.toml"), SUITE).expect("suite");
    let ((busy, children), started) = (cpu_ticks(), Instant::now());
    let status = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("run"))
        .arg(dir.join("suite.toml"))
        .status()
        .expect("run");
    let (busy_after, children_after) = cpu_ticks();
    // Cores kept busy by processes outside the run (USER_HZ is 100 ticks a second).
    let others = (busy_after - busy).saturating_sub(children_after - children) as f64
        / 100.0
        / started.elapsed().as_secs_f64();
    let results = json(&dir.join("run/results.json"));
    let t = &results["targets"][0];
    assert_eq!(status.code(), Some(0), "{t}");
    let d = &t["driver"];
    // Judged where the machine left the run its cores: other processes used under a tenth
    // of one on average. What they cost the driver is not the driver's to answer for (a
    // busy 2-core machine delays its starts by milliseconds).
    if others < 0.1 {
        assert_eq!(d["saturated"], false, "others used {others:.2} cores: {d}");
        assert!(d["send-lag-ms"]["p99"].as_f64().expect("p99") < 3.0, "{d}");
        assert!(t["thresholds"][0].get("unsure").is_none(), "{t}");
    } else {
        eprintln!("saturation not judged: processes outside the run kept {others:.2} cores busy");
    }
    assert!(d["cpu-percent"]["mean"].as_f64().expect("cpu") > 0.0, "{d}");
    assert!(
        d["cpu-us-per-op"].as_f64().expect("cpu per op") > 0.0,
        "{d}"
    );
    // A paced load takes every core by default (only one at full speed beside its target).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(d["cores"], cores, "{d}");
    // A single second may still be marked: its p99 is the fifth-worst of ~500 starts, and one
    // scheduling hiccup of the machine makes it. The run as a whole is what is judged.
    let timeline = t["timeline"].as_array().expect("timeline");
    assert!(timeline.iter().any(|s| s["driver-cpu-percent"].is_f64()));
    assert!(timeline.iter().any(|s| s["send-lag-p99-ms"].is_f64()));
    // The node timed every request it answered; its handling is a part of what the client saw.
    let server = &t["server-latency-ms"];
    let client = &t["latency-ms"];
    assert!(server["requests"].as_u64().expect("requests") >= t["ops"]["ok"].as_u64().expect("ok"));
    assert!(server["p50"].as_f64().expect("p50") < client["p50"].as_f64().expect("p50"));
}

/// CPU time in clock ticks: the machine's busy time (every field of /proc/stat's `cpu` line
/// but idle and iowait), and the test process's waited-for children's (`cutime`, `cstime`
/// of /proc/self/stat: a run once reaped, with the nodes it reaped).
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .expect("the cpu line")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let busy = fields.iter().sum::<u64>() - fields[3] - fields[4];
    let own = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command's closing parenthesis: cutime and cstime are the 14th and
    // 15th of them.
    let after = own.rsplit_once(')').expect("comm").1;
    let children: u64 = after
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    (busy, children)
}

#[test]
fn a_starved_driver_says_so_and_strict_fails_the_thresholds_judged_on_it() {
    let dir = tempdir("driver-starved");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("suite.toml");
    std::fs::write(&file, SUITE).expect("suite");
    let mut run = sessionbench()
        .args(["run", "--quiet", "--strict", "--out"])
        .arg(dir.join("run"))
        .arg(&file)
        .spawn()
        .expect("run");
    // Starve the harness (not its node, a process of its own): stopped 30 ms of every 50. A
    // stopped process waits for no core and the machine is idle: nothing outside the driver
    // explains its late starts, so they are the driver's.
    let pid = Pid::from_raw(i32::try_from(run.id()).expect("pid"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = run.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the starved run did not end");
        std::thread::sleep(Duration::from_millis(20));
        let _ = kill(pid, Signal::SIGSTOP);
        std::thread::sleep(Duration::from_millis(30));
        let _ = kill(pid, Signal::SIGCONT);
    };
    let run_dir = dir.join("run");
    let results = json(&run_dir.join("results.json"));
    let t = &results["targets"][0];
    let d = &t["driver"];
    // The cause is the driver's only where the run's own samples found the machine quiet:
    // beside a full-speed run (other processes held 90% of it) the same stops are late
    // starts on a busy machine, and said so. Either way the numbers are not evidence.
    let quiet = d["others-cpu-percent"]["mean"].as_f64().expect("others") < 50.0;
    let (cause, flag, warning, why) = if quiet {
        (
            "saturated",
            "driver-saturated",
            "the load driver was saturated",
            "a saturated driver",
        )
    } else {
        (
            "machine-busy",
            "machine-busy",
            "the machine was busy",
            "a busy machine",
        )
    };
    assert_eq!(d[cause], true, "{d}");
    assert!(d["send-lag-ms"]["p99"].as_f64().expect("p99") > 1.0, "{d}");
    assert!(d["late-ops"].as_u64().expect("late") > 0, "{d}");
    assert!(reasons(d).contains("started late"), "{d}");
    let late_seconds = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|s| s[flag] == true)
        .count();
    assert!(late_seconds >= 2, "{}", t["timeline"]);
    // The expectations' verdict still stands; the throughput threshold held but is not
    // evidence, so --strict fails it, and with it the verdict shown.
    assert_eq!(t["checks-verdict"], "pass", "{}", t["reasons"]);
    assert_eq!(t["verdict"], "fail", "{}", t["reasons"]);
    let threshold = &t["thresholds"][0];
    assert_eq!(threshold["unsure"], true, "{threshold}");
    assert_eq!(threshold["passed"], false, "--strict fails it: {threshold}");
    assert_eq!(status.code(), Some(4), "--strict exits 4");
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains(&format!("**Warning:** direct: {warning}")),
        "{md}"
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    let class = if quiet { "saturated" } else { "machine-busy" };
    assert!(
        html.contains(&format!("class=\"{class}\"")),
        "the plot marks the seconds"
    );
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains(&format!("judged on {why}")), "{junit}");

    // Without --strict the same history passes its threshold, still marked unsure.
    let check = sessionbench()
        .args(["check", "--quiet"])
        .arg(&run_dir)
        .output()
        .expect("check");
    assert_eq!(check.status.code(), Some(0));
    let again = json(&run_dir.join("results.json"));
    let threshold = &again["targets"][0]["thresholds"][0];
    assert_eq!(
        (&threshold["passed"], &threshold["unsure"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
}

fn reasons(driver: &Value) -> String {
    driver["reasons"].to_string()
}

/// Busy loops at a higher priority than the run, two per core, stopped when dropped.
struct Hogs(Vec<std::process::Child>);

impl Hogs {
    fn start() -> Self {
        assert!(
            nix::unistd::geteuid().is_root(),
            "busy loops above the run's priority need root (nice -n -10)"
        );
        let n = 2 * std::thread::available_parallelism().map_or(1, |n| n.get());
        Self(
            (0..n)
                .map(|_| {
                    std::process::Command::new("nice")
                        .args(["-n", "-10", "sh", "-c", "while :; do :; done"])
                        .spawn()
                        .expect("start a busy loop under nice (as root)")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Late starts while other processes hold the cores are the machine's doing: the run says
/// "machine busy" with the driver's waits for a core, not "driver saturated"; its thresholds
/// are still unsure, and the plot shades those seconds in their own colour, unhatched.
/// Busy loops do not make a mostly sleeping driver late (the scheduler runs a thread that
/// wakes at once; its starts measured 0.12 ms late at p99), so the limit here is 20 us:
/// every run passes it, and only what the samples read of the machine names the cause.
#[test]
fn late_starts_on_a_busy_machine_are_the_machines_not_the_drivers() {
    let dir = tempdir("driver-busy-machine");
    std::fs::create_dir_all(&dir).expect("dir");
    let suite = SUITE.replace(r#"send-lag-limit = "3ms""#, r#"send-lag-limit = "20us""#);
    assert_ne!(suite, SUITE);
    std::fs::write(dir.join("suite.toml"), suite).expect("suite");
    let hogs = Hogs::start();
    let status = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("run"))
        .arg(dir.join("suite.toml"))
        .status()
        .expect("run");
    drop(hogs);
    let run_dir = dir.join("run");
    let results = json(&run_dir.join("results.json"));
    let t = &results["targets"][0];
    assert_eq!(status.code(), Some(0), "{t}");
    let d = &t["driver"];
    assert_eq!(d["machine-busy"], true, "{d}");
    assert_eq!(d["saturated"], false, "{d}");
    assert!(reasons(d).contains("on a busy machine"), "{d}");
    let limit = d["cpu-wait-limit-percent"].as_f64().expect("limit");
    assert!(
        d["cpu-wait-percent"]["mean"].as_f64().expect("waits") > limit,
        "{d}"
    );
    assert!(
        d["others-cpu-percent"]["mean"].as_f64().expect("others") > 50.0,
        "{d}"
    );
    assert_eq!(t["thresholds"][0]["unsure"], true, "{t}");
    let timeline = t["timeline"].as_array().expect("timeline");
    let marked = |key: &str| timeline.iter().filter(|s| s[key] == true).count();
    assert!(
        marked("machine-busy") > marked("driver-saturated"),
        "most late seconds are the machine's: {}",
        t["timeline"]
    );
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("**Warning:** direct: the machine was busy")
            && !md.contains("the load driver was saturated"),
        "{md}"
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    assert!(
        html.contains("class=\"machine-busy\""),
        "the plot shades the seconds in their own colour"
    );
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit.xml");
    assert!(!junit.contains("<failure"), "{junit}");
}
