//! `sessionbench history export RUN_DIR`: a run's history as JSON lines, for people's own
//! tools (jq, pandas, a spreadsheet).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit::{CliError, ExitCode};
use crate::history::jsonl;
use crate::run_dir::RunDir;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: HistoryCommand,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Write a run's history as JSON lines (one record per line, the fields of
    /// docs/reports.md) to standard output or a file. A history cut short by a crash is
    /// exported up to its last whole block.
    Export {
        /// A run directory made by `sessionbench run`.
        run_dir: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

pub fn run(a: HistoryArgs) -> Result<ExitCode, CliError> {
    let HistoryCommand::Export { run_dir, out } = a.command;
    let records = RunDir::open(&run_dir).history()?;
    let exported = match &out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(CliError::io(format!("cannot create {}", path.display())))?;
            jsonl::export(records, &mut std::io::BufWriter::new(file))
        }
        None => jsonl::export(records, &mut std::io::stdout().lock()),
    };
    match exported {
        Ok(_) => Ok(ExitCode::Ok),
        Err(jsonl::ExportError::Read(e)) => Err(CliError::BadRun(e.to_string())),
        // A closed pipe (`| head`) ends it as it ends every command's output.
        Err(jsonl::ExportError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            std::process::exit(super::stdout::CLOSED_PIPE)
        }
        Err(jsonl::ExportError::Write(e)) => Err(CliError::Io {
            what: "cannot write the export".into(),
            source: e,
        }),
    }
}
