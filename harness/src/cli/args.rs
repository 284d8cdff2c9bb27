//! Value parsers shared by the subcommands' arguments.

use std::net::SocketAddr;
use std::time::Duration;

use clap::ValueEnum;
use tokio::net::TcpListener;

use super::exit::CliError;

/// How a command prints what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tables for a terminal.
    Table,
    /// Markdown (a pull-request comment, a CI job summary).
    Md,
    /// JSON, for tools.
    Json,
}

/// `30s`, `500ms`, `30m`: humantime durations, as in suite files.
pub fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 500ms, 30s or 30m: {e}"))
}

/// Node ids double as cookie routes and header values.
pub fn node_id(s: &str) -> Result<String, String> {
    if sessionbench_targets::app::is_node_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` must be 1 to 64 of A-Z a-z 0-9 `-` `_`"))
    }
}

/// Cookie names: an RFC 6265 token, kept to the characters every stack accepts.
pub fn cookie_name(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a cookie name (1 to 64 of A-Z a-z 0-9 `-` `_`)"
        ))
    }
}

/// Binds `addr` (port 0 picks one) and returns the listener with the address it got.
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), CliError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(CliError::io(format!("cannot listen on {addr}")))?;
    let bound = listener.local_addr().map_err(CliError::io(format!(
        "cannot read the address bound for {addr}"
    )))?;
    Ok((listener, bound))
}

/// In a child started by the harness: ask the kernel to SIGKILL this process when the harness
/// dies, so even a SIGKILLed harness leaves no node behind.
pub fn die_with_parent() {
    if std::env::var_os(crate::topology::PARENT_DEATH_ENV).is_some() {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Builds the tokio runtime for a long-running subcommand.
pub fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n);
    }
    builder.enable_all().build()
}

/// Waits for SIGTERM/SIGINT and says which, so logs show why a process ended.
pub async fn until_signal(who: String) {
    match sessionbench_targets::shutdown::terminate_signal().await {
        Ok(signal) => eprintln!("{who}: {signal} received, draining"),
        Err(e) => {
            eprintln!("{who}: cannot listen for signals ({e}); running until killed");
            std::future::pending::<()>().await;
        }
    }
}
