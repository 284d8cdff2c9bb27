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
                (table, array) = match item {
                    Item::ArrayOfTables(a) => (None, Some(a)),
                    other => (other.as_table_like(), None),
                };
            }
            Seg::Index(i) => {
                let Some(t) = array.and_then(|a| a.get(*i)) else {
                    break;
                };
                if let Some(span) = t.span() {
                    best = span.start;
                }
                (table, array) = (Some(t as &dyn TableLike), None);
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
    let Some((Seg::Key(last), parents)) = path.split_last().map(|(l, p)| (l.clone(), p)) else {
        return false;
    };
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    let mut i = 0;
    while i < parents.len() {
        let Seg::Key(k) = &parents[i] else {
            return false;
        };
        let Some(item) = table.get_mut(k) else {
            return false;
        };
        table = match (item, parents.get(i + 1)) {
            (Item::ArrayOfTables(a), Some(Seg::Index(n))) => {
                i += 1;
                match a.get_mut(*n) {
                    Some(t) => t,
                    None => return false,
                }
            }
            (item, _) => match item.as_table_like_mut() {
                Some(t) => t,
                None => return false,
            },
        };
        i += 1;
    }
    table.remove(&last).is_some()
}
