//! Shell commands and readiness probes that suites give: fault commands, and the commands
//! that start and stop an external target. A command runs under `sh -c` in a process group
//! of its own and is killed whole when it outlives its timeout; probes go to loopback only.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use hyper::Method;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::load::Client;
use crate::plan::Probe;
use crate::topology::StartError;

/// How much of a failed command's output its error keeps (the end of it).
const OUTPUT_KEPT: usize = 2_000;

/// `SESSIONBENCH`: this executable, so a suite's commands can start reference nodes and
/// balancers (`"$SESSIONBENCH" node …`).
pub fn harness_env() -> Vec<(String, String)> {
    std::env::current_exe()
        .map(|exe| vec![("SESSIONBENCH".to_string(), exe.display().to_string())])
        .unwrap_or_default()
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

/// Polls `probe` until it answers its status, up to `timeout`.
pub async fn ready(probe: &Probe, timeout: Duration) -> Result<(), StartError> {
    let deadline = tokio::time::Instant::now() + timeout;
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
            humantime::format_duration(timeout)
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
