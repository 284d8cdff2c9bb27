//! A run's files checked against the JSON Schemas `docs/schema/` publishes: what a user's own
//! tools are promised. The checker knows the keywords those schemas use (`$ref`, `type`,
//! `properties`, `required`, `additionalProperties`, `enum`, `const`, `anyOf`, `oneOf`,
//! `items`, `prefixItems`, item counts and bounds); another keyword fails the check rather
//! than passing unread.

use std::path::Path;

use serde_json::Value;

use super::{history_text, json, workspace};

/// A run directory's plan.json, results.json and every history record (as `history
/// export` writes them) fit the published schemas.
pub fn assert_run_fits_schemas(dir: &Path) {
    for name in ["plan", "results"] {
        let file = dir.join(format!("{name}.json"));
        assert_fits(name, &published(name), &json(&file), &file);
    }
    let history = dir.join("history.bin");
    let schema = published("history");
    for line in history_text(dir).lines() {
        let record: Value = serde_json::from_str(line).expect("a history line is JSON");
        assert_fits("history", &schema, &record, &history);
    }
}

/// `docs/schema/<name>.schema.json`.
fn published(name: &str) -> Value {
    let path = workspace().join(format!("docs/schema/{name}.schema.json"));
    let text = std::fs::read_to_string(&path).expect("published schema");
    serde_json::from_str(&text).expect("schema is JSON")
}

/// Every place where `file` breaks the schema `name`, as `/json/pointer: what`; the test
/// fails with all of them.
fn assert_fits(name: &str, schema: &Value, value: &Value, file: &Path) {
    let mut errors = Vec::new();
    check(value, schema, schema, "", &mut errors);
    assert!(
        errors.is_empty(),
        "{} does not fit docs/schema/{name}.schema.json:\n{}",
        file.display(),
        errors.join("\n")
    );
}

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "title",
    "description",
    "default",
    "format",
    "$defs",
];

fn check(v: &Value, s: &Value, root: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = s.as_object() else {
        if s == &Value::Bool(false) {
            errors.push(format!("{at}: nothing is allowed here"));
        }
        return;
    };
    let mut own = Vec::new();
    let mut fail = |what: String| own.push(format!("{at}: {what}"));
    for (key, want) in s {
        match key.as_str() {
            "$ref" => {
                let name = want.as_str().and_then(|r| r.strip_prefix("#/$defs/"));
                match name.and_then(|n| root["$defs"].get(n)) {
                    Some(def) => check(v, def, root, at, errors),
                    None => errors.push(format!("{at}: unresolved {want}")),
                }
            }
            "type" => {
                let types: Vec<&str> = match want {
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    t => t.as_str().into_iter().collect(),
                };
                if !types.iter().any(|t| is_type(v, t)) {
                    fail(format!("{v} is not {types:?}"));
                }
            }
            "enum" if !want.as_array().is_some_and(|a| a.contains(v)) => {
                fail(format!("{v} is not one of {want}"));
            }
            "const" if want != v => fail(format!("{v} is not {want}")),
            "minimum" if v.as_f64().zip(want.as_f64()).is_some_and(|(v, m)| v < m) => {
                fail(format!("{v} < {want}"));
            }
            "maximum" if v.as_f64().zip(want.as_f64()).is_some_and(|(v, m)| v > m) => {
                fail(format!("{v} > {want}"));
            }
            "required" => {
                for k in want.as_array().into_iter().flatten() {
                    let k = k.as_str().unwrap_or_default();
                    if v.is_object() && v.get(k).is_none() {
                        fail(format!("`{k}` is missing"));
                    }
                }
            }
            "properties" | "additionalProperties" => {}
            "items" | "prefixItems" | "minItems" | "maxItems" => {}
            "anyOf" | "oneOf" => {
                let fits = want
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|alt| {
                        let mut e = Vec::new();
                        check(v, alt, root, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if fits == 0 || (key == "oneOf" && fits > 1) {
                    fail(format!("{v} fits {fits} of the {key} alternatives"));
                }
            }
            "enum" | "const" | "minimum" | "maximum" => {}
            k if ANNOTATIONS.contains(&k) => {}
            k => fail(format!(
                "the schema's `{k}` is not a keyword this check knows"
            )),
        }
    }
    errors.append(&mut own);
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for (k, item) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(p) => check(item, p, root, &format!("{at}/{k}"), errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{at}: `{k}` is not a field")),
                    Some(extra) => check(item, extra, root, &format!("{at}/{k}"), errors),
                    None => {}
                },
            }
        }
    }
    if let Some(items) = v.as_array() {
        let prefix = s.get("prefixItems").and_then(Value::as_array);
        let count = items.len() as f64;
        if s.get("minItems")
            .and_then(Value::as_f64)
            .is_some_and(|m| count < m)
            || s.get("maxItems")
                .and_then(Value::as_f64)
                .is_some_and(|m| count > m)
        {
            errors.push(format!("{at}: {} items", items.len()));
        }
        for (i, item) in items.iter().enumerate() {
            let rule = prefix.and_then(|p| p.get(i)).or_else(|| s.get("items"));
            if let Some(rule) = rule {
                check(item, rule, root, &format!("{at}/{i}"), errors);
            }
        }
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}
