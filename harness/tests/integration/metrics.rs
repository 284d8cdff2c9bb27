//! `run --metrics-listen`: a real Prometheus (Debian's `prometheus`) scrapes a running suite
//! every second; its queries show the load while it runs, and at the end the numbers of
//! results.json.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    Suite, fault, free_port, json, program, sessionbench, target, tempdir, write_suite,
};

/// Prometheus on loopback with its storage in `dir`, scraping `/metrics` on `scraped`
/// every second; killed when dropped.
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
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sessionbench\n    static_configs:\n      - targets: ['127.0.0.1:{scraped}']\n"
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

/// Sticky sessions through a node kill: sessions are lost. Prometheus sees operations while
/// the load runs; after it, its query for lost sessions equals results.json's count, and
/// the other headline numbers are there.
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
            "--quiet",
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
    // While the load runs: operations counted so far, and more a moment later.
    let ops = "sum(sessionbench_operations_total{target=\"sticky\"})";
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        if let Some(n) = prometheus.query(ops).filter(|n| *n > 0.0) {
            break n;
        }
        assert!(Instant::now() < deadline, "no operations scraped in 20 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_millis(1500));
    let later = prometheus.query(ops).expect("operations");
    assert!(
        later > first,
        "the count grows while the load runs: {first}, then {later}"
    );
    let status = run.wait().expect("run");
    assert!(status.code().is_some(), "the run ended: {status}");
    let results = json(&out.join("results.json"));
    let t = &results["targets"][0];
    let lost = t["sessions"]["lost"].as_f64().expect("lost");
    // The run's end made its series stale (the scrape after it failed): their last values.
    let last = |q: &str| prometheus.query(&format!("last_over_time({q}[5m])"));
    assert!(lost > 0.0, "the kill lost sessions: {t}");
    assert_eq!(
        last("sessionbench_sessions_lost_total{target=\"sticky\"}"),
        Some(lost),
        "Prometheus's lost sessions against results.json's"
    );
    assert_eq!(
        last("sessionbench_sessions_started_total{target=\"sticky\"}"),
        t["sessions"]["started"].as_f64()
    );
    assert_eq!(
        last("sessionbench_stale_reads_total{target=\"sticky\"}"),
        t["sessions"]["stale-reads"].as_f64()
    );
    assert_eq!(
        last("sessionbench_fault_events_total{target=\"sticky\",kind=\"kill\",phase=\"start\"}"),
        Some(1.0)
    );
    assert_eq!(
        last("sessionbench_target_running{target=\"sticky\"}"),
        Some(0.0),
        "the last scrape came after the load ended"
    );
    let p99 = prometheus
        .query("histogram_quantile(0.99, sum by (le) (rate(sessionbench_operation_duration_seconds_bucket{target=\"sticky\",kind=\"read\"}[1m])))")
        .expect("a read p99");
    assert!(p99 > 0.0 && p99 < 1.0, "read p99 {p99} s");
    let lag =
        last("sessionbench_driver_send_lag_seconds_count{target=\"sticky\"}").expect("send lag");
    assert!(lag > 0.0);
}

/// Only loopback, and a taken port fails before the run starts.
#[test]
fn metrics_listen_refuses_other_addresses_and_a_taken_port() {
    let suite = Suite::new("metrics-refused", "1s")
        .target(target("sticky", "sticky"))
        .toml();
    let file = write_suite("metrics-refused", &suite);
    let o = sessionbench()
        .args(["run", "--quiet", "--metrics-listen", "0.0.0.0:9464"])
        .arg(&file)
        .output()
        .expect("run");
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(said.contains("loopback only"), "{said}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let o = sessionbench()
        .args(["run", "--quiet", "--metrics-listen", &addr.to_string()])
        .arg(&file)
        .output()
        .expect("run");
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(said.contains("cannot listen"), "{said}");
}
