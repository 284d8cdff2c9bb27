//! Variables in a suite's strings, filled in before the suite is read: `${NAME}` and
//! `${NAME:-default}` from `--var NAME=VALUE` or the environment, so CI can pass a URL or an
//! account; `$${` writes `${`. A secret, `${secret:NAME}`, is checked here (set in the
//! environment, used in a request or a command) and left in place: the value is put in only
//! where the request is sent or the command runs (`sessionbench_common::secret`).
//! `${SESSIONBENCH_…}` is left for the commands the harness gives those variables to.

use std::collections::BTreeMap;

use sessionbench_common::secret::{self, REFERENCE};
use toml_edit::{DocumentMut, Item, Value};

use super::locate::Seg;

/// What the harness sets for a suite's commands (`SESSIONBENCH_DIR`, …): theirs to fill.
const HARNESS_OWN: &str = "SESSIONBENCH_";

/// Keys whose strings are shell commands: a secret may go there (the shell reads it from its
/// environment).
const COMMANDS: [&str; 4] = ["start", "stop", "inject", "heal"];

/// Fills the variables of every string in `doc`, `given` (`--var`) before the environment;
/// each problem comes back with its value's path.
pub fn expand(doc: &mut DocumentMut, given: &BTreeMap<String, String>) -> Vec<(Vec<Seg>, String)> {
    let mut errors = Vec::new();
    let mut path = Vec::new();
    for (key, item) in doc.as_table_mut().iter_mut() {
        path.push(Seg::Key(key.get().to_string()));
        item_strings(item, &mut path, &mut |path, s| {
            fill(s, given, secret_allowed(path)).map_err(|e| errors.push((path.to_vec(), e)))
        });
        path.pop();
    }
    errors
}

/// A request's strings (`requests`, a login step) and commands may hold a secret; anything
/// else would be written to plan.json with it.
fn secret_allowed(path: &[Seg]) -> bool {
    fn key(s: &Seg) -> Option<&str> {
        match s {
            Seg::Key(k) => Some(k),
            Seg::Index(_) => None,
        }
    }
    path.iter().filter_map(key).any(|k| k == "requests")
        || path
            .iter()
            .rev()
            .find_map(key)
            .is_some_and(|k| COMMANDS.contains(&k))
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

/// `text` with its variables filled; `None` when it has none.
fn fill(
    text: &str,
    given: &BTreeMap<String, String>,
    secret_allowed: bool,
) -> Result<Option<String>, String> {
    if !text.contains("${") {
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
            if !secret_allowed {
                return Err(format!(
                    "`${{{inner}}}`: a secret may be used only in `requests` and in commands \
                     (`start`, `stop`, `inject`, `heal`); here it would be written to plan.json"
                ));
            }
            out.push_str(&tail[..end + 3]);
            continue;
        }
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
        if name.starts_with(HARNESS_OWN) {
            out.push_str(&tail[..end + 3]);
            continue;
        }
        let value = given
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.is_empty());
        match (value, default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(format!(
                    "variable `{name}` is not set: give `--var {name}=VALUE`, set it in the \
                     environment, or write `${{{name}:-default}}`"
                ));
            }
        }
    }
    out.push_str(rest);
    Ok(Some(out))
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

    fn filled(text: &str, secret: bool) -> Result<Option<String>, String> {
        let given = BTreeMap::from([("SB_URL".to_string(), "http://127.0.0.1:8080".to_string())]);
        fill(text, &given, secret)
    }

    #[test]
    fn variables_are_filled_from_vars_then_defaults_and_dollars_escape() {
        assert_eq!(filled("plain", false), Ok(None));
        assert_eq!(
            filled("${SB_URL}/x", false),
            Ok(Some("http://127.0.0.1:8080/x".into()))
        );
        assert_eq!(
            filled("${SB_UNSET_FOR_TEST:-http://127.0.0.1:9}", false),
            Ok(Some("http://127.0.0.1:9".into()))
        );
        assert_eq!(
            filled("$${HOME} $x $$ ${SESSIONBENCH_DIR}/p ${SB_URL:-no}", false),
            Ok(Some(
                "${HOME} $x $$ ${SESSIONBENCH_DIR}/p http://127.0.0.1:8080".into()
            ))
        );
        let err = |t: &str| filled(t, false).expect_err(t);
        assert!(err("${SB_UNSET_FOR_TEST}").contains("`--var SB_UNSET_FOR_TEST=VALUE`"));
        assert!(err("${a b}").contains("is not a variable"));
        assert!(err("x ${SB_URL").contains("no closing `}`"));
    }

    #[test]
    fn a_secret_stays_a_reference_and_only_where_it_may_go() {
        // PATH is set wherever tests run (the workspace forbids `unsafe`, so a test cannot
        // set a variable of its own).
        let text = "user={user}&pw=${secret:PATH}".to_string();
        assert_eq!(filled(&text, true), Ok(Some(text.clone())));
        assert!(
            filled(&text, false)
                .expect_err("not here")
                .contains("written to plan.json")
        );
        let unset = filled("${secret:SB_TEST_SECRET_UNSET}", true).expect_err("unset");
        assert!(unset.contains("not set in the environment"), "{unset}");
        assert!(secret_allowed(&[
            Seg::Key("targets".into()),
            Seg::Index(0),
            Seg::Key("requests".into()),
            Seg::Key("login".into()),
            Seg::Key("form".into()),
            Seg::Key("pw".into()),
        ]));
        assert!(secret_allowed(&[
            Seg::Key("faults".into()),
            Seg::Index(1),
            Seg::Key("inject".into())
        ]));
        assert!(!secret_allowed(&[
            Seg::Key("targets".into()),
            Seg::Index(0),
            Seg::Key("url".into())
        ]));
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
