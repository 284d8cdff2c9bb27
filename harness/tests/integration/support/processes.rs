//! A harness run as a process the test owns: started until its processes are up, interrupted
//! as Ctrl-C does, killed, and what it leaves behind.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::runs::sessionbench;

/// Direct children of `pid`, from /proc.
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(") ")
                        .map(|(_, rest)| rest.split(' ').nth(1) == Some(&pid.to_string()))
                })
                .unwrap_or(false)
        })
        .collect()
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

/// A harness run started by a test: killed and reaped when dropped, even if the test panics.
pub struct RunGuard(pub std::process::Child);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `suite` and waits until its first target's `processes` are up and load is
/// recorded; returns the run and those children's pids.
pub fn start_run(suite: &str, processes: usize, out_dir: &Path) -> (RunGuard, Vec<u32>) {
    let run = RunGuard(
        sessionbench()
            .args(["run", suite, "--quiet", "--out"])
            .arg(out_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run"),
    );
    // JVMs take seconds each to start.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Read while it is written: up to the last whole block.
        let started = crate::support::try_history_text(out_dir).is_ok_and(|h| h.contains("\"op\""));
        let kids = children(run.0.id());
        if started && kids.len() >= processes {
            return (run, kids);
        }
        assert!(
            Instant::now() < deadline,
            "the run did not start its processes within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGINT, as Ctrl-C sends it; the run's exit code once it has stopped (within 20 s).
pub fn interrupt(run: &mut RunGuard) -> Option<i32> {
    let status = Command::new("kill")
        .args(["-s", "INT", &run.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let waited = Instant::now();
    loop {
        if let Some(s) = run.0.try_wait().expect("wait") {
            return s.code();
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the run did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn kill_and_expect_no_orphans(mut run: RunGuard, kids: &[u32]) {
    run.0.kill().expect("SIGKILL the harness");
    run.0.wait().expect("reap");
    let waited = Instant::now();
    while kids.iter().any(|p| alive(*p)) {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "orphans left: {:?}",
            kids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes whose command line mentions `needle` (the harness names its run directory in
/// every redis-server's `--dir`).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}
