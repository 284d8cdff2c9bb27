//! The imported suite as TOML text, each part under comments saying what it was inferred
//! from, and what was dropped or not found at the end.

use std::fmt::Write as _;

use serde_json::Value;

use super::find::Locator;
use super::login::Login;
use super::ops::{LoggedOut, Ops};
use super::request::{Field, Request, TemplateBody};

/// A TOML string: "…", or literal ('…') where a basic string would need escapes, so a regex
/// reads as written.
pub fn quote(s: &str) -> String {
    let plain = !s.chars().any(char::is_control);
    if plain && !s.contains(['"', '\\']) {
        return format!("\"{s}\"");
    }
    if plain && !s.contains('\'') {
        return format!("'{s}'");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Recorded text inside a template: its braces and `${` are text, not placeholders.
fn text(s: &str) -> String {
    s.replace('{', "{{")
        .replace('}', "}}")
        .replace("${{", "$${{")
}

fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { k.to_string() } else { quote(k) }
}

fn field(f: &Field) -> String {
    match f {
        Field::Literal(v) => quote(&text(v)),
        Field::Placeholder(p) => format!("\"{{{p}}}\""),
        Field::Extracted(n) => format!("\"{{{n}}}\""),
        Field::Secret(var) => format!("\"${{secret:{var}}}\""),
    }
}

/// As a suite writes it: `{ pointer = "/a/b" }`.
fn locator(l: &Locator) -> String {
    let (key, value) = match l {
        Locator::Pointer(p) => ("pointer", p),
        Locator::Regex(r) => ("regex", r),
        Locator::Header(h) => ("header", h),
        Locator::Cookie(c) => ("cookie", c),
    };
    format!("{{ {key} = {} }}", quote(value))
}

fn comment(out: &mut String, line: &str) {
    let mut width = 0;
    out.push('#');
    for word in line.split(' ') {
        if width > 0 && width + word.len() > 94 {
            out.push_str("\n#");
            width = 0;
        }
        out.push(' ');
        out.push_str(word);
        width += word.len() + 1;
    }
    out.push('\n');
}

/// The suite of target `name` at `url`: `header` as its first comment, then the login and
/// the operations found, then what was dropped (request, how many times, why).
pub fn suite(
    name: &str,
    url: &str,
    header: &[String],
    login: &Login,
    ops: &Ops,
    dropped: &[(String, usize, &str)],
) -> String {
    let mut out = String::new();
    for line in header {
        comment(&mut out, line);
    }
    let mix = |r: &Option<Request>, weight: u32| if r.is_some() { weight } else { 0 };
    let _ = write!(
        out,
        "\n[suite]\nname = {name}\nduration = \"30s\"\nwarm-up = \"2s\"\n\n\
         [workload]\nvirtual-users = 10\nthink-time = \"100ms\"\nops-per-session = 30\n\n\
         [workload.mix]\nread = 5\nwrite = {}\ncounter = {}\nlogout = {}\n\n",
        mix(&ops.write, 2),
        mix(&ops.counter, 2),
        mix(&ops.logout, 1),
        name = quote(name),
    );
    let _ = writeln!(
        out,
        "[[targets]]\nname = {}\nstrategy = \"external\"",
        quote(name)
    );
    comment(
        &mut out,
        "TARGET_URL points the suite at another deployment (CI, staging); without it, the recorded one.",
    );
    let _ = writeln!(out, "url = {}", quote(&format!("${{TARGET_URL:-{}}}", url)));
    for line in &login.why {
        comment(&mut out, line);
    }
    let _ = writeln!(out, "cookie = {}", quote(&login.cookie));
    if let Some(h) = &ops.served_by {
        comment(
            &mut out,
            &format!("Which instance answered: every signed-in answer had {h}."),
        );
        let _ = writeln!(out, "served-by = {{ header = {} }}", quote(h));
    }
    out.push('\n');
    match &ops.logged_out {
        LoggedOut::Redirect(to, seen) => {
            comment(
                &mut out,
                &format!(
                    "Signed out: {seen}, sent without the session cookie, was redirected to {to}."
                ),
            );
            let _ = writeln!(out, "[targets.logged-out]\nredirect = {}\n", quote(to));
        }
        LoggedOut::Status(status, seen) => {
            comment(
                &mut out,
                &format!(
                    "Signed out: {seen}, sent without the session cookie, was answered {status}."
                ),
            );
            let _ = writeln!(out, "[targets.logged-out]\nstatus = [{status}]\n");
        }
        LoggedOut::Assumed => {
            comment(
                &mut out,
                "Signed out: no request without the session cookie went to a signed-in page in the recording, so 401 is assumed. Check it: what does your app answer a request nobody is signed in for?",
            );
            out.push_str("[targets.logged-out]\nstatus = [401]\n\n");
        }
    }
    for step in &login.steps {
        request(&mut out, "[[targets.requests.login]]", step);
    }
    request(&mut out, "[targets.requests.read]", &ops.read);
    for (name, r) in [
        ("write", &ops.write),
        ("counter", &ops.counter),
        ("logout", &ops.logout),
    ] {
        if let Some(r) = r {
            request(&mut out, &format!("[targets.requests.{name}]"), r);
        }
    }
    if !ops.missing.is_empty() || !dropped.is_empty() {
        out.push_str("# Not in this suite:\n");
        for line in &ops.missing {
            comment(&mut out, &format!("  {line}"));
        }
        for (what, n, why) in dropped {
            let times = if *n > 1 {
                format!(" ×{n}")
            } else {
                String::new()
            };
            comment(&mut out, &format!("  {what}{times}: {why}"));
        }
    }
    out
}

fn request(out: &mut String, table: &str, r: &Request) {
    for line in &r.why {
        comment(out, line);
    }
    let _ = writeln!(
        out,
        "{table}\nmethod = {}\npath = {}",
        quote(&r.method),
        quote(&text(&r.path))
    );
    if !r.headers.is_empty() {
        let h: Vec<String> = r
            .headers
            .iter()
            .map(|(k, f)| format!("{} = {}", key(k), field(f)))
            .collect();
        let _ = writeln!(out, "headers = {{ {} }}", h.join(", "));
    }
    match &r.body {
        TemplateBody::None => {}
        TemplateBody::Form(pairs) => {
            let f: Vec<String> = pairs
                .iter()
                .map(|(k, f)| format!("{} = {}", key(k), field(f)))
                .collect();
            let _ = writeln!(out, "form = {{ {} }}", f.join(", "));
        }
        TemplateBody::Json(v, fields) => {
            let _ = writeln!(out, "json = {}", json(v, "", fields));
        }
        TemplateBody::Raw(t) => {
            let _ = writeln!(out, "body = {}", quote(&text(t)));
        }
    }
    if !r.extract.is_empty() {
        let e: Vec<String> = r
            .extract
            .iter()
            .map(|(n, l)| format!("{n} = {}", locator(l)))
            .collect();
        let _ = writeln!(out, "extract = {{ {} }}", e.join(", "));
    }
    if r.follow > 0 {
        let _ = writeln!(out, "follow-redirects = {}", r.follow);
    }
    for (what, l) in &r.reads {
        let _ = writeln!(out, "{what} = {}", locator(l));
    }
    out.push('\n');
}

/// A JSON body as a TOML value, the strings at `fields`' pointers replaced.
fn json(v: &Value, at: &str, fields: &[(String, Field)]) -> String {
    if let Some((_, f)) = fields.iter().find(|(p, _)| p == at) {
        return field(f);
    }
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    format!("{} = {}", key(k), json(v, &p, fields))
                })
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(a) => {
            let parts: Vec<String> = a
                .iter()
                .enumerate()
                .map(|(i, v)| json(v, &format!("{at}/{i}"), fields))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Value::String(s) => quote(&text(s)),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "''".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_literal_unless_they_cannot_be() {
        assert_eq!(quote("/login"), "\"/login\"");
        assert_eq!(quote(r"<b>(\d+)</b>"), r"'<b>(\d+)</b>'");
        assert_eq!(quote(r#"<b id="n">"#), r#"'<b id="n">'"#);
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn recorded_text_keeps_its_braces_and_dollars() {
        assert_eq!(text("{\"a\":1}"), "{{\"a\":1}}");
        assert_eq!(text("${HOME}"), "$${{HOME}}");
    }
}
