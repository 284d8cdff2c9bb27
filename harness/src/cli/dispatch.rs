//! The command line parsed and sent to its command; what each command exits with.

use super::ExitCode;
use super::{
    args, check, clean, codecs, compare, exec, history, import, k8s, lb, merge, node, proxy, run,
    schema, validate,
};

use clap::{Parser, Subcommand};

/// Measures how web tiers keep (or lose) user sessions under load and failure.
#[derive(Debug, Parser)]
#[command(name = "sessionbench", version, about, long_about = None)]
pub(super) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Run a suite: start each target, drive load and faults, check every session, report.
    Run(run::RunArgs),
    /// Check a suite and show what a run of it would do (runs, processes, faults), starting
    /// nothing. Exit 0, or 2 with every mistake named by file, line and key.
    Validate(validate::ValidateArgs),
    /// Re-check a stored run from its plan.json and history (writes results.json again).
    Check(check::CheckArgs),
    /// Work with a stored run's history: `history export RUN_DIR` writes it as JSON lines.
    History(history::HistoryArgs),
    /// Write a suite from a browser's recording of the app (`import har FILE.har`): the
    /// login, its token, reads, writes, counter, logout and what answers show, inferred.
    Import(import::ImportArgs),
    /// Print the JSON Schema of a run's plan.json, history records or results.json (what
    /// docs/schema/ publishes), for your own tools that read runs.
    Schema(schema::SchemaArgs),
    /// Print the report of a stored run (results.json) as a table, Markdown or JSON.
    Report(check::ReportArgs),
    /// Merge the run directories of a sharded run (`run --shard I/N`) into one run: one
    /// history, checked and reported as a single run's.
    Merge(merge::MergeArgs),
    /// Print Kubernetes manifests that run a suite's load from N pods (an Indexed Job of
    /// `run --shard I/N`) and merge their runs.
    K8s(k8s::K8sArgs),
    /// Compare two runs (results.json files or run directories): throughput and latency per
    /// run, improved / regressed / no change beyond noise. Exit 4 on a regression.
    Compare(compare::CompareArgs),
    /// Compare serialization formats and compressions on session shapes: sizes, encode and
    /// decode time, and which survive a field added, removed or renamed.
    Codecs(codecs::CodecsArgs),
    /// Remove what runs that were killed left behind: network namespaces, bridges and
    /// interfaces of `network = "netns"` runs, Apache's private directories. A run removes its
    /// own, even on Ctrl-C, and the next run sweeps a killed one's.
    Clean(clean::CleanArgs),
    /// Run a reference session node (the app server of every strategy).
    Node(Box<sessionbench_targets::spec::NodeSpec>),
    /// Run the reference load balancer in front of session nodes.
    Lb(sessionbench_targets::spec::LbSpec),
    /// Run a TCP fault proxy (latency, bandwidth, blackhole, reset, refuse) in front of one
    /// upstream.
    Proxy(proxy::ProxyArgs),
    /// Become another program, dying with the harness (how it starts redis-server).
    #[command(hide = true)]
    Exec(exec::ExecArgs),
}

/// Parses the command line, runs the subcommand and maps its result to an exit code.
pub fn main() -> std::process::ExitCode {
    if let Err(e) = args::enter_netns() {
        eprintln!("sessionbench: error: {e}");
        return ExitCode::Internal.into();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Check(args) => check::check(args),
        Command::History(args) => history::run(args),
        Command::Import(args) => import::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Report(args) => check::report(args).map(|()| ExitCode::Ok),
        Command::Merge(args) => merge::run(args),
        Command::K8s(args) => k8s::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Codecs(args) => codecs::run(args).map(|()| ExitCode::Ok),
        Command::Clean(args) => clean::run(args),
        Command::Node(args) => node::run(*args).map(|()| ExitCode::Ok),
        Command::Lb(args) => lb::run(args).map(|()| ExitCode::Ok),
        Command::Proxy(args) => proxy::run(args).map(|()| ExitCode::Ok),
        Command::Exec(args) => exec::run(args).map(|()| ExitCode::Ok),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("sessionbench: error: {e}");
            e.exit_code().into()
        }
    }
}
