//! What a signed-in user did in the recording, made the suite's operations: the logout (by
//! its path, or the answer that deleted the session cookie), the counter (an action whose
//! answer's number went up by one each time), the write (a value sent that a later page
//! showed), the read (the page showing most of the user, the counter and the written value),
//! and what a request without the cookie was answered (the logged-out signal).

use super::find::{Locator, Shape, locate, numbers};
use super::login::Login;
use super::recording::Exchange;
use super::request::{Field, Request, TOKENISH, fields, like, short_name};

/// What "signed out" looks like, and what it was seen on.
#[derive(Debug)]
pub enum LoggedOut {
    Redirect(String, String),
    Status(u16, String),
    /// Not seen: 401 is assumed.
    Assumed,
}

#[derive(Debug)]
pub struct Ops {
    pub read: Request,
    pub write: Option<Request>,
    pub counter: Option<Request>,
    pub logout: Option<Request>,
    pub logged_out: LoggedOut,
    pub served_by: Option<String>,
    /// What was looked for and not found.
    pub missing: Vec<String>,
}

const LOGOUTISH: &[&str] = &[
    "logout", "signout", "sign-out", "log-out", "sign_out", "log_out",
];
const SERVED_BY: &[&str] = &[
    "served-by",
    "backend",
    "upstream",
    "instance",
    "node",
    "server-id",
    "hostname",
    "pod",
];

pub fn find(xs: &[Exchange], login: &Login) -> Result<Ops, String> {
    let cookie = login.cookie.as_str();
    let signed_in: Vec<usize> = (login.answered_at + 1..xs.len())
        .filter(|&j| xs[j].sends_cookie(cookie).is_some_and(|v| !v.is_empty()))
        .collect();
    let mut missing = vec![];
    let logout = signed_in.iter().copied().find(|&j| {
        let route = xs[j].route().to_ascii_lowercase();
        LOGOUTISH.iter().any(|w| route.contains(w)) || xs[j].sets_cookie(cookie) == Some("")
    });
    let actions: Vec<usize> = signed_in
        .iter()
        .copied()
        .filter(|&j| Some(j) != logout && xs[j].method != "GET")
        .collect();
    let counter = counter(xs, &actions, login);
    let counted: Vec<usize> = counter
        .as_ref()
        .map(|c| c.calls.clone())
        .unwrap_or_default();
    let write = write(xs, &actions, &counted, &signed_in, login);
    let read = read(xs, &signed_in, logout, counter.as_ref(), write.as_ref(), login)
        .ok_or("found no page or API call to read after the login: record a visit to a page that shows the signed-in user")?;
    let routes: Vec<&str> = signed_in.iter().map(|&j| xs[j].route()).collect();
    let logged_out = logged_out(
        xs,
        login,
        logout,
        read.path.split('?').next().unwrap_or(""),
        &routes,
    );
    let served_by = served_by(xs, &signed_in);
    let write = match write {
        Some(w) => Some(w.request),
        None => {
            missing.push("No write: no value sent after the login showed on a later page (stale reads of a written value are not checked).".into());
            None
        }
    };
    let counter = match counter {
        Some(c) => Some(c.request),
        None => {
            missing.push("No counter: no action answered a number that went up by one each time it was repeated (record one twice to get lost-update checks).".into());
            None
        }
    };
    let logout = match logout {
        Some(j) => {
            let mut r = Request::of(&xs[j]);
            r.why.push(format!("The logout: {}.", xs[j].label()));
            Some(r)
        }
        None => {
            missing.push("No logout: no request after the login was one (its path, or an answer that deleted the session cookie).".into());
            None
        }
    };
    Ok(Ops {
        read,
        write,
        counter,
        logout,
        logged_out,
        served_by,
        missing,
    })
}

struct Counter {
    request: Request,
    /// The counter calls, and what each answered.
    calls: Vec<usize>,
    values: Vec<(usize, i64)>,
}

/// An action repeated at least twice whose JSON answer's number went up by one each time.
fn counter(xs: &[Exchange], actions: &[usize], login: &Login) -> Option<Counter> {
    let mut seen: Vec<(&str, &str)> = vec![];
    for &j in actions {
        let key = (xs[j].method.as_str(), xs[j].route());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let calls: Vec<usize> = actions
            .iter()
            .copied()
            .filter(|&k| (xs[k].method.as_str(), xs[k].route()) == key)
            .collect();
        if calls.len() < 2 {
            continue;
        }
        let Some(first) = xs[j].json() else { continue };
        for (pointer, _) in numbers(&first) {
            let values: Option<Vec<(usize, i64)>> = calls
                .iter()
                .map(|&k| Some((k, xs[k].json()?.pointer(&pointer)?.as_i64()?)))
                .collect();
            let Some(values) = values else { continue };
            if values.windows(2).all(|w| w[1].1 == w[0].1 + 1) {
                let mut request = Request::of(&xs[j]);
                request.why.push(format!(
                    "The counter: {}, repeated {} times, its answer's {pointer} going {}.",
                    xs[j].label(),
                    calls.len(),
                    values
                        .iter()
                        .map(|v| v.1.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                request.read("counter", Locator::Pointer(pointer.clone()));
                if let Some(l) = login
                    .user
                    .as_deref()
                    .and_then(|u| locate(&xs[j], u, Shape::Text))
                {
                    request
                        .why
                        .push(format!("Its answer shows the user in {}.", l.describe()));
                    request.read("user", l);
                }
                return Some(Counter {
                    request,
                    calls,
                    values,
                });
            }
        }
    }
    None
}

struct Write {
    request: Request,
    /// The recorded value, and when it was sent.
    value: String,
    at: usize,
}

/// An action whose field's value a later page showed: that field is the write's `{value}`.
fn write(
    xs: &[Exchange],
    actions: &[usize],
    counted: &[usize],
    signed_in: &[usize],
    login: &Login,
) -> Option<Write> {
    for &j in actions.iter().filter(|j| !counted.contains(j)) {
        for (name, value) in fields(&xs[j].body) {
            // A value of its own: not a token, not one a page gave the browser before.
            let given = xs[..j].iter().any(|x| x.text.contains(&value));
            if value.chars().count() < 3
                || login.secrets.contains(&value)
                || like(short_name(&name), TOKENISH)
                || given
            {
                continue;
            }
            let shown = signed_in
                .iter()
                .filter(|&&k| k > j && xs[k].method == "GET")
                .find_map(|&k| locate(&xs[k], &value, Shape::Text).map(|l| (k, l)));
            if let Some((k, l)) = shown {
                let mut request = Request::of(&xs[j]);
                request.why.push(format!(
                    "The write: {}; the value its `{name}` sent showed in {} of {}: each write sends a value of its own ({{value}}).",
                    xs[j].label(),
                    l.describe(),
                    xs[k].label()
                ));
                request.set(&name, Field::Placeholder("value"));
                return Some(Write {
                    request,
                    value,
                    at: j,
                });
            }
        }
    }
    None
}

/// The signed-in GET whose answers show most of the user, the counter and the written value,
/// each guess checked on every answer of that route that should show it.
fn read(
    xs: &[Exchange],
    signed_in: &[usize],
    logout: Option<usize>,
    counter: Option<&Counter>,
    write: Option<&Write>,
    login: &Login,
) -> Option<Request> {
    let gets: Vec<usize> = signed_in
        .iter()
        .copied()
        .filter(|&j| {
            xs[j].method == "GET" && (200..300).contains(&xs[j].status) && !xs[j].text.is_empty()
        })
        .filter(|&j| logout.is_none_or(|l| j < l))
        .collect();
    let mut best: Option<(usize, Request)> = None;
    let mut routes: Vec<&str> = vec![];
    for &j in &gets {
        if routes.contains(&xs[j].route()) {
            continue;
        }
        routes.push(xs[j].route());
        let same: Vec<usize> = gets
            .iter()
            .copied()
            .filter(|&k| xs[k].route() == xs[j].route())
            .collect();
        let mut r = Request::of(&xs[j]);
        // Each field: the answers that should show a known value, and that value.
        let user: Vec<(usize, String)> = login
            .user
            .iter()
            .flat_map(|u| same.iter().map(move |&k| (k, u.clone())))
            .collect();
        let count: Vec<(usize, String)> = counter
            .map(|c| {
                same.iter()
                    .filter_map(|&k| {
                        c.values
                            .iter()
                            .rev()
                            .find(|(at, _)| *at < k)
                            .map(|(_, v)| (k, v.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let value: Vec<(usize, String)> = write
            .map(|w| {
                same.iter()
                    .filter(|&&k| k > w.at)
                    .map(|&k| (k, w.value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (what, shape, expect) in [
            ("user", Shape::Text, user),
            ("counter", Shape::Number, count),
            ("value", Shape::Text, value),
        ] {
            let Some((k0, v0)) = expect.first() else {
                continue;
            };
            let Some(l) = locate(&xs[*k0], v0, shape) else {
                continue;
            };
            if expect
                .iter()
                .all(|(k, v)| l.read(&xs[*k]).as_deref() == Some(v))
            {
                r.why.push(format!(
                    "It shows the {what} in {} ({} of its answers checked).",
                    l.describe(),
                    expect.len()
                ));
                r.read(what, l);
            }
        }
        if best.as_ref().is_none_or(|(n, _)| r.reads.len() > *n) {
            best = Some((r.reads.len(), r));
        }
    }
    let (_, mut r) = best?;
    r.why.insert(0, format!("The read: GET {}, the signed-in page that shows the most of the user, the counter and the written value.", r.path));
    Some(r)
}

/// A GET without the session cookie to a route signed-in users requested (not the login's
/// own): its redirect, unless a signed-in answer before the logout redirects there too (then
/// it would call that answer signed out), or its 401/403.
fn logged_out(
    xs: &[Exchange],
    login: &Login,
    logout: Option<usize>,
    read: &str,
    routes: &[&str],
) -> LoggedOut {
    let cookie = login.cookie.as_str();
    let unsigned = |x: &&Exchange| x.sends_cookie(cookie).is_none_or(str::is_empty);
    let login_routes: Vec<&str> = login
        .steps
        .iter()
        .map(|s| s.path.split('?').next().unwrap_or(""))
        .collect();
    // A logout's answer is not judged: its redirect to the login page is no signed-in one.
    let signed_in_redirects: Vec<&str> = xs[..logout.unwrap_or(xs.len())]
        .iter()
        .filter(|x| !unsigned(x))
        .filter_map(Exchange::redirect)
        .collect();
    let mut seen: Vec<&Exchange> = xs
        .iter()
        .filter(unsigned)
        .filter(|x| {
            x.method == "GET" && routes.contains(&x.route()) && !login_routes.contains(&x.route())
        })
        .collect();
    seen.sort_by_key(|x| x.route() != read);
    for x in seen {
        if let Some(route) = x.redirect_route() {
            if !signed_in_redirects.iter().any(|r| r.contains(route)) {
                return LoggedOut::Redirect(route.to_string(), x.label());
            }
        }
        if x.status == 401 || x.status == 403 {
            return LoggedOut::Status(x.status, x.label());
        }
    }
    LoggedOut::Assumed
}

fn served_by(xs: &[Exchange], signed_in: &[usize]) -> Option<String> {
    let first = xs.get(*signed_in.first()?)?;
    first
        .answer_headers
        .iter()
        .map(|(k, _)| k)
        .find(|k| {
            let k = k.to_ascii_lowercase();
            SERVED_BY.iter().any(|w| k.contains(w))
                && signed_in.iter().all(|&j| xs[j].answer_header(&k).is_some())
        })
        .cloned()
}
