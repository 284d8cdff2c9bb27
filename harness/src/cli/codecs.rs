//! `sessionbench codecs`: what each serialization format and compression costs per session
//! shape, and which survive a change of the session type.

use std::io::Write;

use clap::Args;

use super::args::OutputFormat;
use super::exit::CliError;
use crate::codecs::{SHAPES, measure};

#[derive(Debug, Args)]
pub struct CodecsArgs {
    /// Session shape: small (a login, ~200 B), medium (a 20-item cart, ~2.5 KB), large
    /// (cached search results, ~95 KB), node (the reference node's session), or all.
    #[arg(long, default_value = "all", value_parser = shape)]
    shape: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Timed batches per measurement; the median and quartiles are over these.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(3..=10_000))]
    samples: u32,
}

fn shape(s: &str) -> Result<String, String> {
    if s == "all" || SHAPES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown shape `{s}` (expected {} or all)",
            SHAPES.join(", ")
        ))
    }
}

pub fn run(a: CodecsArgs) -> Result<(), CliError> {
    let shapes: Vec<&str> = match a.shape.as_str() {
        "all" => SHAPES.to_vec(),
        one => vec![one],
    };
    let total = shapes.len() * sessionbench_targets::codec::FormatCodec::all().len();
    let mut done = 0;
    let report = measure(&shapes, a.samples, |what| {
        done += 1;
        eprint!("\rmeasuring {done}/{total}: {what:<28}");
        let _ = std::io::stderr().flush();
    });
    eprintln!();
    match a.format {
        OutputFormat::Table => say!("{}", sessionbench_reports::codecs_table(&report)),
        OutputFormat::Md => say!("{}", sessionbench_reports::codecs_markdown(&report)),
        OutputFormat::Json => sayln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        ),
    }
    Ok(())
}
