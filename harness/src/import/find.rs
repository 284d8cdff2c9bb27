//! Where a recorded answer shows a value: a JSON pointer, a regex built from the text around
//! it, a header or a cookie (what a suite's `pointer`, `regex`, `header` and `cookie` read).
//! Every guess is read back from the answer it came from, so only one that finds the value
//! first is kept.

use serde_json::Value;

use super::recording::Exchange;

/// How to read a value from an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    Pointer(String),
    Regex(String),
    Header(String),
    Cookie(String),
}

/// What kind of value is looked for: a number's regex captures digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Number,
    Text,
}

impl Locator {
    /// What this reads from `x`'s answer.
    pub fn read(&self, x: &Exchange) -> Option<String> {
        match self {
            Locator::Pointer(p) => leaf(x.json()?.pointer(p)?),
            Locator::Regex(r) => {
                let c = regex_lite::Regex::new(r).ok()?.captures(&x.text)?;
                Some(c.get(1).or_else(|| c.get(0))?.as_str().to_string())
            }
            Locator::Header(h) => x.answer_header(h).map(str::to_string),
            Locator::Cookie(c) => x.sets_cookie(c).map(str::to_string),
        }
    }

    /// Where it reads, for a comment: "JSON /a/b", "the page's text", "header X".
    pub fn describe(&self) -> String {
        match self {
            Locator::Pointer(p) => format!("the JSON's {p}"),
            Locator::Regex(_) => "the page's text".into(),
            Locator::Header(h) => format!("header {h}"),
            Locator::Cookie(c) => format!("cookie {c}"),
        }
    }
}

/// A JSON leaf as text: a string, or a number written out.
fn leaf(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Where `x`'s answer shows `value`: its body first (a JSON pointer, else a regex), then a
/// header, then a cookie it sets.
pub fn locate(x: &Exchange, value: &str, shape: Shape) -> Option<Locator> {
    if value.is_empty() {
        return None;
    }
    if let Some(json) = x.json() {
        if let Some(p) = pointers(&json, value).into_iter().next() {
            return Some(Locator::Pointer(p));
        }
    } else if let Some(r) = regex_for(&x.text, value, shape) {
        return Some(Locator::Regex(r));
    }
    let header = x.answer_headers.iter().find(|(k, v)| {
        v == value && !k.eq_ignore_ascii_case("set-cookie") && !k.eq_ignore_ascii_case("location")
    });
    if let Some((k, _)) = header {
        return Some(Locator::Header(k.clone()));
    }
    x.set_cookies
        .iter()
        .find(|(_, v)| v == value)
        .map(|(k, _)| Locator::Cookie(k.clone()))
}

/// Every JSON pointer whose leaf is `value`, in document order.
pub fn pointers(v: &Value, value: &str) -> Vec<String> {
    let mut out = vec![];
    walk(v, String::new(), &mut |p, leaf_value| {
        if leaf(leaf_value).as_deref() == Some(value) {
            out.push(p.to_string());
        }
    });
    out
}

/// Every numeric leaf and its pointer.
pub fn numbers(v: &Value) -> Vec<(String, i64)> {
    let mut out = vec![];
    walk(v, String::new(), &mut |p, leaf_value| {
        if let Some(n) = leaf_value.as_i64() {
            out.push((p.to_string(), n));
        }
    });
    out
}

fn walk(v: &Value, at: String, f: &mut dyn FnMut(&str, &Value)) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                walk(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    f,
                );
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk(v, format!("{at}/{i}"), f);
            }
        }
        _ => f(&at, v),
    }
}

/// A regex that finds `value` first in `text`: the text before it (from the tag it is in, at
/// most a line), then a group for what may stand there.
fn regex_for(text: &str, value: &str, shape: Shape) -> Option<String> {
    let escaped = html_escape(value);
    for needle in [value, escaped.as_str()] {
        for (start, _) in text.match_indices(needle) {
            let end = start + needle.len();
            let before = text[..start].chars().next_back();
            let after = text[end..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '.');
            if shape == Shape::Number && (word(before) || word(after)) {
                continue;
            }
            let group = match (shape, after) {
                (Shape::Number, _) => r"(\d+)",
                (Shape::Text, Some('"')) => r#"([^"]+)"#,
                (Shape::Text, Some('\'')) => r"([^']+)",
                (Shape::Text, Some('<')) => r"([^<]+)",
                (Shape::Text, _) => r#"([^<"'\s]+)"#,
            };
            let tail = after
                .filter(|c| matches!(c, '"' | '\'' | '<'))
                .map(|c| regex_lite::escape(&c.to_string()))
                .unwrap_or_default();
            for width in [24, 48, 96] {
                let mut from = start.saturating_sub(width);
                while !text.is_char_boundary(from) {
                    from += 1;
                }
                let mut context = &text[from..start];
                if let Some(i) = context.rfind('\n') {
                    context = &context[i + 1..];
                }
                // From a tag's start, so the regex reads as the page does.
                match context.find('<') {
                    Some(i) => context = &context[i..],
                    None if width < 96 && from > 0 => continue,
                    None => {}
                }
                if context.trim().is_empty() {
                    continue;
                }
                let r = format!("{}{group}{tail}", regex_lite::escape(context));
                let re = regex_lite::Regex::new(&r).ok()?;
                let found = re.captures(text).and_then(|c| c.get(1));
                if found.is_some_and(|m| m.as_str() == needle) {
                    return Some(r);
                }
            }
        }
    }
    None
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_found_by_its_tag_not_inside_an_address() {
        let page =
            r#"<img src="http://127.0.0.2:9/p.gif"><p>Cart: <span id="items">2</span> items</p>"#;
        let r = regex_for(page, "2", Shape::Number).expect("found");
        assert_eq!(r, r#"<span id="items">(\d+)<"#);
    }

    #[test]
    fn a_token_in_an_attribute_is_captured_to_its_quote() {
        let page =
            r#"<form><input name="user"><input type="hidden" name="csrf" value="a-B_9"></form>"#;
        let r = regex_for(page, "a-B_9", Shape::Text).expect("found");
        assert_eq!(r, r#"<input type="hidden" name="csrf" value="([^"]+)""#);
    }

    #[test]
    fn a_context_that_finds_another_value_first_grows() {
        // `<span>` alone finds x first: the regex takes in the paragraph before.
        let page = "<p>a <span>x</span></p><p>b <span>y</span></p>";
        let r = regex_for(page, "y", Shape::Text).expect("found");
        assert_eq!(r, "</span></p><p>b <span>([^<]+)<");
        let page = "<p><span>y</span></p>";
        assert_eq!(
            regex_for(page, "y", Shape::Text).as_deref(),
            Some("<p><span>([^<]+)<")
        );
        assert_eq!(
            regex_for("y", "y", Shape::Text),
            None,
            "nothing before it to anchor on"
        );
    }

    #[test]
    fn json_pointers_escape_their_keys() {
        let v: Value = serde_json::json!({"a/b": {"c~d": "x"}, "n": 3});
        assert_eq!(pointers(&v, "x"), vec!["/a~1b/c~0d".to_string()]);
        assert_eq!(numbers(&v), vec![("/n".to_string(), 3)]);
    }
}
