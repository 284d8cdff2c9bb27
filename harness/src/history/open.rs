//! Opening a history: its records' types are the model's ([`sessionbench_model::history`]).

use super::{file, jsonl};

use std::path::Path;

use sessionbench_model::history::{FORMAT_VERSION, OLDEST_READABLE, Record};
#[cfg(test)]
use sessionbench_model::history::{Op, OpKind, Outcome};

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// `at` names the line, or the record and its block.
    #[error("{file}: {at}: not a history record: {detail}")]
    Record {
        file: String,
        at: String,
        detail: String,
    },
    #[error(
        "{file}: history format version {found} is not supported (this build reads {OLDEST_READABLE} to {FORMAT_VERSION})"
    )]
    Version { file: String, found: u32 },
    #[error("{file}: the first record is not a history header")]
    NoHeader { file: String },
}

/// A history's records, read one at a time: memory does not grow with the file.
pub type Records = Box<dyn Iterator<Item = Result<Record, ReadError>>>;

/// Opens a history written by any version this build reads, compact or JSON lines (told
/// apart by the compact file's magic bytes), and checks its header.
pub fn open(path: &Path) -> Result<Records, ReadError> {
    let shown = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|source| ReadError::Io {
        file: shown.clone(),
        source,
    })?;
    let compact = file::is_compact(&mut f).map_err(|source| ReadError::Io {
        file: shown.clone(),
        source,
    })?;
    let mut records: Records = if compact {
        Box::new(file::Reader::new(f, shown.clone()))
    } else {
        Box::new(jsonl::Reader::new(f, shown.clone()))
    };
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(e),
        None => return Err(ReadError::NoHeader { file: shown }),
    };
    match header {
        Record::Header { format_version, .. }
            if (OLDEST_READABLE..=FORMAT_VERSION).contains(&format_version) =>
        {
            Ok(Box::new(std::iter::once(Ok(header)).chain(records)))
        }
        Record::Header { format_version, .. } => Err(ReadError::Version {
            file: shown,
            found: format_version,
        }),
        _ => Err(ReadError::NoHeader { file: shown }),
    }
}

/// A read of `session` on target `t` (times in µs), answered 200 if `outcome` is ok:
/// what the analysis tests build histories from.
#[cfg(test)]
pub fn test_read(session: &str, times_us: (u64, u64, u64), outcome: Outcome) -> Op {
    let (intended_us, start_us, end_us) = times_us;
    Op {
        target: "t".into(),
        session: session.into(),
        kind: OpKind::Read,
        attr: None,
        write: None,
        intended_us,
        start_us,
        end_us,
        status: (outcome == Outcome::Ok).then_some(200),
        node: None,
        outcome,
        error: None,
        view: None,
        cookies_changed: false,
        location: None,
    }
}
