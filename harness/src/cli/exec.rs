//! `sessionbench exec -- PROGRAM ARGS…` (hidden): becomes PROGRAM, keeping the harness's
//! request that the kernel kill it when the harness dies. The harness starts programs it does
//! not build (redis-server) through it, so even a SIGKILL of the harness leaves none behind.

use std::os::unix::process::CommandExt;

use clap::Args;

use super::args;
use super::exit::CliError;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(a: ExecArgs) -> Result<(), CliError> {
    args::die_with_parent();
    let (program, rest) = a.command.split_first().expect("clap requires a program");
    // Only returns if the program could not be started.
    let e = std::process::Command::new(program).args(rest).exec();
    Err(CliError::Usage(format!("cannot run `{program}`: {e}")))
}
