//! `sessionbench schema FILE`: the JSON Schema of one of a run's files, for a user's own tools
//! that read runs (the same text `docs/schema/` publishes).

use clap::Args;

use super::exit::{CliError, ExitCode};
use sessionbench_model::schema::Contract;

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// `plan` (plan.json), `history` (one record of `history export`'s JSON lines) or
    /// `results` (results.json).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(Contract::ALL.map(Contract::name)))]
    file: String,
}

pub fn run(a: SchemaArgs) -> Result<ExitCode, CliError> {
    // The parser let through only the contracts' names.
    let contract = Contract::from_name(&a.file)
        .ok_or_else(|| CliError::Usage(format!("no schema for `{}`", a.file)))?;
    say!("{}", contract.text());
    Ok(ExitCode::Ok)
}
