//! What is wrong with a suite, located: every problem with its file, line, column and key,
//! and the structural pass that finds each misspelt key and wrong type, not just the first.

use std::fmt;

use toml_edit::Document;

use crate::suite::locate::{self, Seg};
use crate::suite::raw::SuiteRaw;

/// One problem in a suite file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The key path, e.g. `targets[1].expect.max-stale-reads`; empty for syntax errors.
    pub key: String,
    pub message: String,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: about the file as a whole (it cannot be read).
        match self.line {
            0 => write!(f, "{}: ", self.file)?,
            line => write!(f, "{}:{line}:{}: ", self.file, self.column)?,
        }
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a suite file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteErrors(pub Vec<SuiteError>);

impl fmt::Display for SuiteErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SuiteErrors {}

/// Most structural errors (unknown keys, wrong types) a file may report in one go.
pub(super) const MAX_STRUCTURAL_ERRORS: usize = 50;

/// Deserializes the suite, reporting every structural error rather than the first: each error
/// is recorded (located by its key path in the original file), its key removed from a copy of
/// the document, and deserialization tried again. What remains is what the checks then judge,
/// with defaults where keys were removed.
pub(super) fn deserialize_all(
    text: &str,
    file: &str,
    doc: &Document<&str>,
) -> (SuiteRaw, Vec<SuiteError>) {
    let mut errors = Vec::new();
    let mut copy: toml_edit::DocumentMut = match text.parse() {
        Ok(d) => d,
        Err(_) => return (SuiteRaw::default(), errors), // Syntax errors were reported already.
    };
    for _ in 0..MAX_STRUCTURAL_ERRORS {
        let current = copy.to_string();
        let attempt = toml_edit::de::Deserializer::parse(&current)
            .map_err(|e| (Vec::<Seg>::new(), first_line(e.message())))
            .and_then(|d| {
                serde_path_to_error::deserialize::<_, SuiteRaw>(d).map_err(|e| {
                    let path = segments(e.path());
                    (path, first_line(e.into_inner().message()))
                })
            });
        match attempt {
            Ok(raw) => return (raw, errors),
            Err((path, message)) => {
                // A misspelt key is fixed at the key; a wrong type or value at the value.
                let offset = if message.starts_with("unknown field") {
                    locate::offset(doc, &path)
                } else {
                    locate::value_offset(doc, &path)
                };
                let (line, column) = locate::line_col(text, offset);
                errors.push(SuiteError {
                    file: file.into(),
                    line,
                    column,
                    key: locate::render(&path),
                    message,
                });
                if path.is_empty() || !locate::remove(&mut copy, &path) {
                    break;
                }
            }
        }
    }
    (SuiteRaw::default(), errors)
}

pub(super) fn segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            _ => None,
        })
        .collect()
}

pub(super) fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}
