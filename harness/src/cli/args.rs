//! Value parsers shared by the subcommands' arguments.

use std::net::SocketAddr;

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

pub use sessionbench_targets::spec::{duration, node_id};

/// `--var NAME=VALUE`: what a suite's `${NAME}` stands for.
#[derive(Debug, Clone, clap::Args)]
pub struct VarArgs {
    /// Fill the suite's `${NAME}` (or `${NAME:-default}`) with VALUE, before the environment's
    /// NAME; repeat for more. A secret, `${secret:NAME}`, comes from the environment only: an
    /// argument shows in the process list.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = crate::suite::parse_var)]
    vars: Vec<(String, String)>,
}

/// `--wide`: a terminal's tables with every column.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WideArg {
    /// Print every column of the tables (ok, indeterminate, p90, p99.9), however wide they
    /// get; by default they fit 120 columns (report.md and report.html hold every column).
    #[arg(long)]
    pub wide: bool,
}

impl VarArgs {
    pub fn map(&self) -> std::collections::BTreeMap<String, String> {
        self.vars.iter().cloned().collect()
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

/// In a child the harness places in a network namespace (`network = "netns"`): enters it
/// before anything else (arguments are checked against its addresses, and every thread and
/// socket this process makes must be there).
pub fn enter_netns() -> Result<(), String> {
    let Some(path) = std::env::var_os(crate::topology::NETNS_ENV) else {
        return Ok(());
    };
    let shown = std::path::Path::new(&path).display().to_string();
    let file = std::fs::File::open(&path).map_err(|e| format!("{shown}: {e}"))?;
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot enter the network namespace {shown}: {e}"))
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
