//! Request templates: text in which `{user}`, `{seq}`, `{value}` and the names login steps
//! extract (`{csrf}`) are filled for each operation, `${secret:NAME}` by the secret in
//! environment variable NAME (read once, kept out of `Debug`), and `{{` and `}}` stand for
//! braces.
//! Parsed once when the suite is checked, so a misspelt placeholder, or a name used before a
//! step extracts it, is an error with its line, never a request sent with braces in it.

use std::borrow::Cow;

use sessionbench_common::secret::{self, REFERENCE, Secret};

/// The placeholders every template has; a login step cannot extract a value by one of these
/// names.
pub const BUILT_IN: [&str; 3] = ["user", "seq", "value"];

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The session's user name, unique per session (`v3.12`).
    User,
    /// The operation's number in its session (login is 0).
    Seq,
    /// The value a write sets, unique per write (`v3.12:7`): only in `write`.
    Value,
    /// The `n`th name login steps extract, in the order the suite gives them.
    Extracted(usize),
}

/// The values of one operation's placeholders.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    pub user: &'a str,
    pub seq: u32,
    pub value: &'a str,
    /// What the session's login steps extracted so far, by name index (empty: not yet).
    pub extracted: &'a [String],
}

/// What a template may name.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `{value}` (a write's request).
    pub value: bool,
    /// The names extracted before this request, by index; the rest of `all` come later.
    pub extracted: usize,
    pub all: &'a [String],
}

impl Scope<'_> {
    /// No `{value}`, no extracted names.
    pub const PLAIN: Scope<'static> = Scope {
        value: false,
        extracted: 0,
        all: &[],
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
    Secret(Secret),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses `text`, with the placeholders `scope` allows.
    pub fn parse(text: &str, scope: Scope) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
                literal.push_str(&tail[..1]);
                rest = after;
                continue;
            }
            if tail.starts_with('}') {
                return Err("a lone `}` (write `}}` for a brace)".into());
            }
            let Some(end) = tail.find('}') else {
                return Err("a `{` with no closing `}` (write `{{` for a brace)".into());
            };
            let name = &tail[1..end];
            if let Some(env) = name
                .strip_prefix(REFERENCE)
                .filter(|_| literal.ends_with('$'))
            {
                literal.pop();
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Secret(secret::referenced(env)?));
                rest = &tail[end + 1..];
                continue;
            }
            let index = scope.all.iter().position(|n| n == name);
            // The built-in names first: validation refuses an extracted name that is one.
            let var = match (name, index) {
                ("user", _) => Var::User,
                ("seq", _) => Var::Seq,
                ("value", _) if scope.value => Var::Value,
                ("value", _) => {
                    return Err(
                        "`{value}` is defined only in `requests.write` (the value it sets)".into(),
                    );
                }
                (_, Some(i)) if i < scope.extracted => Var::Extracted(i),
                (_, Some(_)) => {
                    return Err(format!(
                        "`{{{name}}}` is used before a login step extracts it (a step can use what earlier steps extract)"
                    ));
                }
                (other, None) => {
                    let extracted = if scope.all.is_empty() {
                        String::new()
                    } else {
                        let names: Vec<String> =
                            scope.all.iter().map(|n| format!("{{{n}}}")).collect();
                        format!(", and what login steps extract: {}", names.join(", "))
                    };
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` (known: {{user}}, {{seq}}, {{value}}{extracted}; a login step's `extract` defines more)"
                    ));
                }
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(var));
            rest = &tail[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self(parts))
    }

    /// The text with its placeholders filled, each value passed through `escape` (literal
    /// text is the suite's own and is left as written).
    pub fn render(&self, vars: &Vars, escape: fn(&str) -> Cow<'_, str>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(Var::User) => out.push_str(&escape(vars.user)),
                Part::Var(Var::Seq) => out.push_str(&vars.seq.to_string()),
                Part::Var(Var::Value) => out.push_str(&escape(vars.value)),
                Part::Secret(s) => out.push_str(&escape(s.expose())),
                Part::Var(Var::Extracted(i)) => {
                    out.push_str(&escape(vars.extracted.get(*i).map_or("", String::as_str)));
                }
            }
        }
        out
    }
}

/// Values as they are (JSON strings, headers, raw bodies).
pub fn verbatim(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// Percent-encodes all but RFC 3986's unreserved characters: for values in paths and forms.
pub fn percent(s: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    if s.bytes().all(plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: Vars = Vars {
        user: "v1.2",
        seq: 7,
        value: "v1.2:7",
        extracted: &[],
    };

    const WRITE: Scope = Scope {
        value: true,
        extracted: 0,
        all: &[],
    };

    #[test]
    fn placeholders_are_filled_and_braces_escaped() {
        let t = Template::parse("/u/{user}/{seq}?v={value}&b={{x}}", WRITE).expect("valid");
        assert_eq!(t.render(&VARS, verbatim), "/u/v1.2/7?v=v1.2:7&b={x}");
        assert_eq!(t.render(&VARS, percent), "/u/v1.2/7?v=v1.2%3A7&b={x}");
        assert_eq!(
            Template::parse("plain", Scope::PLAIN)
                .expect("valid")
                .render(&VARS, verbatim),
            "plain"
        );
    }

    #[test]
    fn a_secret_is_filled_from_the_environment_and_never_shown() {
        // PATH is set wherever tests run (the workspace forbids `unsafe`: no test sets one).
        let path = std::env::var("PATH").expect("PATH");
        let t = Template::parse("u={user}&pw=${secret:PATH}$x", Scope::PLAIN).expect("valid");
        assert_eq!(t.render(&VARS, verbatim), format!("u=v1.2&pw={path}$x"));
        assert!(!format!("{t:?}").contains(&path), "{t:?}");
        let e = Template::parse("${secret:SB_TEST_NEVER_SET}", Scope::PLAIN).expect_err("unset");
        assert!(e.contains("not set in the environment"), "{e}");
        // Without its `$` it is a placeholder, and no known one.
        let e = Template::parse("{secret:PATH}", Scope::PLAIN).expect_err("no $");
        assert!(e.contains("unknown placeholder"), "{e}");
    }

    #[test]
    fn unknown_misplaced_and_unbalanced_placeholders_are_refused() {
        let err = |t: &str, v: bool| {
            Template::parse(t, if v { WRITE } else { Scope::PLAIN }).expect_err(t)
        };
        assert!(err("/{usr}", true).contains("unknown placeholder `{usr}`"));
        assert!(err("/{value}", false).contains("only in `requests.write`"));
        assert!(err("/{user", true).contains("no closing"));
        assert!(err("/a}b", true).contains("lone `}`"));
    }

    #[test]
    fn extracted_names_are_filled_once_a_step_has_extracted_them() {
        let all = ["csrf".to_string(), "action".to_string()];
        let after_first = Scope {
            value: false,
            extracted: 1,
            all: &all,
        };
        let t = Template::parse("/login?t={csrf}", after_first).expect("csrf is extracted");
        let extracted = ["a b".to_string()];
        let vars = Vars {
            extracted: &extracted,
            ..VARS
        };
        assert_eq!(t.render(&vars, percent), "/login?t=a%20b");
        let e = Template::parse("{action}", after_first).expect_err("too early");
        assert!(e.contains("used before a login step extracts it"), "{e}");
        let e = Template::parse("{token}", after_first).expect_err("unknown");
        assert!(e.contains("{csrf}, {action}"), "{e}");
    }
}
