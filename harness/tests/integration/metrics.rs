//! `run --metrics-listen`: a real Prometheus (Debian's `prometheus`) scrapes a running suite
//! every second; its queries show the load while it runs, and at the end the numbers of
//! results.json.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    Suite, check_label, fault, free_port, json, program, sessionbench, target, tempdir, write_suite,
};

/// Prometheus on loopback with its storage in `dir`, scraping `/metrics` on `scraped`
/// every 2 s; killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, scraped: u16) -> Self {
        let prometheus = program("prometheus", "prometheus");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 2s\nscrape_configs:\n  - job_name: sessionbench\n    static_configs:\n      - targets: ['127.0.0.1:{scraped}']\n"
            ),
        )
        .expect("config");
        let port = free_port();
        let child = Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus");
        let p = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while p.get("/-/ready").is_none() {
            assert!(Instant::now() < deadline, "prometheus not ready after 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn get(&self, path: &str) -> Option<String> {
        let out = Command::new("curl")
            .args([
                "-sf",
                "-g",
                &format!("http://127.0.0.1:{}{path}", self.port),
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The value of an instant query's first series, if it has one.
    fn query(&self, q: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", encode(q));
        let v: Value = serde_json::from_str(&self.get(&path)?).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sticky sessions through a node kill: sessions are lost. Prometheus (scraping every 2 s)
/// sees operations grow while the load runs, and `promtool` finds the exposition sound; the
/// run waits for a scrape after its end, and then Prometheus's last values are results.json's:
/// lost sessions, sessions started, stale reads. Each query of docs/running.md answers.
#[test]
fn prometheus_scrapes_a_run_and_ends_with_the_numbers_of_its_results() {
    let dir = tempdir("metrics");
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let prometheus = Prometheus::start(&dir, port);
    let suite = Suite::new("metrics", "8s")
        .target(
            target("sticky", "sticky")
                .nodes(3)
                .expect("sessions-lost", "any"),
        )
        .fault(fault("4s", "kill", "node2"))
        .toml();
    let file = write_suite("metrics-suite", &suite);
    let out = dir.join("run");
    let mut run = sessionbench()
        .args([
            "run",
            "--metrics-listen",
            &format!("127.0.0.1:{port}"),
            "--out",
        ])
        .arg(&out)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // While the load runs: operations counted, and more at a later scrape.
    let ops = "sum(sessionbench_operations_total{target=\"sticky\"})";
    let first = until("operations scraped", || {
        prometheus.query(ops).filter(|n| *n > 0.0)
    });
    until("the count growing", || {
        prometheus.query(ops).filter(|n| *n > first)
    });
    let curl = || {
        Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
            .output()
            .expect("curl")
    };
    let exposition = curl();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package)");
    std::io::Write::write_all(promtool.stdin.as_mut().expect("stdin"), &exposition.stdout)
        .expect("write");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    // As the run starts its wait for the last scrape, a curl asks for the numbers: that
    // is not Prometheus's scrape, and the run waits on for it (once, a curl ended the wait
    // and Prometheus never stored the final numbers).
    let mut said = String::new();
    let stderr = std::io::BufReader::new(run.stderr.take().expect("stderr"));
    for line in std::io::BufRead::lines(stderr) {
        let line = line.expect("the run's stderr");
        if line.contains("for the last scrape of the metrics") {
            // Should Prometheus scrape first, the run may be gone: the curl fails, harmless.
            let _ = curl();
        }
        said.push_str(&line);
        said.push('\n');
    }
    let status = run.wait().expect("run");
    assert!(status.code().is_some(), "the run ended: {said}");
    assert!(
        said.contains("for the last scrape of the metrics"),
        "{said}"
    );
    assert!(!said.contains("no scrape of the metrics came"), "{said}");
    let results = json(&out.join("results.json"));
    let t = &results["targets"][0];
    let lost = t["sessions"]["lost"].as_f64().expect("lost");
    assert!(lost > 0.0, "the kill lost sessions: {t}");
    // The run's end made its series stale (the scrape after it failed): their last values,
    // once Prometheus has stored the final scrape.
    let last = |q: &str| prometheus.query(&format!("last_over_time({q}[5m])"));
    until("the last values", || {
        last("sessionbench_target_running{target=\"sticky\"}").filter(|r| *r == 0.0)
    });
    for (q, expected) in [
        ("sessionbench_sessions_lost_total", &t["sessions"]["lost"]),
        (
            "sessionbench_sessions_started_total",
            &t["sessions"]["started"],
        ),
        (
            "sessionbench_stale_reads_total",
            &t["sessions"]["stale-reads"],
        ),
        (
            "sessionbench_lost_updates_total",
            &t["sessions"]["lost-updates"],
        ),
    ] {
        let q = format!("{q}{{target=\"sticky\"}}");
        assert_eq!(last(&q), expected.as_f64(), "{q} against results.json");
    }
    assert_eq!(
        last("sessionbench_fault_events_total{target=\"sticky\",fault=\"kill\",phase=\"start\"}"),
        Some(1.0)
    );
    // Which checks judged those counts, as results.json says.
    for c in t["checks"].as_array().expect("checks") {
        if c["sessions"] == 0 {
            continue;
        }
        let label = check_label(c);
        let expected = match c["judged"].as_str() {
            Some("judged") => 1.0,
            Some("partly") => 0.5,
            _ => 0.0,
        };
        let q = format!("sessionbench_check_judged{{target=\"sticky\",check=\"{label}\"}}");
        assert_eq!(last(&q), Some(expected), "{q}: {c}");
    }
    // docs/running.md's queries over the run's last minute.
    for q in [
        "sum by (target) (rate(sessionbench_operations_total[1m]))",
        "sum by (target, kind) (rate(sessionbench_operations_total{outcome!=\"ok\"}[1m]))",
        "histogram_quantile(0.99, sum by (target, kind, le) (rate(sessionbench_operation_duration_seconds_bucket[1m])))",
        "histogram_quantile(0.99, sum by (target, le) (rate(sessionbench_driver_send_lag_seconds_bucket[1m])))",
        "rate(sessionbench_process_cpu_seconds_total[1m]) / on() last_over_time(sessionbench_driver_cores[1m])",
    ] {
        let v = prometheus
            .query(q)
            .unwrap_or_else(|| panic!("no answer to {q}"));
        assert!(v.is_finite() && v >= 0.0, "{q} = {v}");
    }
}

/// Polls `f` every 200 ms until it gives a value, for at most 20 s.
fn until(what: &str, mut f: impl FnMut() -> Option<f64>) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "no {what} in 20 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Only loopback, and a taken port fails before the run starts.
#[test]
fn metrics_listen_refuses_other_addresses_and_a_taken_port() {
    let suite = Suite::new("metrics-refused", "1s")
        .target(target("sticky", "sticky"))
        .toml();
    let file = write_suite("metrics-refused", &suite);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    for (listen, why) in [
        ("0.0.0.0:9464", "loopback only"),
        (addr.as_str(), "cannot listen"),
    ] {
        let o = sessionbench()
            .args(["run", "--quiet", "--metrics-listen", listen])
            .arg(&file)
            .output()
            .expect("run");
        let said = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{listen}: {said}");
        assert!(said.contains(why), "{listen}: {said}");
    }
}
