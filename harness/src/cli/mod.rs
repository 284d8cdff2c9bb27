//! Command-line interface: parsing, dispatch, and exit codes.

mod args;
mod exit;
mod lb;
mod node;

pub use exit::ExitCode;

use clap::{Parser, Subcommand};

/// Measures how web tiers keep (or lose) user sessions under load and failure.
#[derive(Debug, Parser)]
#[command(name = "sessionbench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a reference session node (the app server of every strategy).
    Node(node::NodeArgs),
    /// Run the reference load balancer in front of session nodes.
    Lb(lb::LbArgs),
}

/// Parses the command line, runs the subcommand and maps its result to an exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Node(args) => node::run(args),
        Command::Lb(args) => lb::run(args),
    };
    match result {
        Ok(()) => ExitCode::Ok.into(),
        Err(e) => {
            eprintln!("sessionbench: error: {e}");
            e.exit_code().into()
        }
    }
}
