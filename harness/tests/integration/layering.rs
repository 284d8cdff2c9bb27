//! The code's shape, checked so it stays: no import cycle between modules in any crate, suite
//! validation that reads plans and not the runtime, and no source file over 600 lines outside
//! tests.
//!
//! Edges come from `crate::`, `super::` and `self::` paths (in `use` lines and inline), with
//! comments, strings and `#[cfg(test)]` items left out. A path is charged to the longest module
//! prefix it names; an edge joins the two siblings under the deepest common ancestor of the
//! module that writes the path and the module it names, so a parent reading its child is not
//! an edge. A name a module takes from a child (`use child::Name`, `pub use child::*`) is
//! charged to that child, so siblings cannot hide an import of each other behind their parent;
//! a file its parent re-exports whole (`pub use body::*`, the `mod.rs` convention) counts as
//! the parent itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &["common", "model", "harness", "targets", "reports"];
const MAX_LINES: usize = 600;
/// Suite validation depends on the plan types only: these runtime modules are out of its reach.
const RUNTIME: &[&str] = &["load", "faults", "shell", "topology", "driver"];

type Module = Vec<String>;

struct SourceFile {
    path: PathBuf,
    module: Module,
    /// The text with comments, literals and test-only items blanked out.
    code: String,
    /// Lines before the first `#[cfg(test)]` item.
    lines_outside_tests: usize,
}

#[test]
fn no_module_imports_form_a_cycle() {
    let mut problems = Vec::new();
    for krate in CRATES {
        let files = sources(krate);
        let modules: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
        let layout = Layout::of(&files, &modules);
        let mut edges: BTreeMap<(Module, Module), BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            for path in paths_in(&file.code) {
                if let Some((from, to)) = layout.sibling_edge(&file.module, &path) {
                    edges.entry((from, to)).or_default().insert(format!(
                        "{}: {}",
                        rel(&file.path),
                        path.join("::")
                    ));
                }
            }
        }
        for cycle in cycles(&edges) {
            let mut text = format!(
                "{krate}: modules import each other: {}",
                cycle.iter().map(show).collect::<Vec<_>>().join(" → ")
            );
            for pair in cycle.windows(2).chain(std::iter::once(
                &[cycle[cycle.len() - 1].clone(), cycle[0].clone()][..],
            )) {
                if let Some(wheres) = edges.get(&(pair[0].clone(), pair[1].clone())) {
                    for w in wheres.iter().take(3) {
                        text.push_str(&format!("\n    {w}"));
                    }
                }
            }
            problems.push(text);
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn suite_validation_reads_plans_not_the_runtime() {
    let files = sources("harness");
    let modules: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
    let mut problems = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.module.first().is_some_and(|m| m == "suite"))
    {
        for path in paths_in(&file.code) {
            let target = resolve(&file.module, &path).and_then(|p| longest_module(&p, &modules));
            if let Some(target) =
                target.filter(|t| t.first().is_some_and(|m| RUNTIME.contains(&m.as_str())))
            {
                problems.push(format!(
                    "{} uses {} (module {})",
                    rel(&file.path),
                    path.join("::"),
                    show(&target)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "suite/ reaches into the runtime:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_source_file_is_over_600_lines_outside_its_tests() {
    let long: Vec<String> = CRATES
        .iter()
        .flat_map(|k| sources(k))
        .filter(|f| f.lines_outside_tests > MAX_LINES)
        .map(|f| format!("{}: {} lines", rel(&f.path), f.lines_outside_tests))
        .collect();
    assert!(
        long.is_empty(),
        "split these by role (tests excluded):\n{}",
        long.join("\n")
    );
}

/// CI runs nextest, which does not run doc tests: a Rust block in a doc comment would be an
/// example nobody runs. Examples are unit tests; blocks in docs name their language.
#[test]
fn doc_comments_hold_no_doc_tests() {
    let mut found = Vec::new();
    for krate in CRATES {
        for file in sources(krate) {
            let text = std::fs::read_to_string(&file.path).expect("source");
            let mut open = false;
            for (i, line) in text.lines().enumerate() {
                let doc = line.trim_start();
                let Some(rest) = doc.strip_prefix("///").or_else(|| doc.strip_prefix("//!")) else {
                    continue;
                };
                let Some(info) = rest.trim().strip_prefix("```") else {
                    continue;
                };
                if !open && !matches!(info, "text" | "toml" | "json" | "sh" | "console") {
                    found.push(format!("{}:{}: ```{info}", rel(&file.path), i + 1));
                }
                open = !open;
            }
        }
    }
    assert!(
        found.is_empty(),
        "doc tests would not run; make them unit tests or mark the block `text`:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle_and_ignores_parents_and_comments() {
    let modules: BTreeSet<Module> = [
        vec![],
        m("load"),
        m("load::api"),
        m("load::protocol"),
        m("suite"),
    ]
    .into_iter()
    .collect();
    let code = blank(
        "use crate::load::{api::Api, protocol};\n// use crate::suite;\nlet s = \"crate::suite\";\nsuper::x();",
    );
    let paths = paths_in(&code);
    assert_eq!(
        paths,
        vec![
            m("crate::load::api::Api"),
            m("crate::load::protocol"),
            m("super::x")
        ]
    );
    let layout = Layout {
        modules: modules.clone(),
        ..Layout::default()
    };
    let edge = |from: &str, p: &str| layout.sibling_edge(&m(from), &m(p));
    assert_eq!(
        edge("load::api", "crate::load::protocol::outcome"),
        Some((m("load::api"), m("load::protocol")))
    );
    assert_eq!(
        edge("load::api", "super::protocol"),
        Some((m("load::api"), m("load::protocol")))
    );
    assert_eq!(
        edge("suite", "crate::load::api::Api"),
        Some((m("suite"), m("load")))
    );
    assert_eq!(
        edge("load::api", "super::Thing"),
        None,
        "a child reading its parent"
    );
    assert_eq!(
        edge("load", "self::api::Api"),
        None,
        "a parent reading its child"
    );
    // `load` re-exports `api` whole (its own body) and takes `Call` from `protocol`.
    let mut with_store = modules.clone();
    with_store.insert(m("load::store"));
    let file = |path: &str, module: &str, code: &str| SourceFile {
        path: PathBuf::from(path),
        module: m(module),
        code: blank(code),
        lines_outside_tests: 1,
    };
    let reexporting = Layout::of(
        &[
            file(
                "load/mod.rs",
                "load",
                "mod api;\nmod protocol;\nmod store;\npub use api::*;\nuse protocol::Call;\n",
            ),
            file("load/api.rs", "load::api", "pub struct Api;\n"),
        ],
        &with_store,
    );
    assert_eq!(
        reexporting.sibling_edge(&m("load::store"), &m("super::Call")),
        Some((m("load::store"), m("load::protocol"))),
        "a name the parent takes from a child is that child's"
    );
    assert_eq!(
        reexporting.sibling_edge(&m("load::protocol"), &m("super::Api")),
        None,
        "a name the parent's own body defines is the parent's"
    );
    assert_eq!(
        reexporting.sibling_edge(&m("load::api"), &m("super::Call")),
        None,
        "the parent's own body reading its child"
    );
    let mut edges = BTreeMap::new();
    edges.insert((m("a"), m("b")), BTreeSet::new());
    edges.insert((m("b"), m("c")), BTreeSet::new());
    assert!(cycles(&edges).is_empty());
    edges.insert((m("c"), m("a")), BTreeSet::new());
    assert_eq!(cycles(&edges), vec![vec![m("a"), m("b"), m("c")]]);
    let tested = blank("fn f() {}\n#[cfg(test)]\nmod tests {\n use crate::suite;\n}\n");
    assert!(
        paths_in(&tested).is_empty(),
        "test modules are not part of the graph"
    );
}

fn m(path: &str) -> Module {
    if path.is_empty() {
        Vec::new()
    } else {
        path.split("::").map(String::from).collect()
    }
}

fn show(module: &Module) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

fn rel(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The crate's source files with their module paths; `tests.rs` files are test-only.
fn sources(krate: &str) -> Vec<SourceFile> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs")
                || path
                    .file_stem()
                    .is_some_and(|s| s == "tests" || s == "main")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut module: Module = path
                .strip_prefix(&src)
                .expect("under src")
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                module.pop();
            }
            let code = blank(&text);
            let lines_outside_tests =
                first_test_item_line(&text).unwrap_or_else(|| text.lines().count());
            files.push(SourceFile {
                path,
                module,
                code,
                lines_outside_tests,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The line index of the first `#[cfg(test)]` that opens a module block (inline tests sit at the
/// end of a file by convention here).
fn first_test_item_line(text: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    (0..lines.len()).find(|&i| {
        lines[i].trim() == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|n| n.trim_start().starts_with("mod ") && n.trim_end().ends_with('{'))
    })
}

/// Blanks comments, string and char literals, and every item under `#[cfg(test)]`, keeping
/// the code's other characters.
fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += 2 + hashes;
            while i < chars.len()
                && !(chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes)
            {
                i += 1;
            }
            i += 1 + hashes;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    without_test_items(&out)
}

/// Drops each item that follows `#[cfg(test)]`: up to its `;`, or its balanced `{ … }`.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let end = match (item.find(';'), item.find('{')) {
            (Some(semi), Some(brace)) if semi < brace => semi + 1,
            (Some(semi), None) => semi + 1,
            (_, Some(brace)) => {
                let mut depth = 0;
                let mut end = item.len();
                for (i, ch) in item[brace..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = brace + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, None) => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Every `crate::`/`super::`/`self::` path: `use` trees expanded, inline paths as written.
fn paths_in(code: &str) -> Vec<Module> {
    let mut paths = Vec::new();
    let mut rest = code;
    loop {
        let next_use = find_word(rest, "use");
        let upto = next_use.unwrap_or(rest.len());
        paths.extend(inline_paths(&rest[..upto]));
        let Some(at) = next_use else { break };
        let tree_and_rest = &rest[at + 3..];
        let end = tree_and_rest.find(';').unwrap_or(tree_and_rest.len());
        let tree = tree_and_rest[..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for path in expand(&tree) {
            if matches!(
                path.first().map(String::as_str),
                Some("crate" | "super" | "self")
            ) {
                paths.push(path);
            }
        }
        rest = &tree_and_rest[(end + 1).min(tree_and_rest.len())..];
    }
    paths
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(pos) = text[from..].find(word) {
        let at = from + pos;
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + word.len()).copied();
        if !before.is_some_and(ident) && after.is_some_and(|b| b.is_ascii_whitespace()) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

fn inline_paths(code: &str) -> Vec<Module> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if ident(bytes[i]) && (i == 0 || !(ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            let mut j = i;
            let mut segments = Vec::new();
            loop {
                let start = j;
                while j < bytes.len() && ident(bytes[j]) {
                    j += 1;
                }
                segments.push(code[start..j].to_string());
                if code[j..].starts_with("::") && bytes.get(j + 2).is_some_and(|&b| ident(b)) {
                    j += 2;
                } else {
                    break;
                }
            }
            if segments.len() > 1 && matches!(segments[0].as_str(), "crate" | "super" | "self") {
                paths.push(segments);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    paths
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`; `self` in a group names the group's path.
fn expand(tree: &str) -> Vec<Module> {
    let tree = tree.trim().trim_start_matches("::");
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        let mut segments: Module = path
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*")
            .map(String::from)
            .collect();
        if segments.last().is_some_and(|s| s == "self") && segments.len() > 1 {
            segments.pop();
        }
        return vec![segments];
    };
    let prefix = tree[..open].trim().trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}::{p}")))
        .collect()
}

/// The path made absolute from the module that writes it; `None` for paths outside the crate.
fn resolve(from: &Module, path: &Module) -> Option<Module> {
    let mut base = from.clone();
    let mut segments = path.iter().peekable();
    match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            base.clear();
            segments.next();
        }
        Some("self") => {
            segments.next();
        }
        Some("super") => {
            while segments.peek().is_some_and(|s| *s == "super") {
                base.pop()?;
                segments.next();
            }
        }
        _ => return None,
    }
    base.extend(segments.cloned());
    Some(base)
}

fn longest_module(path: &Module, modules: &BTreeSet<Module>) -> Option<Module> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// How a crate's modules hang together beyond their paths: which files are their parent's
/// own body, and which names a module takes from which child.
#[derive(Default)]
struct Layout {
    modules: BTreeSet<Module>,
    /// Files the parent re-exports whole: each counts as its parent.
    bodies: BTreeSet<Module>,
    /// For a module, each name it takes from a child, and that child.
    taken: BTreeMap<Module, BTreeMap<String, Module>>,
}

impl Layout {
    fn of(files: &[SourceFile], modules: &BTreeSet<Module>) -> Self {
        let defined: BTreeMap<&Module, BTreeSet<String>> = files
            .iter()
            .map(|f| (&f.module, defined_names(&f.code)))
            .collect();
        let mut layout = Layout {
            modules: modules.clone(),
            ..Layout::default()
        };
        for f in files {
            for tree in use_trees(&f.code) {
                let glob = tree.trim_end().ends_with('*');
                for path in expand(&tree) {
                    let path: Module = path.into_iter().skip_while(|s| s == "self").collect();
                    let mut child = f.module.clone();
                    child.extend(path.first().cloned());
                    if path.is_empty() || !modules.contains(&child) {
                        continue;
                    }
                    let mut full = f.module.clone();
                    full.extend(path.iter().cloned());
                    if glob && modules.contains(&full) {
                        layout.bodies.insert(full.clone());
                        for name in defined.get(&full).into_iter().flatten() {
                            layout.take(&f.module, name, &full);
                        }
                    } else if let Some(name) = full.pop() {
                        let owner = longest_module(&full, modules).unwrap_or(child);
                        layout.take(&f.module, &name, &owner);
                    }
                }
            }
        }
        layout
    }

    fn take(&mut self, module: &Module, name: &str, from: &Module) {
        self.taken
            .entry(module.clone())
            .or_default()
            .entry(name.to_string())
            .or_insert_with(|| from.clone());
    }

    /// The module as the graph counts it: a parent's own body is the parent.
    fn counted(&self, module: &Module) -> Module {
        let mut m = module.clone();
        if self.bodies.contains(&m) {
            m.pop();
        }
        m
    }

    /// The module `path` (written in `from`) reads, following names taken from children.
    fn target(&self, from: &Module, path: &Module) -> Option<Module> {
        let mut full = resolve(from, path)?;
        let mut target = longest_module(&full, &self.modules)?;
        for _ in 0..8 {
            let child = full
                .get(target.len())
                .and_then(|name| self.taken.get(&target)?.get(name));
            let Some(child) = child.filter(|c| **c != target) else {
                break;
            };
            let mut next = child.clone();
            next.extend(full[target.len()..].iter().cloned());
            full = next;
            target = longest_module(&full, &self.modules)?;
        }
        Some(target)
    }

    fn sibling_edge(&self, from: &Module, path: &Module) -> Option<(Module, Module)> {
        let target = self.counted(&self.target(from, path)?);
        let from = self.counted(from);
        if target.starts_with(&from) || from.starts_with(&target) {
            return None;
        }
        let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
        Some((from[..=common].to_vec(), target[..=common].to_vec()))
    }
}

/// The trees of every `use` item, as written (`a::{b, c}`, `child::*`).
fn use_trees(code: &str) -> Vec<String> {
    let mut trees = Vec::new();
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        let tail = &rest[at + 3..];
        let end = tail.find(';').unwrap_or(tail.len());
        trees.push(tail[..end].split_whitespace().collect::<Vec<_>>().join(" "));
        rest = &tail[(end + 1).min(tail.len())..];
    }
    trees
}

/// Names a file defines (items, and methods: a superset is enough to find an owner).
fn defined_names(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for keyword in ["fn", "struct", "enum", "trait", "type", "const", "static"] {
        let mut rest = code;
        while let Some(at) = find_word(rest, keyword) {
            let tail = rest[at + keyword.len()..].trim_start();
            let name: String = tail
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
            rest = &rest[at + keyword.len()..];
        }
    }
    names
}

/// Each strongly connected group of more than one module, as one cycle through it.
fn cycles(edges: &BTreeMap<(Module, Module), BTreeSet<String>>) -> Vec<Vec<Module>> {
    let mut graph: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    let reaches = |from: &Module, to: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            for next in &graph[node] {
                if *next == to {
                    return true;
                }
                if seen.insert(*next) {
                    stack.push(next);
                }
            }
        }
        false
    };
    let mut found: Vec<Vec<Module>> = Vec::new();
    for node in graph.keys() {
        if found.iter().any(|c| c.contains(node)) || !reaches(node, node) {
            continue;
        }
        let group: Vec<Module> = graph
            .keys()
            .filter(|other| reaches(node, other) && reaches(other, node))
            .map(|m| (*m).clone())
            .collect();
        found.push(group);
    }
    found
}
