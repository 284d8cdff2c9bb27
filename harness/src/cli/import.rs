//! `sessionbench import har FILE.har`: a suite written from a browser's recording.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::args::VarArgs;
use super::exit::{CliError, ExitCode};

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Write an external target's suite from a HAR file (a browser's recording: DevTools,
    /// Network, "Export HAR (with sensitive data)" in Chromium; "Save all as HAR" in
    /// Firefox) of signing in, using the app, and signing out. The session cookie, the
    /// login and its CSRF token, the reads, writes, counter and logout, and where answers
    /// show the user, the counter and a written value are inferred, each with a comment
    /// saying from what; other hosts, static assets and analytics are dropped and listed. A
    /// password becomes ${secret:LOGIN_PASSWORD}, the user {user} (a user per session), the
    /// URL ${TARGET_URL:-the recorded one}: nothing typed as a credential is written.
    Har(HarArgs),
}

#[derive(Debug, Args)]
struct HarArgs {
    /// The recording (HAR 1.2, JSON).
    har: PathBuf,
    /// Where to write the suite (default: the recording's name, .toml, in this directory).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Replace the file --out names if it exists.
    #[arg(long)]
    force: bool,
    /// The suite's and target's name (default: the recording's file name).
    #[arg(long)]
    name: Option<String>,
    /// Then probe the suite (as `validate --probe`): one user against the app for a few
    /// seconds, to confirm the login works, the user is shown and each check is fed.
    #[arg(long)]
    probe: bool,
    /// With --probe: the app may be on another host (as `run --allow-remote`).
    #[arg(long, requires = "probe")]
    allow_remote: bool,
    #[command(flatten)]
    vars: VarArgs,
}

pub fn run(a: ImportArgs) -> Result<ExitCode, CliError> {
    let What::Har(a) = a.what;
    let stem = a
        .har
        .file_stem()
        .map_or_else(|| "recorded".into(), |s| s.to_string_lossy().into_owned());
    let name = a.name.clone().unwrap_or_else(|| name_of(&stem));
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{stem}.toml")));
    if out.exists() && !a.force {
        return Err(CliError::Usage(format!(
            "{} exists: give another --out, or --force to replace it",
            out.display()
        )));
    }
    let imported = crate::import::har(&a.har, &name).map_err(CliError::Usage)?;
    std::fs::write(&out, imported.suite())
        .map_err(CliError::io(format!("cannot write {}", out.display())))?;
    eprintln!(
        "sessionbench: wrote {} (target `{name}` at {})",
        out.display(),
        imported.url
    );
    for var in imported.secrets() {
        eprintln!("sessionbench: it needs the secret {var} in the environment (${{secret:{var}}})");
    }
    if a.probe {
        return super::probe::probe(&out, false, a.allow_remote, &a.vars);
    }
    eprintln!(
        "sessionbench: read its comments, then: sessionbench validate --probe {}",
        out.display()
    );
    Ok(ExitCode::Ok)
}

/// A target name from a file name: lowercase letters, digits and `-`.
fn name_of(stem: &str) -> String {
    let name = sessionbench_common::names::slug(stem, '-');
    let name = name.trim_matches('-');
    if name.is_empty() {
        "recorded".into()
    } else {
        name.to_string()
    }
}
