//! `kind = "command"`: a fault that is a shell command, and its heal another, so the same
//! suite can kill a process, `docker kill`, `systemctl restart` or `kubectl delete pod`.
//! Each runs under `sh -c` in a process group of its own, is killed whole when it outlives
//! its timeout, and learns what it acts on from its environment. A readiness probe (a URL
//! on loopback and the status it must answer) may follow.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use hyper::Method;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::load::Client;
use crate::plan::{CommandPlan, FaultPlan};
use crate::topology::{StartError, Topology};

/// How much of a failed command's output its error keeps (the end of it).
const OUTPUT_KEPT: usize = 2_000;

/// Runs the fault's inject command; with no heal command, also waits for readiness.
pub async fn inject(
    fault: &FaultPlan,
    c: &CommandPlan,
    topology: &Topology,
) -> Result<(), StartError> {
    run("inject", &c.inject, &env(fault, topology), c.timeout).await?;
    if c.heal.is_none() {
        ready(c).await?;
    }
    Ok(())
}

/// Runs the heal command, then waits for readiness.
pub async fn heal(
    fault: &FaultPlan,
    c: &CommandPlan,
    topology: &Topology,
) -> Result<(), StartError> {
    if let Some(heal) = &c.heal {
        run("heal", heal, &env(fault, topology), c.timeout).await?;
    }
    ready(c).await
}

/// What a command learns of the fault: the run, the node it names and, for a node the harness
/// runs, its address and pid; the entry point (the LB, or the only node).
fn env(fault: &FaultPlan, topology: &Topology) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "SESSIONBENCH_TARGET".to_string(),
            topology.name().to_string(),
        ),
        ("SESSIONBENCH_NODE".into(), fault.node.clone()),
        ("SESSIONBENCH_ENTRY".into(), topology.entry().to_string()),
    ];
    if let Some(node) = topology.nodes.iter().find(|n| n.name == fault.node) {
        env.push(("SESSIONBENCH_NODE_ADDR".into(), node.addr().to_string()));
        if let Some(pid) = node.pid() {
            env.push(("SESSIONBENCH_NODE_PID".into(), pid.to_string()));
        }
    }
    env
}

/// `sh -c script`: Ok if it exits 0 within `timeout`; else an error with its status and the
/// end of its output.
pub async fn run(
    what: &str,
    script: &str,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<(), StartError> {
    let failed = |detail: String| StartError::Command {
        what: what.into(),
        script: script.into(),
        detail,
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot run sh: {e}")))?;
    let (mut out, mut err) = (
        child.stdout.take().expect("piped"),
        child.stderr.take().expect("piped"),
    );
    let collect = async {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let _ = tokio::join!(out.read_to_end(&mut a), err.read_to_end(&mut b));
        a.extend_from_slice(&b);
        a
    };
    let waited = tokio::time::timeout(timeout, async { tokio::join!(child.wait(), collect) }).await;
    match waited {
        Ok((Ok(status), output)) if status.success() => {
            let _ = output;
            Ok(())
        }
        Ok((status, output)) => {
            let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
            Err(failed(format!("{status}; output: {}", tail(&output))))
        }
        Err(_) => {
            // The whole group: a script's children (sleep, ssh, kubectl) go with it.
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.wait().await;
            Err(failed(format!(
                "still running after {}; killed",
                humantime::format_duration(timeout)
            )))
        }
    }
}

fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let text = text.trim();
    if text.is_empty() {
        return "(none)".into();
    }
    let start = text
        .char_indices()
        .rev()
        .nth(OUTPUT_KEPT)
        .map_or(0, |(i, _)| i);
    text[start..].replace('\n', " | ")
}

/// Polls the readiness URL until it answers the expected status, up to the timeout.
async fn ready(c: &CommandPlan) -> Result<(), StartError> {
    let Some(probe) = &c.ready else {
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + c.timeout;
    let mut last = String::from("no answer");
    while tokio::time::Instant::now() < deadline {
        let mut client = Client::new(IpAddr::from([127, 0, 0, 1]), probe.addr);
        let asked = tokio::time::timeout(
            Duration::from_secs(1),
            client.send(Method::GET, &probe.path, None),
        )
        .await;
        match asked {
            Ok(Ok(reply)) if reply.status.as_u16() == probe.status => return Ok(()),
            Ok(Ok(reply)) => last = format!("status {}", reply.status.as_u16()),
            Ok(Err(e)) => last = format!("{e:?}"),
            Err(_) => last = "no answer within 1s".into(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(StartError::Command {
        what: "readiness probe".into(),
        script: format!("GET http://{}{}", probe.addr, probe.path),
        detail: format!(
            "did not answer {} within {} (last: {last})",
            probe.status,
            humantime::format_duration(c.timeout)
        ),
    })
}

/// Parses `http://HOST:PORT/PATH` with HOST on loopback (traffic stays on this machine).
pub fn loopback_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = host
        .replace("localhost", "127.0.0.1")
        .parse()
        .map_err(|_| format!("`{host}` is not HOST:PORT with an IP address or localhost"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{} is not a loopback address", addr.ip()));
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok((addr, path.to_string()))
}
