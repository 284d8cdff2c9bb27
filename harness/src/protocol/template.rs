//! Request templates: text in which `{user}`, `{seq}` and `{value}` are filled for each
//! operation, and `{{` and `}}` stand for braces. Parsed once when the suite is checked, so a
//! misspelt placeholder is an error with its line, never a request sent with braces in it.

use std::borrow::Cow;

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The session's user name, unique per session (`v3.12`).
    User,
    /// The operation's number in its session (login is 0).
    Seq,
    /// The value a write sets, unique per write (`v3.12:7`): only in `write`.
    Value,
}

/// The values of one operation's placeholders.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    pub user: &'a str,
    pub seq: u32,
    pub value: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses `text`; `{value}` is allowed only where `with_value` (a write's request).
    pub fn parse(text: &str, with_value: bool) -> Result<Self, String> {
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
            let var = match &tail[1..end] {
                "user" => Var::User,
                "seq" => Var::Seq,
                "value" if with_value => Var::Value,
                "value" => {
                    return Err(
                        "`{value}` is defined only in `requests.write` (the value it sets)".into(),
                    );
                }
                other => {
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` (known: {{user}}, {{seq}}, {{value}})"
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
    };

    #[test]
    fn placeholders_are_filled_and_braces_escaped() {
        let t = Template::parse("/u/{user}/{seq}?v={value}&b={{x}}", true).expect("valid");
        assert_eq!(t.render(&VARS, verbatim), "/u/v1.2/7?v=v1.2:7&b={x}");
        assert_eq!(t.render(&VARS, percent), "/u/v1.2/7?v=v1.2%3A7&b={x}");
        assert_eq!(
            Template::parse("plain", false)
                .expect("valid")
                .render(&VARS, verbatim),
            "plain"
        );
    }

    #[test]
    fn unknown_misplaced_and_unbalanced_placeholders_are_refused() {
        let err = |t: &str, v: bool| Template::parse(t, v).expect_err(t);
        assert!(err("/{usr}", true).contains("unknown placeholder `{usr}`"));
        assert!(err("/{value}", false).contains("only in `requests.write`"));
        assert!(err("/{user", true).contains("no closing"));
        assert!(err("/a}b", true).contains("lone `}`"));
    }
}
