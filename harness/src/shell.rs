//! Shell commands and readiness probes that suites give: fault commands, and the commands
//! that start and stop an external target. A command runs under `sh -c` in a process group
//! of its own and is killed whole when it outlives its timeout; probes go where validation
//! allowed (loopback, unless the suite made a target remote), with the target's TLS.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::load::{Client, Endpoint, SendFailure};
use sessionbench_common::secret;
use sessionbench_model::plan::{Probe, TlsPlan};

/// A command that failed, timed out or could not run, or a probe that never answered.
#[derive(Debug, thiserror::Error)]
#[error("{what} command `{script}` failed: {detail}")]
pub struct CommandError {
    pub what: String,
    pub script: String,
    pub detail: String,
}

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
) -> Result<(), CommandError> {
    let failed = |detail: String| CommandError {
        what: what.into(),
        script: script.into(),
        detail,
    };
    let shell_script = with_secrets(script);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&shell_script)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot run sh: {e}")))?;
    // The group's id, kept now: once the shell is reaped its pid is gone, but a background
    // child may still be in the group.
    let group = child.id().and_then(|p| i32::try_from(p).ok());
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
    let began = std::time::SystemTime::now();
    let waited = tokio::time::timeout(timeout, async { tokio::join!(child.wait(), collect) }).await;
    match waited {
        Ok((status, output)) => {
            let output = secret::redact(&String::from_utf8_lossy(&output)).into_bytes();
            let shown = status
                .as_ref()
                .map_or_else(ToString::to_string, ToString::to_string);
            keep_output(env, what, script, began, &shown, &output);
            if status.is_ok_and(|s| s.success()) {
                Ok(())
            } else {
                Err(failed(format!("{shown}; output: {}", tail(&output))))
            }
        }
        Err(_) => {
            // The whole group: a script's children (sleep, ssh, kubectl) go with it.
            if let Some(group) = group {
                let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            }
            let _ = child.wait().await;
            Err(failed(format!(
                "still running after {}; killed (or something it started in the background \
                 still holds its output: redirect that to a file)",
                humantime::format_duration(timeout)
            )))
        }
    }
}

/// The script as the shell runs it, each `${secret:NAME}` as the shell's own `${NAME}` (from
/// the environment it inherits, so the value is in no argument of the shell). What any
/// command prints is cleaned of every secret read ([`secret::redact`]).
fn with_secrets(script: &str) -> String {
    let mut shell = String::with_capacity(script.len());
    let mut from = 0;
    for (range, name) in secret::references(script) {
        shell.push_str(&script[from..range.start]);
        shell.push_str(&format!("${{{name}}}"));
        // Read, so its value is among those redacted.
        let _ = secret::referenced(name);
        from = range.end;
    }
    shell.push_str(&script[from..]);
    shell
}

/// Appends what a command printed, whether it worked or not, to `commands.log` in the
/// directory its environment gives it (`SESSIONBENCH_DIR`, the target's log folder): a
/// command that "worked" but did something else shows there.
fn keep_output(
    env: &[(String, String)],
    what: &str,
    script: &str,
    began: std::time::SystemTime,
    status: &str,
    output: &[u8],
) {
    use std::io::Write;
    let Some((_, dir)) = env.iter().find(|(k, _)| k == "SESSIONBENCH_DIR") else {
        return;
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::path::Path::new(dir).join("commands.log"));
    if let Ok(mut file) = file {
        // To the millisecond: nanoseconds would only be noise.
        let took = began.elapsed().unwrap_or_default();
        let took = Duration::from_millis(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
        let _ = write!(
            file,
            "== {what} at {}: {script}\n{}-- {status}, after {}\n\n",
            humantime::format_rfc3339_millis(began),
            String::from_utf8_lossy(output),
            humantime::format_duration(took),
        );
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

/// Polls `probe` until it answers its status, up to `timeout`; `https://` with `tls`.
pub async fn ready(
    probe: &Probe,
    tls: Option<&TlsPlan>,
    timeout: Duration,
) -> Result<(), CommandError> {
    let failed = |detail: String| CommandError {
        what: "readiness probe".into(),
        script: format!("GET {}", probe.url.show(&probe.url.path)),
        detail,
    };
    let endpoint = Arc::new(Endpoint::new(&probe.url, tls).map_err(failed)?);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::from("no answer");
    while tokio::time::Instant::now() < deadline {
        let mut client = Client::for_user(endpoint.clone(), 0);
        let asked = tokio::time::timeout(
            Duration::from_secs(1),
            client.send(Method::GET, &probe.url.path, None),
        )
        .await;
        match asked {
            Ok(Ok(reply)) if reply.status.as_u16() == probe.status => return Ok(()),
            Ok(Ok(reply)) => last = format!("status {}", reply.status.as_u16()),
            // A certificate not trusted stays so: say it now, not after the timeout.
            Ok(Err(SendFailure::Tls(why))) => return Err(failed(why)),
            Ok(Err(e)) => last = format!("{e:?}"),
            Err(_) => last = "no answer within 1s".into(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(failed(format!(
        "did not answer {} within {} (last: {last})",
        probe.status,
        humantime::format_duration(timeout)
    )))
}

/// Whether `program` is a file in a directory of PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(e: CommandError) -> String {
        e.detail
    }

    /// What a command prints is kept in its target's log folder, success or not.
    #[tokio::test]
    async fn every_command_s_output_is_kept_in_commands_log() {
        let dir = std::env::temp_dir().join(format!("sessionbench-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let env = [("SESSIONBENCH_DIR".to_string(), dir.display().to_string())];
        let t = Duration::from_secs(5);
        run("start", "echo started web2", &env, t)
            .await
            .expect("exit 0");
        let _ = run("inject", "echo no such container >&2; exit 1", &env, t).await;
        let log = std::fs::read_to_string(dir.join("commands.log")).expect("the log");
        assert!(log.contains("== start at "), "{log}");
        assert!(
            log.contains(": echo started web2\nstarted web2\n-- exit status: 0"),
            "{log}"
        );
        assert!(
            log.contains("no such container\n-- exit status: 1"),
            "{log}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// `${secret:NAME}` reaches the shell as its own `${NAME}`: the value is in no argument,
    /// and what any command prints shows it as `***`. (PATH stands for a secret: the
    /// workspace forbids `unsafe`, so no test sets a variable.)
    #[tokio::test]
    async fn a_secret_reaches_a_command_through_its_environment_only() {
        let path = std::env::var("PATH").expect("PATH");
        let script = "test \"${secret:PATH}\" = \"$PATH\" || exit 9; \
                      tr '\\0' ' ' < /proc/$$/cmdline | grep -qF -- \"$PATH\" && exit 8; \
                      echo \"got ${secret:PATH}\"; exit 3";
        let failed = detail(
            run("inject", script, &[], Duration::from_secs(5))
                .await
                .expect_err("exit 3"),
        );
        assert!(failed.contains("exit status: 3"), "{failed}");
        assert!(failed.contains("got ***"), "{failed}");
        assert!(!failed.contains(&path), "{failed}");
        // Once read, a secret is cleaned from every command's output, not only its own.
        let other = detail(
            run(
                "stop",
                "echo \"env: $PATH\"; exit 4",
                &[],
                Duration::from_secs(5),
            )
            .await
            .expect_err("exit 4"),
        );
        assert!(
            other.contains("env: ***") && !other.contains(&path),
            "{other}"
        );
    }

    #[tokio::test]
    async fn a_command_passes_fails_with_its_output_or_is_killed_whole_on_timeout() {
        let env = [("WHO".to_string(), "node2".to_string())];
        let t = Duration::from_secs(5);
        run("inject", "test \"$WHO\" = node2", &env, t)
            .await
            .expect("exit 0 passes");
        let failed = detail(
            run("inject", "echo one; echo two >&2; exit 7", &env, t)
                .await
                .expect_err("exit 7 fails"),
        );
        assert!(failed.contains("exit status: 7"), "{failed}");
        assert!(
            failed.contains("one | two") || failed.contains("two | one"),
            "{failed}"
        );

        // The shell ends at once, but what it left running holds the output: both are killed.
        let dir = std::env::temp_dir().join(format!("sessionbench-shell-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let pid_file = dir.join("pid");
        let script = format!("sleep 30 & echo $! > {}", pid_file.display());
        let hung = detail(
            run("start", &script, &env, Duration::from_millis(500))
                .await
                .expect_err("times out"),
        );
        assert!(
            hung.starts_with("still running after 500ms; killed"),
            "{hung}"
        );
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("pid")
            .trim()
            .parse()
            .expect("a pid");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = state
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X");
        assert!(!alive, "the background sleep was killed: {state}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
