//! `sessionbench clean`: removes what runs that were killed (SIGKILL, a lost machine) left
//! behind. A run removes its own on its way out, even on error or Ctrl-C, and the next run
//! sweeps a killed one's; this is for when no next run comes.

use super::exit::{CliError, ExitCode};
use crate::topology::netns;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {}

pub fn run(_: CleanArgs) -> Result<ExitCode, CliError> {
    let swept = netns::sweep();
    let mut removed = swept.removed;
    let apache = crate::topology::sweep_private_dirs();
    removed.extend(apache.removed);
    for r in &removed {
        sayln!("removed {r}");
    }
    for (pid, dir) in &apache.kept {
        sayln!("kept {dir} (Apache's files) of run {pid}, which still runs");
    }
    for (pid, (namespaces, interfaces)) in &swept.kept {
        sayln!(
            "kept {} and {} of run {pid}, which still runs",
            count(*namespaces, "namespace"),
            count(*interfaces, "interface")
        );
    }
    if removed.is_empty() && swept.kept.is_empty() && apache.kept.is_empty() {
        sayln!("nothing left behind by a run that no longer runs");
    }
    Ok(ExitCode::Ok)
}

fn count(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}
