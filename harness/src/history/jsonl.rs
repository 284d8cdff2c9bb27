//! Histories as JSON lines: what runs wrote before the compact file (still read), and what
//! `sessionbench history export` writes for people's own tools (jq, pandas, a spreadsheet).

use std::io::{BufRead, Write};

use super::{ReadError, Record};

/// Reads JSON lines a record at a time. A last line cut short by a crash ends the records:
/// everything before it is intact.
#[derive(Debug)]
pub struct Reader {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    file: String,
    line: usize,
    /// A line that did not parse as JSON ended early: it is an error only if another follows.
    held: Option<(usize, serde_json::Error)>,
    done: bool,
}

impl Reader {
    pub fn new(input: std::fs::File, file: String) -> Self {
        Self {
            lines: std::io::BufReader::new(input).lines(),
            file,
            line: 0,
            held: None,
            done: false,
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let Some(line) = self.lines.next() else {
                self.done = true;
                return None; // A held cut-short line was the last: dropped.
            };
            self.line += 1;
            let line = match line {
                Ok(line) => line,
                Err(source) => {
                    self.done = true;
                    return Some(Err(ReadError::Io {
                        file: self.file.clone(),
                        source,
                    }));
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            if let Some((at, e)) = self.held.take() {
                self.done = true;
                return Some(Err(self.bad(at, &e)));
            }
            match serde_json::from_str::<Record>(&line) {
                Ok(r) => return Some(Ok(r)),
                Err(e) if e.is_eof() => self.held = Some((self.line, e)),
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.bad(self.line, &e)));
                }
            }
        }
    }
}

impl Reader {
    fn bad(&self, line: usize, e: &serde_json::Error) -> ReadError {
        ReadError::Record {
            file: self.file.clone(),
            at: format!("line {line}"),
            detail: e.to_string(),
        }
    }
}

/// Writes `records` as JSON lines to `out`; returns how many.
pub fn export(
    records: impl Iterator<Item = Result<Record, ReadError>>,
    out: &mut impl Write,
) -> Result<u64, ExportError> {
    let mut n = 0;
    for record in records {
        serde_json::to_writer(&mut *out, &record?).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("cannot write: {0}")]
    Write(#[from] std::io::Error),
}
