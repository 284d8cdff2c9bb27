//! A request of the suite being written: a recorded exchange made a template (its method,
//! path and body, some fields standing for placeholders, variables or secrets), with what to
//! read from its answer and why each part is there.

use serde_json::Value;

use super::find::Locator;
use super::recording::{Body, Exchange};

/// What stands in a template where the recording had a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Sent as recorded.
    Literal(String),
    /// `{name}`: the session's user, a write's value, or a value a login step extracted.
    Placeholder(&'static str),
    Extracted(String),
    /// `${secret:NAME}`: the recorded value is never written.
    Secret(String),
}

/// A request template, ready to be written.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Field)>,
    pub body: TemplateBody,
    pub extract: Vec<(String, Locator)>,
    pub follow: u32,
    /// `user`, `counter`, `value`: what its answer shows.
    pub reads: Vec<(&'static str, Locator)>,
    /// Comment lines: what it was inferred from.
    pub why: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum TemplateBody {
    None,
    Form(Vec<(String, Field)>),
    /// The JSON with its strings replaced at these pointers.
    Json(Value, Vec<(String, Field)>),
    Raw(String),
}

impl Request {
    /// `x` as recorded: every field literal.
    pub fn of(x: &Exchange) -> Self {
        let body = match &x.body {
            Body::None => TemplateBody::None,
            Body::Form(pairs) => TemplateBody::Form(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Field::Literal(v.clone())))
                    .collect(),
            ),
            Body::Json(v) => TemplateBody::Json(v.clone(), vec![]),
            Body::Raw(text, _) => TemplateBody::Raw(text.clone()),
        };
        let mut why = vec![];
        let body = match body {
            TemplateBody::Form(mut pairs) => {
                // A suite's form is a table: a field sent twice keeps its last value.
                let mut seen: Vec<String> = vec![];
                for i in (0..pairs.len()).rev() {
                    if seen.contains(&pairs[i].0) {
                        why.push(format!(
                            "Form field `{}` was sent twice: the last value is kept.",
                            pairs[i].0
                        ));
                        pairs.remove(i);
                    } else {
                        seen.push(pairs[i].0.clone());
                    }
                }
                TemplateBody::Form(pairs)
            }
            other => other,
        };
        let headers = match &x.body {
            Body::Raw(_, mime) if !mime.is_empty() => {
                vec![("Content-Type".to_string(), Field::Literal(mime.clone()))]
            }
            _ => vec![],
        };
        Self {
            method: x.method.clone(),
            path: x.path.clone(),
            headers,
            body,
            extract: vec![],
            follow: 0,
            reads: vec![],
            why,
        }
    }

    /// Makes the body's field `name` (a form field, or a JSON pointer) stand for `field`.
    pub fn set(&mut self, name: &str, field: Field) {
        match &mut self.body {
            TemplateBody::Form(pairs) => {
                if let Some(p) = pairs.iter_mut().find(|(k, _)| k == name) {
                    p.1 = field;
                }
            }
            TemplateBody::Json(_, fields) => fields.push((name.to_string(), field)),
            TemplateBody::None | TemplateBody::Raw(_) => {}
        }
    }

    pub fn read(&mut self, what: &'static str, locator: Locator) {
        self.reads.retain(|(w, _)| *w != what);
        self.reads.push((what, locator));
    }
}

/// The variables `r`'s secrets name.
pub fn secrets(r: &Request) -> Vec<String> {
    let body: Vec<&Field> = match &r.body {
        TemplateBody::Form(pairs) => pairs.iter().map(|(_, f)| f).collect(),
        TemplateBody::Json(_, fields) => fields.iter().map(|(_, f)| f).collect(),
        TemplateBody::None | TemplateBody::Raw(_) => vec![],
    };
    r.headers
        .iter()
        .map(|(_, f)| f)
        .chain(body)
        .filter_map(|f| match f {
            Field::Secret(var) => Some(var.clone()),
            _ => None,
        })
        .collect()
}

/// A body's text fields as `(name, value)`: form fields by name, JSON strings by pointer.
pub fn fields(body: &Body) -> Vec<(String, String)> {
    leaves(body, false)
}

/// A login's fields: its JSON numbers too (a PIN may be one).
pub fn login_fields(body: &Body) -> Vec<(String, String)> {
    leaves(body, true)
}

fn leaves(body: &Body, numbers: bool) -> Vec<(String, String)> {
    match body {
        Body::Form(pairs) => pairs.clone(),
        Body::Json(v) => {
            let mut out = vec![];
            strings(v, String::new(), numbers, &mut out);
            out
        }
        Body::None | Body::Raw(..) => vec![],
    }
}

fn strings(v: &Value, at: String, numbers: bool, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let at = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                strings(v, at, numbers, out);
            }
        }
        Value::String(s) => out.push((at, s.clone())),
        Value::Number(n) if numbers => out.push((at, n.to_string())),
        _ => {}
    }
}

/// Words of a name that say it holds a token (never a session, a user or a write's value).
pub const TOKENISH: &[&str] = &["csrf", "xsrf", "token", "nonce"];

/// Whether a word of `name` (split at `_`, `-`, `.`, brackets and lower-to-upper case
/// changes) starts with one of `stems`: `user_name` and `userName` are a user, `hostname`
/// and `shipping` are not a name or a pin.
pub fn like(name: &str, stems: &[&str]) -> bool {
    let mut words: Vec<String> = vec![String::new()];
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            words.push(String::new());
        } else {
            if c.is_uppercase() && previous_lower {
                words.push(String::new());
            }
            words.last_mut().expect("one").push(c.to_ascii_lowercase());
        }
        previous_lower = c.is_lowercase();
    }
    words
        .iter()
        .filter(|w| !w.is_empty())
        .any(|w| stems.iter().any(|s| w.starts_with(s)))
}

/// The first of `names` the most telling group of `ranks` matches (never a token's name).
pub fn best<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
    ranks: &[&[&str]],
) -> Option<&'a str> {
    ranks
        .iter()
        .find_map(|stems| names.clone().find(|n| like(n, stems) && !like(n, TOKENISH)))
}

/// A field's name for a person: `user` for a form field, `email` for JSON pointer `/email`.
pub fn short_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// A placeholder name made of a field's (`X-CSRF-Token` gives `x_csrf_token`).
pub fn placeholder_name(name: &str) -> String {
    let mut out = sessionbench_common::names::slug(short_name(name), '_');
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 't');
    }
    out
}
