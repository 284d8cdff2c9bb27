//! `sessionbench clean`: removes what runs that were killed (SIGKILL, a lost machine) left
//! behind. A run removes its own on its way out, even on error or Ctrl-C, and the next run
//! sweeps a killed one's; this is for when no next run comes.

use super::exit::{CliError, ExitCode};
use crate::topology::netns;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {}

pub fn run(_: CleanArgs) -> Result<ExitCode, CliError> {
    let mut removed = netns::sweep();
    removed.extend(crate::topology::sweep_private_dirs());
    if removed.is_empty() {
        println!("nothing left behind by a run that no longer runs");
    } else {
        for r in &removed {
            println!("removed {r}");
        }
    }
    Ok(ExitCode::Ok)
}
