//! `sessionbench exec [--user NAME] -- PROGRAM ARGS…` (hidden): becomes PROGRAM, keeping the
//! harness's request that the kernel kill it when the harness dies. The harness starts
//! programs it does not build (redis-server, Tomcat, the real balancers) through it, so even a
//! SIGKILL of the harness leaves none behind.

use std::os::unix::process::CommandExt;

use clap::Args;
use nix::unistd::{Uid, User};

use super::args;
use super::exit::CliError;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run as this user when started as root: the switch happens here, before the request to
    /// die with the harness, because the kernel forgets that request when a process changes
    /// its own user (as Apache does when it drops root).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(a: ExecArgs) -> Result<(), CliError> {
    if let Some(name) = a.user.as_deref().filter(|_| Uid::effective().is_root()) {
        become_user(name)?;
    }
    args::die_with_parent();
    let (program, rest) = a.command.split_first().expect("clap requires a program");
    // Only returns if the program could not be started.
    let e = std::process::Command::new(program).args(rest).exec();
    Err(CliError::Usage(format!("cannot run `{program}`: {e}")))
}

/// Drops root for `name`: its group only, then its user.
fn become_user(name: &str) -> Result<(), CliError> {
    let user = User::from_name(name)
        .ok()
        .flatten()
        .ok_or_else(|| CliError::Usage(format!("no user `{name}` on this system")))?;
    let failed = |what: &str, e: nix::Error| CliError::Usage(format!("cannot {what}: {e}"));
    nix::unistd::setgroups(&[user.gid]).map_err(|e| failed("set the groups", e))?;
    nix::unistd::setgid(user.gid).map_err(|e| failed("set the group", e))?;
    nix::unistd::setuid(user.uid).map_err(|e| failed(&format!("become `{name}`"), e))?;
    Ok(())
}
