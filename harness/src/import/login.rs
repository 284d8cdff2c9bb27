//! The login in a recording: the request with a body whose answer set the cookie later
//! requests send (the session cookie), its fields (the user, the password, a token an
//! earlier answer held), and the steps that fetch those tokens.

use super::find::{Locator, Shape, locate};
use super::recording::Exchange;
use super::request::{
    Field, Request, TOKENISH, best, fields, like, login_fields, placeholder_name, short_name,
};
use crate::protocol::template::BUILT_IN;

/// The login as found: its steps (the last is the login itself) and what it tells the rest.
#[derive(Debug)]
pub struct Login {
    pub steps: Vec<Request>,
    /// The session cookie's name.
    pub cookie: String,
    /// The last exchange the login covers (its redirect, when followed).
    pub answered_at: usize,
    /// The recorded user name (never written), to find where answers show it.
    pub user: Option<String>,
    /// Every credential recorded (never written).
    pub secrets: Vec<String>,
    pub why: Vec<String>,
}

/// Words of a cookie's name that say it holds the session, most telling first.
const SESSIONISH: &[&[&str]] = &[&["sess", "sid", "jsession", "connect"], &["auth"]];
const PASSWORDISH: &[&str] = &["pass", "pwd", "pw", "secret", "pin", "credential"];
/// Words of a field's name that say it holds the user, most telling first.
const USERISH: &[&[&str]] = &[&["user", "email", "login"], &["account", "name"]];
/// Values that are a form's switches, not credentials.
const SWITCHES: &[&str] = &["", "on", "off", "true", "false", "yes", "no", "0", "1"];

/// Finds the login in `xs`, or says why there is none.
pub fn find(xs: &[Exchange]) -> Result<Login, String> {
    if xs
        .iter()
        .all(|x| x.cookies.is_empty() && x.set_cookies.is_empty())
    {
        return Err(
            "the recording holds no cookies. Browsers leave them out of a \"sanitized\" \
                    export: in Chromium's DevTools, export with \"Export HAR (with sensitive \
                    data)\"; Firefox keeps them"
                .into(),
        );
    }
    let (at, cookie) = login_exchange(xs)?;
    let x = &xs[at];
    let later = xs[at + 1..]
        .iter()
        .filter(|y| y.sends_cookie(&cookie).is_some())
        .count();
    let why = vec![format!(
        "The session cookie, {cookie}: set by {}, sent by the {later} requests after it.",
        x.label()
    )];
    let mut login = Request::of(x);
    login.why.push(format!(
        "The login: {}, the first request with a body answered with the session cookie.",
        x.label()
    ));
    let Found {
        user,
        secrets,
        tokens,
    } = fields_of(xs, at, &mut login);
    // Where the login's answer is a redirect the browser followed, the page it led to is
    // the login's answer (where the user is shown).
    let mut answered_at = at;
    if let Some(to) = x.redirect() {
        if xs
            .get(at + 1)
            .is_some_and(|y| y.method == "GET" && x.redirect_route() == Some(y.route()))
        {
            login.follow = 1;
            answered_at = at + 1;
            login.why.push(format!(
                "Its redirect to {to} is followed: that page is its answer."
            ));
        }
    }
    if let Some(u) = &user {
        if let Some(l) = locate(&xs[answered_at], u, Shape::Text) {
            login
                .why
                .push(format!("Its answer shows the user in {}.", l.describe()));
            login.read("user", l);
        }
    }
    let mut steps = token_steps(xs, tokens);
    steps.push(login);
    Ok(Login {
        steps,
        cookie,
        answered_at,
        user,
        secrets,
        why,
    })
}

/// The login's place in `xs` and the session cookie its answer set.
fn login_exchange(xs: &[Exchange]) -> Result<(usize, String), String> {
    let candidates: Vec<(usize, Vec<String>)> = xs
        .iter()
        .enumerate()
        .filter(|(_, x)| x.method != "GET" && !fields(&x.body).is_empty())
        .filter_map(|(i, x)| {
            let kept: Vec<String> = x
                .set_cookies
                .iter()
                .filter(|(k, v)| {
                    !v.is_empty() && xs[i + 1..].iter().any(|y| y.sends_cookie(k) == Some(v))
                })
                .map(|(k, _)| k.clone())
                .collect();
            (!kept.is_empty()).then_some((i, kept))
        })
        .collect();
    let credentials = |i: usize| {
        fields(&xs[i].body).iter().any(|(k, _)| {
            let k = short_name(k);
            like(k, PASSWORDISH) || USERISH.iter().any(|stems| like(k, stems))
        })
    };
    let (at, cookies) = candidates
        .iter()
        .find(|(i, _)| credentials(*i))
        .or(candidates.first())
        .cloned()
        .ok_or(
            "found no login: no request with a form or JSON body was answered with a cookie \
             that later requests send. Record from before signing in to after it",
        )?;
    let names = cookies.iter().map(String::as_str);
    let cookie = best(names.clone(), SESSIONISH)
        .or_else(|| names.clone().find(|c| !like(c, TOKENISH)))
        .unwrap_or(&cookies[0])
        .to_string();
    Ok((at, cookie))
}

/// What the login's fields and headers are: the user, secrets, tokens from earlier answers.
struct Found {
    user: Option<String>,
    secrets: Vec<String>,
    tokens: Vec<(usize, String, Locator)>,
}

/// Makes the login's fields and headers stand for what they are (in `login`).
fn fields_of(xs: &[Exchange], at: usize, login: &mut Request) -> Found {
    let x = &xs[at];
    let mut user = None;
    let mut secrets = vec![];
    let mut tokens: Vec<(usize, String, Locator)> = vec![];
    let all = login_fields(&x.body);
    let user_field = best(all.iter().map(|(k, _)| short_name(k)), USERISH).map(str::to_string);
    for (name, value) in all {
        let short = short_name(&name);
        let token = (value.len() >= 8)
            .then(|| token_source(xs, at, &value))
            .flatten();
        if like(short, PASSWORDISH) && !like(short, TOKENISH) {
            secret(login, &name, short, value, &mut secrets);
        } else if user.is_none() && user_field.as_deref() == Some(short) {
            login.why.push(format!(
                "`{name}` is the user: each session signs in as a user of its own ({{user}}, e.g. v3.12). An app that only knows real accounts needs ${{LOGIN_USER}} here (every session then shares it)."
            ));
            user = Some(value.clone());
            secrets.push(value);
            login.set(&name, Field::Placeholder("user"));
        } else if let Some((source, locator)) = token {
            let p = unique_name(&name, &tokens);
            login.why.push(format!(
                "`{name}` is a token: its value was in the answer of {} ({}), so a step before the login reads it as {{{p}}}.",
                xs[source].label(),
                locator.describe()
            ));
            tokens.push((source, p.clone(), locator));
            login.set(&name, Field::Extracted(p));
        } else if SWITCHES.contains(&value.to_ascii_lowercase().as_str())
            || xs[..at].iter().any(|y| y.text.contains(&value))
        {
            // A switch (remember me), or a value a page gave the browser: sent as recorded.
        } else {
            // Typed by the user, and not the user's name: a credential until shown otherwise.
            secret(login, &name, short, value, &mut secrets);
        }
    }
    for (name, value) in &x.headers {
        if let Some((source, locator)) = header_token(xs, at, name, value) {
            let p = unique_name(name, &tokens);
            login.why.push(format!(
                "Header {name} is a token: its value was in the answer of {} ({}), read as {{{p}}}.",
                xs[source].label(),
                locator.describe()
            ));
            tokens.push((source, p.clone(), locator));
            login.headers.push((name.clone(), Field::Extracted(p)));
        } else if name.eq_ignore_ascii_case("authorization") {
            login
                .why
                .push("Header Authorization is a secret: ${secret:LOGIN_AUTHORIZATION}.".into());
            secrets.push(value.clone());
            login
                .headers
                .push((name.clone(), Field::Secret("LOGIN_AUTHORIZATION".into())));
        }
    }
    Found {
        user,
        secrets,
        tokens,
    }
}

/// Makes field `name` of the login a secret: `${secret:LOGIN_PASSWORD}` for a password,
/// `LOGIN_<NAME>` for anything else typed.
fn secret(login: &mut Request, name: &str, short: &str, value: String, secrets: &mut Vec<String>) {
    let var = if like(short, &["pass", "pwd", "pw"]) {
        "LOGIN_PASSWORD".to_string()
    } else {
        format!("LOGIN_{}", placeholder_name(short).to_ascii_uppercase())
    };
    login.why.push(format!(
        "`{name}` is a secret: give it as ${{secret:{var}}} in the environment (the recorded value is not copied)."
    ));
    secrets.push(value);
    login.set(name, Field::Secret(var));
}

/// The latest answer before `at` that shows `value` (a token: 8 characters at least).
fn token_source(xs: &[Exchange], at: usize, value: &str) -> Option<(usize, Locator)> {
    if value.len() < 8 {
        return None;
    }
    (0..at)
        .rev()
        .find_map(|i| locate(&xs[i], value, Shape::Text).map(|l| (i, l)))
}

const ORDINARY_HEADERS: &[&str] = &[
    "cookie",
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "origin",
    "referer",
    "connection",
    "cache-control",
    "pragma",
    "upgrade-insecure-requests",
    "dnt",
    "priority",
    "authorization",
];

fn header_token(xs: &[Exchange], at: usize, name: &str, value: &str) -> Option<(usize, Locator)> {
    let n = name.to_ascii_lowercase();
    if n.starts_with(':')
        || n.starts_with("accept")
        || n.starts_with("sec-")
        || ORDINARY_HEADERS.contains(&n.as_str())
    {
        return None;
    }
    token_source(xs, at, value)
}

fn unique_name(field: &str, taken: &[(usize, String, Locator)]) -> String {
    let mut p = placeholder_name(field);
    if BUILT_IN.contains(&p.as_str()) {
        p.push_str("_token");
    }
    while taken.iter().any(|(_, t, _)| *t == p) {
        p.push('_');
    }
    p
}

/// A step per answer that holds tokens, in the recording's order.
fn token_steps(xs: &[Exchange], mut tokens: Vec<(usize, String, Locator)>) -> Vec<Request> {
    tokens.sort_by_key(|(i, ..)| *i);
    let mut steps: Vec<(usize, Request)> = vec![];
    for (i, name, locator) in tokens {
        if steps.last().is_none_or(|(j, _)| *j != i) {
            let mut step = Request::of(&xs[i]);
            step.why.push(format!(
                "A step of the login: {}, whose answer holds a token.",
                xs[i].label()
            ));
            steps.push((i, step));
        }
        steps
            .last_mut()
            .expect("pushed")
            .1
            .extract
            .push((name, locator));
    }
    steps.into_iter().map(|(_, s)| s).collect()
}
