//! An import's result: the login and operations found in a recording, what was dropped, and
//! the check that no credential reaches the suite.

use std::path::Path;

use super::{login, ops, recording, request, write};

/// What an import found, ready to be written.
#[derive(Debug)]
pub struct Imported {
    pub name: String,
    /// The recorded origin (`http://127.0.0.1:18180`).
    pub url: String,
    header: Vec<String>,
    login: login::Login,
    ops: ops::Ops,
    /// What was left out: (request, how many times, why).
    dropped: Vec<(String, usize, &'static str)>,
}

impl Imported {
    /// The suite, as TOML with comments.
    pub fn suite(&self) -> String {
        write::suite(
            &self.name,
            &self.url,
            &self.header,
            &self.login,
            &self.ops,
            &self.dropped,
        )
    }

    /// The environment variables the suite's secrets need.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.login.steps.iter().flat_map(request::secrets).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Imports the recording at `path` as target `name`.
pub fn har(path: &Path, name: &str) -> Result<Imported, String> {
    let rec = recording::read(path)?;
    let at = |e: String| format!("{}: {e}", path.display());
    let login = login::find(&rec.exchanges).map_err(at)?;
    let ops = ops::find(&rec.exchanges, &login).map_err(at)?;
    let mut dropped: Vec<(String, usize, &'static str)> = vec![];
    for d in &rec.dropped {
        match dropped
            .iter_mut()
            .find(|(w, _, why)| *w == d.what && *why == d.why)
        {
            Some(seen) => seen.1 += 1,
            None => dropped.push((d.what.clone(), 1, d.why)),
        }
    }
    let file = path
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let header = vec![format!(
        "Imported from {file} by `sessionbench import har`: {} requests recorded, {} kept, {} dropped (listed at the end). Above each part: what it was inferred from. Read them, then `sessionbench validate --probe` this file against the app.",
        rec.entries,
        rec.exchanges.len(),
        rec.dropped.len()
    )];
    let url = match rec.origin.as_str() {
        o if o.starts_with("http://") => o.strip_suffix(":80").unwrap_or(o),
        o => o.strip_suffix(":443").unwrap_or(o),
    }
    .to_string();
    let imported = Imported {
        name: name.to_string(),
        url,
        header,
        login,
        ops,
        dropped,
    };
    // What was typed as a credential is never in the suite, whatever the inference did.
    guard(&imported.suite(), &imported.login.secrets).map_err(at)?;
    Ok(imported)
}

/// The suite is TOML, and none of its strings holds one of `secrets` (outside the
/// placeholders and variables it names).
fn guard(text: &str, secrets: &[String]) -> Result<(), String> {
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("the suite made is not TOML, so nothing was written: {e}"))?;
    let placeholders = regex_lite::Regex::new(r"\$?\{[^{}]*\}").expect("a regex");
    let mut found = None;
    strings(doc.as_item(), "", &mut |key, value| {
        let bare = placeholders.replace_all(value, "");
        if secrets
            .iter()
            .any(|s| s.len() >= 3 && bare.contains(s.as_str()))
        {
            found.get_or_insert_with(|| key.to_string());
        }
    });
    match found {
        Some(key) => Err(format!(
            "`{key}` would hold a value typed at the login (a credential or the user's name); nothing was written"
        )),
        None => Ok(()),
    }
}

/// Every string of a TOML item, with its key.
fn strings(item: &toml_edit::Item, at: &str, f: &mut dyn FnMut(&str, &str)) {
    use toml_edit::{Item, Value};
    fn value(v: &Value, at: &str, f: &mut dyn FnMut(&str, &str)) {
        match v {
            Value::String(s) => f(at, s.value()),
            Value::Array(a) => a.iter().for_each(|v| value(v, at, f)),
            Value::InlineTable(t) => t
                .iter()
                .for_each(|(k, v)| value(v, &format!("{at}.{k}"), f)),
            _ => {}
        }
    }
    match item {
        Item::Value(v) => value(v, at, f),
        Item::Table(t) => t
            .iter()
            .for_each(|(k, i)| strings(i, &format!("{at}.{k}"), f)),
        Item::ArrayOfTables(a) => a.iter().for_each(|t| {
            t.iter()
                .for_each(|(k, i)| strings(i, &format!("{at}.{k}"), f));
        }),
        Item::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const SHOP: &str = include_str!("../../tests/integration/har/shop.har");

    /// The shop's recording with `keep` deciding which entries stay, edited by `edit`.
    fn shop(keep: impl Fn(&Value) -> bool, edit: impl Fn(&mut Value)) -> Vec<recording::Exchange> {
        let mut v: Value = serde_json::from_str(SHOP).expect("HAR");
        let entries = v["log"]["entries"].as_array_mut().expect("entries");
        entries.retain(|e| keep(e));
        entries.iter_mut().for_each(edit);
        recording::parse(&v.to_string()).expect("parsed").exchanges
    }

    #[test]
    fn a_credential_in_any_string_is_refused_with_its_key_but_not_in_names() {
        let secrets = [
            "hunter22".to_string(),
            "secret".to_string(),
            "user".to_string(),
        ];
        let ok = "[a]\nb = \"${secret:LOGIN_PASSWORD}\"\nuser = \"{user}\"\n";
        assert_eq!(guard(ok, &secrets), Ok(()));
        let leak = "[[t]]\nx = { form = { pw = \"a hunter22\" } }\n";
        let e = guard(leak, &secrets).expect_err("refused");
        assert!(e.starts_with("`.t.x.form.pw` would hold"), "{e}");
        let e = guard("a = [1, \"user\"]\n", &secrets).expect_err("refused");
        assert!(e.starts_with("`.a` would hold"), "{e}");
        let e = guard("a = {\n", &secrets).expect_err("not TOML");
        assert!(e.starts_with("the suite made is not TOML"), "{e}");
    }

    #[test]
    fn a_sanitized_export_without_cookies_is_told_apart() {
        let xs = shop(
            |_| true,
            |e| {
                for side in ["request", "response"] {
                    e[side]["cookies"] = Value::Array(vec![]);
                    let headers = e[side]["headers"].as_array_mut().expect("headers");
                    headers.retain(|h| {
                        !h["name"]
                            .as_str()
                            .unwrap_or("")
                            .to_ascii_lowercase()
                            .contains("cookie")
                    });
                }
            },
        );
        let e = login::find(&xs).expect_err("refused");
        assert!(e.contains("Export HAR (with sensitive data)"), "{e}");
    }

    #[test]
    fn a_recording_that_never_signs_in_says_so() {
        let xs = shop(|e| e["request"]["method"] == "GET", |_| {});
        let e = login::find(&xs).expect_err("refused");
        assert!(e.starts_with("found no login"), "{e}");
    }

    #[test]
    fn a_recording_without_a_signed_in_page_says_so() {
        // Every signed-in page left out: only the redirect to the login page stays.
        let signed_in = |e: &Value| e["request"]["headers"].to_string().contains("SHOPSESSION");
        let xs = shop(
            |e| !(signed_in(e) && e["request"]["method"] == "GET"),
            |_| {},
        );
        let login = login::find(&xs).expect("a login");
        let e = ops::find(&xs, &login).expect_err("refused");
        assert!(e.starts_with("found no page or API call to read"), "{e}");
    }
}
