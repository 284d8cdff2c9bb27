//! Turning a key path (`targets[1].expect.max-stale-reads`) into a line and column of the file.

use toml_edit::{ArrayOfTables, Document, Item, TableLike};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Renders a path as people write it: `targets[1].expect.max-stale-reads`.
pub fn render(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Byte offset of the deepest part of `path` present in `doc` (the key when there is one, so
/// the caret points at what to fix), or of the start of the file.
pub fn offset(doc: &Document<&str>, path: &[Seg]) -> usize {
    find(doc, path, false)
}

/// Like [`offset`], but the value's position when the whole path exists: where a wrong type
/// or value is to be fixed.
pub fn value_offset(doc: &Document<&str>, path: &[Seg]) -> usize {
    find(doc, path, true)
}

fn find(doc: &Document<&str>, path: &[Seg], value: bool) -> usize {
    let mut best = 0;
    let mut table: Option<&dyn TableLike> = Some(doc.as_table());
    let mut array: Option<&ArrayOfTables> = None;
    let mut inline: Option<&toml_edit::Array> = None;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                let Some((key, item)) = table.and_then(|t| t.get_key_value(k)) else {
                    break;
                };
                let span = if value {
                    item.span().or_else(|| key.span())
                } else {
                    key.span().or_else(|| item.span())
                };
                if let Some(span) = span {
                    best = span.start;
                }
                (table, array, inline) = match item {
                    Item::ArrayOfTables(a) => (None, Some(a), None),
                    Item::Value(toml_edit::Value::Array(a)) => (None, None, Some(a)),
                    other => (other.as_table_like(), None, None),
                };
            }
            Seg::Index(i) => {
                // An element of an array of tables, or of an array of inline tables.
                let element: Option<(&dyn TableLike, _)> = match (array, inline) {
                    (Some(a), _) => a.get(*i).map(|t| (t as &dyn TableLike, t.span())),
                    (_, Some(a)) => a
                        .get(*i)
                        .and_then(toml_edit::Value::as_inline_table)
                        .map(|t| (t as &dyn TableLike, t.span())),
                    _ => None,
                };
                let Some((t, span)) = element else {
                    break;
                };
                if let Some(span) = span {
                    best = span.start;
                }
                (table, array, inline) = (Some(t), None, None);
            }
        }
    }
    best
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Removes the key at `path` from `doc`; `false` if it is not there.
pub fn remove(doc: &mut toml_edit::DocumentMut, path: &[Seg]) -> bool {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return false;
    };
    table_mut(doc, parents).is_some_and(|t| t.remove(last).is_some())
}

/// A copy of the table at `path` in `doc` (the whole document for an empty path).
pub fn table(doc: &mut toml_edit::DocumentMut, path: &[Seg]) -> Option<toml_edit::Table> {
    let found = table_mut(doc, path)?;
    let mut table = toml_edit::Table::new();
    for (k, item) in found.iter() {
        table.insert(k, item.clone());
    }
    Some(table)
}

/// The table at `path`: through tables, arrays of tables and arrays of inline tables.
fn table_mut<'d>(
    doc: &'d mut toml_edit::DocumentMut,
    path: &[Seg],
) -> Option<&'d mut dyn TableLike> {
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    let mut i = 0;
    while i < path.len() {
        let Seg::Key(k) = &path[i] else {
            return None;
        };
        let item = table.get_mut(k)?;
        let index = match path.get(i + 1) {
            Some(Seg::Index(n)) => {
                i += 1;
                Some(*n)
            }
            _ => None,
        };
        table = match (item, index) {
            (Item::ArrayOfTables(a), Some(n)) => a.get_mut(n)?,
            (Item::Value(toml_edit::Value::Array(a)), Some(n)) => a
                .get_mut(n)
                .and_then(toml_edit::Value::as_inline_table_mut)?,
            (item, None) => item.as_table_like_mut()?,
            (_, Some(_)) => return None,
        };
        i += 1;
    }
    Some(table)
}
