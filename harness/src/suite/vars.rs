//! Variables in a suite's strings, filled in before the suite is read: `${NAME}` and
//! `${NAME:-default}` from `--var NAME=VALUE` or the environment, so CI can pass a URL or an
//! account; `$${` writes `${`. A secret, `${secret:NAME}`, is checked here (set in the
//! environment, and where it may go) and left in place: its value is put in only as a
//! request is sent or a command runs (`sessionbench_common::secret`). Commands are the
//! shell's: their `${…}` is left to it (it reads the same environment), so nothing of the
//! environment is written into plan.json or a command line on their account.

use std::collections::BTreeMap;

use sessionbench_common::secret::{self, REFERENCE};
use toml_edit::{DocumentMut, Item, Value};

use super::locate::Seg;

/// What the harness sets for a suite's commands (`SESSIONBENCH_DIR`, …): theirs to fill.
const HARNESS_OWN: &str = "SESSIONBENCH_";

/// Keys whose strings are shell commands.
const COMMANDS: [&str; 4] = ["start", "stop", "inject", "heal"];

/// The parts of a request that are templates sent to the target and recorded nowhere: a
/// secret may go there (not in `path`, which servers echo back in redirects the history
/// keeps).
const SENT: [&str; 4] = ["headers", "form", "json", "body"];

/// What a string of the suite is, for its variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A shell command: `${…}` is the shell's; only a secret is checked.
    Command,
    /// A request template's sent part: secrets allowed, and a filled value's braces are
    /// text, not placeholders.
    Sent,
    /// A request template's `path`: a filled value's braces are text.
    Path,
    Other,
}

fn place(path: &[Seg]) -> Place {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect();
    match keys.iter().position(|k| *k == "requests") {
        // `requests.OP.KEY` or, for login steps, the same under their array.
        Some(r) if keys.get(r + 2).is_some_and(|k| SENT.contains(k)) => Place::Sent,
        Some(r) if keys.len() == r + 3 && keys[r + 2] == "path" => Place::Path,
        Some(_) => Place::Other,
        None if keys.last().is_some_and(|k| COMMANDS.contains(k)) => Place::Command,
        None => Place::Other,
    }
}

/// Fills the variables of every string in `doc`, `given` (`--var`) before the environment;
/// each problem comes back with its value's path.
pub fn expand(doc: &mut DocumentMut, given: &BTreeMap<String, String>) -> Vec<(Vec<Seg>, String)> {
    let mut errors = Vec::new();
    let mut path = Vec::new();
    for (key, item) in doc.as_table_mut().iter_mut() {
        path.push(Seg::Key(key.get().to_string()));
        item_strings(item, &mut path, &mut |path, s| {
            fill(s, given, place(path)).map_err(|e| errors.push((path.to_vec(), e)))
        });
        path.pop();
    }
    errors
}

type Visit<'a> = dyn FnMut(&[Seg], &str) -> Result<Option<String>, ()> + 'a;

fn item_strings(item: &mut Item, path: &mut Vec<Seg>, visit: &mut Visit<'_>) {
    match item {
        Item::Value(v) => value_strings(v, path, visit),
        Item::Table(t) => {
            for (key, item) in t.iter_mut() {
                path.push(Seg::Key(key.get().to_string()));
                item_strings(item, path, visit);
                path.pop();
            }
        }
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                for (key, item) in t.iter_mut() {
                    path.push(Seg::Key(key.get().to_string()));
                    item_strings(item, path, visit);
                    path.pop();
                }
                path.pop();
            }
        }
        Item::None => {}
    }
}

fn value_strings(v: &mut Value, path: &mut Vec<Seg>, visit: &mut Visit<'_>) {
    match v {
        Value::String(s) => {
            if let Ok(Some(filled)) = visit(path, s.value()) {
                let decor = s.decor().clone();
                let mut new = toml_edit::Formatted::new(filled);
                *new.decor_mut() = decor;
                *s = new;
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                value_strings(v, path, visit);
                path.pop();
            }
        }
        Value::InlineTable(t) => {
            for (key, v) in t.iter_mut() {
                path.push(Seg::Key(key.get().to_string()));
                value_strings(v, path, visit);
                path.pop();
            }
        }
        _ => {}
    }
}

/// `text` with its variables filled; `None` when nothing changed.
fn fill(
    text: &str,
    given: &BTreeMap<String, String>,
    place: Place,
) -> Result<Option<String>, String> {
    if !text.contains("${") {
        return Ok(None);
    }
    if place == Place::Command {
        for (_, name) in secret::references(text) {
            secret::referenced(name)?;
        }
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            continue;
        }
        let Some(inner_at) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let Some(end) = inner_at.find('}') else {
            return Err("a `${` with no closing `}` (write `$${` for a literal `${`)".into());
        };
        let inner = &inner_at[..end];
        rest = &inner_at[end + 1..];
        if let Some(name) = inner.strip_prefix(REFERENCE) {
            secret::referenced(name)?;
            if place != Place::Sent {
                return Err(format!(
                    "`${{{inner}}}`: a secret may be used only in what a request sends \
                     (`headers`, `form`, `json`, `body`) and in commands (`start`, `stop`, \
                     `inject`, `heal`): elsewhere it would be written to plan.json or echoed \
                     back in an answer the history keeps"
                ));
            }
            out.push_str(&tail[..end + 3]);
            continue;
        }
        let value = variable(inner, given)?;
        if value.contains(&format!("${{{REFERENCE}")) {
            return Err(format!(
                "`${{{inner}}}`: its value names a secret; a secret is named in the suite only"
            ));
        }
        // Text as written: in a template, a value's braces are not placeholders.
        match place {
            Place::Sent | Place::Path => out.push_str(&value.replace('{', "{{").replace('}', "}}")),
            Place::Command | Place::Other => out.push_str(&value),
        }
    }
    out.push_str(rest);
    Ok((out != text).then_some(out))
}

/// The value of `${inner}`: `NAME` or `NAME:-default`; `${SESSIONBENCH_…}` as written.
fn variable(inner: &str, given: &BTreeMap<String, String>) -> Result<String, String> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !secret::is_variable_name(name) {
        return Err(format!(
            "`${{{inner}}}` is not a variable: `${{NAME}}`, `${{NAME:-default}}` or \
             `${{secret:NAME}}` (write `$${{` for a literal `${{`)"
        ));
    }
    if default.is_some_and(|d| d.contains("${")) {
        return Err(format!("`${{{inner}}}`: a default is text, without `${{`"));
    }
    if name.starts_with(HARNESS_OWN) {
        return Ok(format!("${{{inner}}}"));
    }
    let value = given
        .get(name)
        .cloned()
        .or_else(|| std::env::var(name).ok())
        .filter(|v| !v.is_empty());
    match (value, default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => Err(format!(
            "variable `{name}` is not set (or empty): give `--var {name}=VALUE`, set it in \
             the environment, or write `${{{name}:-default}}`"
        )),
    }
}

/// `NAME=VALUE` as `--var` takes it.
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    if !secret::is_variable_name(name) {
        return Err(format!(
            "`{name}` is not a variable name (letters, digits, `_`)"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(text: &str, place: Place) -> Result<Option<String>, String> {
        let given = BTreeMap::from([
            ("SB_URL".to_string(), "http://127.0.0.1:8080".to_string()),
            ("SB_BRACES".to_string(), "a{user}b".to_string()),
            ("SB_SNEAKY".to_string(), "x${secret:PATH}".to_string()),
        ]);
        fill(text, &given, place)
    }

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    #[test]
    fn variables_are_filled_from_vars_then_defaults_and_dollars_escape() {
        let other = |t: &str| filled(t, Place::Other);
        assert_eq!(other("plain"), Ok(None));
        assert_eq!(
            other("${SB_URL}/x"),
            Ok(Some("http://127.0.0.1:8080/x".into()))
        );
        assert_eq!(
            other("${SB_UNSET_FOR_TEST:-http://127.0.0.1:9}"),
            Ok(Some("http://127.0.0.1:9".into()))
        );
        assert_eq!(
            other("$${HOME} $x $$ ${SESSIONBENCH_DIR}/p ${SB_URL:-no}"),
            Ok(Some(
                "${HOME} $x $$ ${SESSIONBENCH_DIR}/p http://127.0.0.1:8080".into()
            ))
        );
        let err = |t: &str| other(t).expect_err(t);
        assert!(err("${SB_UNSET_FOR_TEST}").contains("`--var SB_UNSET_FOR_TEST=VALUE`"));
        assert!(err("${a b}").contains("is not a variable"));
        assert!(err("x ${SB_URL").contains("no closing `}`"));
        assert!(err("${SB_UNSET_FOR_TEST:-${SB_URL}}").contains("a default is text"));
    }

    #[test]
    fn a_filled_value_is_text_and_never_a_secret() {
        // In a template, braces from a value are not placeholders.
        assert_eq!(
            filled("/p/${SB_BRACES}", Place::Path),
            Ok(Some("/p/a{{user}}b".into()))
        );
        assert_eq!(
            filled("${SB_BRACES}", Place::Other),
            Ok(Some("a{user}b".into()))
        );
        // A value cannot smuggle in a secret reference.
        let e = filled("${SB_SNEAKY}", Place::Sent).expect_err("a secret in a value");
        assert!(e.contains("its value names a secret"), "{e}");
    }

    #[test]
    fn commands_are_the_shell_s_and_secrets_go_only_where_they_are_sent() {
        // The shell's own syntax passes untouched; a secret must be set.
        let shell = "for i in 1 2; do echo ${i} ${f%.*} ${SB_URL}; done; t=${secret:PATH}";
        assert_eq!(filled(shell, Place::Command), Ok(None));
        let unset = filled("x ${secret:SB_TEST_SECRET_UNSET}", Place::Command);
        assert!(
            unset
                .expect_err("unset")
                .contains("not set in the environment")
        );
        // PATH is set wherever tests run (the workspace forbids `unsafe`, so a test cannot
        // set a variable of its own).
        let text = "user={user}&pw=${secret:PATH}".to_string();
        assert_eq!(filled(&text, Place::Sent), Ok(None));
        for place in [Place::Path, Place::Other] {
            let e = filled(&text, place).expect_err("not here");
            assert!(e.contains("only in what a request sends"), "{e}");
        }
        let at = |keys: &[Seg]| place(keys);
        let login = [key("targets"), Seg::Index(0), key("requests"), key("login")];
        let step = |k: &str, rest: &[Seg]| {
            let mut p = login.to_vec();
            p.push(Seg::Index(1));
            p.push(key(k));
            p.extend_from_slice(rest);
            p
        };
        assert_eq!(at(&step("form", &[key("pw")])), Place::Sent);
        assert_eq!(at(&step("headers", &[key("Authorization")])), Place::Sent);
        assert_eq!(at(&step("path", &[])), Place::Path);
        assert_eq!(
            at(&step("extract", &[key("csrf"), key("regex")])),
            Place::Other
        );
        assert_eq!(
            at(&[key("faults"), Seg::Index(1), key("inject")]),
            Place::Command
        );
        assert_eq!(
            at(&[key("targets"), Seg::Index(0), key("url")]),
            Place::Other
        );
    }

    #[test]
    fn every_string_of_a_document_is_filled_and_errors_name_their_key() {
        let mut doc: DocumentMut = "[suite]\nname = \"${SB_URL}\"\n[[targets]]\nurl = \"${SB_NOPE}\"\nlist = [\"a\", { k = \"${SB_URL}\" }]\n"
            .parse()
            .expect("toml");
        let given = BTreeMap::from([("SB_URL".to_string(), "u".to_string())]);
        let errors = expand(&mut doc, &given);
        assert_eq!(doc["suite"]["name"].as_str(), Some("u"));
        assert_eq!(doc["targets"][0]["list"][1]["k"].as_str(), Some("u"));
        let paths: Vec<String> = errors
            .iter()
            .map(|(p, _)| super::super::locate::render(p))
            .collect();
        assert_eq!(paths, ["targets[0].url"]);
        assert_eq!(parse_var("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_var("1A=b").is_err() && parse_var("novalue").is_err());
    }
}
