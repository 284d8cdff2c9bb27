//! An application's own API, as the suite's request templates describe it: the request of
//! each operation, and how to read an answer (signed out, the user, the counter, the value,
//! the serving node). Built from a checked plan, so building cannot fail on a valid suite.

use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use hyper::{Method, StatusCode};
use regex_lite::Regex;
use serde_json::Value;

use super::exchange::{Call, Cookies, Reply};
use super::extract::Extractor;
use super::step::{Reading, Step, outcome_of};
use super::template::{Scope, Template, Vars, percent, verbatim};
use crate::history::{LOGOUT_FAILED, NO_SESSION, OpKind, Outcome, View};
use sessionbench_model::plan::{Body, Extract, HttpApi, RequestPlan};

/// A login's last step: the one whose answer is the login's (`request` clamps to it).
const LAST_STEP: usize = usize::MAX;

#[derive(Debug)]
pub struct Api {
    base_path: String,
    /// Its steps; the last one's answer is the login's.
    login: Vec<Request>,
    /// Every name the login steps extract, in order: `{name}`'s index.
    names: Vec<String>,
    read: Request,
    write: Option<Request>,
    counter: Option<Request>,
    logout: Option<Request>,
    cookie: Option<String>,
    node: Extractor,
    logged_out: SignedOut,
    /// The counter a new session starts with, as the suite says: the login's if it shows none.
    counter_starts_at: Option<u64>,
}

#[derive(Debug)]
struct Request {
    method: Method,
    path: Template,
    headers: Vec<(HeaderName, Template)>,
    body: Option<BodyTemplate>,
    user: Option<Extractor>,
    counter: Option<Extractor>,
    value: Option<Extractor>,
    /// Name index and where to find it.
    extract: Vec<(usize, Extractor)>,
    follow_redirects: u32,
    /// For a logout: what its answer shows when it worked.
    shows: Option<ShowsMatcher>,
}

#[derive(Debug)]
struct ShowsMatcher {
    status: Vec<u16>,
    field: Option<Extractor>,
    equals: Option<String>,
}

impl ShowsMatcher {
    /// `None` when the answer shows it; else what it showed instead.
    fn missing(&self, reply: &Reply, cookies: Cookies) -> Option<String> {
        let status = reply.status.as_u16();
        if !self.status.is_empty() && !self.status.contains(&status) {
            return Some(format!("status {status}, not one of {:?}", self.status));
        }
        let field = self.field.as_ref()?;
        match (field.find(reply, &mut None, cookies), &self.equals) {
            (None, _) => Some("the field is not in the answer".into()),
            (Some(found), Some(want)) if found != *want => Some(format!("`{found}`, not `{want}`")),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum BodyTemplate {
    Json(JsonTemplate),
    Form(Vec<(Template, Template)>),
    Text(Template),
}

/// A JSON body whose strings are templates.
#[derive(Debug)]
enum JsonTemplate {
    Other(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

#[derive(Debug)]
struct SignedOut {
    status: Vec<u16>,
    redirect: Option<String>,
    body: Option<Regex>,
}

/// What is wrong with one part of an API description: the key under the request, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub key: String,
    pub message: String,
}

fn at(key: impl Into<String>) -> impl FnOnce(String) -> ApiError {
    let key = key.into();
    move |message| ApiError { key, message }
}

impl Api {
    /// Checks and prepares every template, extractor and pattern of `plan`; every problem is
    /// returned, keyed by where it is under the target (`requests.login.path`, `served-by`, …).
    pub fn build(plan: &HttpApi) -> Result<Self, Vec<ApiError>> {
        let mut errors = Vec::new();
        let names: Vec<String> = plan
            .login
            .iter()
            .flat_map(|r| r.extract.iter().map(|(n, _)| n.clone()))
            .collect();
        let mut request = |name: &str, r: &RequestPlan, extracted: usize| -> Option<Request> {
            let scope = Scope {
                value: name == "write",
                extracted,
                all: &names,
            };
            match Request::build(r, scope) {
                Ok(req) => Some(req),
                Err(e) => {
                    errors.extend(e.into_iter().map(|e| ApiError {
                        key: format!("requests.{name}.{}", e.key),
                        message: e.message,
                    }));
                    None
                }
            }
        };
        let mut login = Vec::new();
        let mut extracted = 0;
        for (i, step) in plan.login.iter().enumerate() {
            let name = if plan.login.len() == 1 {
                "login".to_string()
            } else {
                format!("login.{i}")
            };
            login.push(request(&name, step, extracted));
            extracted += step.extract.len();
        }
        let login: Option<Vec<Request>> = login.into_iter().collect();
        let all = names.len();
        let read = request("read", &plan.read, all);
        let write = plan.write.as_ref().map(|r| request("write", r, all));
        let counter = plan.counter.as_ref().map(|r| request("counter", r, all));
        let logout = plan.logout.as_ref().map(|r| request("logout", r, all));
        let default_node = Extract::Header("x-sessionbench-node".into());
        let node = Extractor::compile(plan.node.as_ref().unwrap_or(&default_node))
            .map_err(|m| errors.push(at("served-by")(m)))
            .ok();
        let body = plan.logged_out.body.as_deref().map(|b| {
            Regex::new(b)
                .map_err(|e| errors.push(at("logged-out.body")(format!("not a valid regex: {e}"))))
                .ok()
        });
        match (login, read, write, counter, logout, node, body) {
            (Some(login), Some(read), write, counter, logout, Some(node), body)
                if errors.is_empty() && !login.is_empty() =>
            {
                Ok(Self {
                    base_path: plan.base_path.trim_end_matches('/').to_string(),
                    login,
                    names,
                    read,
                    write: write.flatten(),
                    counter: counter.flatten(),
                    logout: logout.flatten(),
                    cookie: plan.cookie.clone(),
                    node,
                    logged_out: SignedOut {
                        status: plan.logged_out.status.clone(),
                        redirect: plan.logged_out.redirect.clone(),
                        body: body.flatten(),
                    },
                    counter_starts_at: plan.counter_starts_at,
                })
            }
            _ => Err(errors),
        }
    }

    fn request(&self, kind: OpKind, part: usize) -> &Request {
        let optional = match kind {
            OpKind::Login => return &self.login[part.min(self.login.len() - 1)],
            OpKind::Read | OpKind::Probe | OpKind::FinalRead => return &self.read,
            OpKind::Write => &self.write,
            OpKind::Counter => &self.counter,
            OpKind::Logout => &self.logout,
        };
        // Validation refuses a mix with an operation the API has no request for.
        optional.as_ref().unwrap_or(&self.read)
    }

    /// How many requests a login is.
    pub fn login_steps(&self) -> usize {
        self.login.len()
    }

    /// Redirects the request of `kind` (login step `part`) follows.
    pub fn follow_redirects(&self, kind: OpKind, part: usize) -> u32 {
        self.request(kind, part).follow_redirects
    }

    /// Reads what login step `part` extracts from its answer into `extracted` (by name
    /// index); the error names what is missing.
    pub fn extract(
        &self,
        part: usize,
        reply: &Reply,
        cookies: Cookies,
        extracted: &mut Vec<String>,
    ) -> Result<(), String> {
        let mut json = None;
        for (i, e) in &self.request(OpKind::Login, part).extract {
            let Some(found) = e.find(reply, &mut json, cookies) else {
                return Err(format!("no `{}` in the answer", self.names[*i]));
            };
            if extracted.len() <= *i {
                extracted.resize(*i + 1, String::new());
            }
            extracted[*i] = found;
        }
        Ok(())
    }

    pub fn call(&self, step: &Step) -> Call {
        let r = self.request(step.kind, step.part);
        let vars = Vars {
            user: step.user,
            seq: step.seq,
            value: step.write.map_or("", |(_, w)| w),
            extracted: step.extracted,
        };
        let mut call = Call::new(
            r.method.clone(),
            format!("{}{}", self.base_path, r.path.render(&vars, percent)),
        );
        match &r.body {
            None => {}
            Some(BodyTemplate::Json(j)) => call = call.json(&j.render(&vars)),
            Some(BodyTemplate::Form(fields)) => {
                let pairs: Vec<String> = fields
                    .iter()
                    // The whole field is encoded: a form's text is data, not syntax.
                    .map(|(k, v)| {
                        let field = |t: &Template| percent(&t.render(&vars, verbatim)).into_owned();
                        format!("{}={}", field(k), field(v))
                    })
                    .collect();
                call.headers.push((
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                ));
                call.body = pairs.join("&").into_bytes();
            }
            Some(BodyTemplate::Text(t)) => call.body = t.render(&vars, verbatim).into_bytes(),
        }
        for (name, value) in &r.headers {
            // Checked at validation with placeholders filled by sample values; a user name is
            // made of visible ASCII, so this cannot fail on a checked suite.
            if let Ok(v) = HeaderValue::try_from(value.render(&vars, verbatim)) {
                call.headers.push((name.clone(), v));
            }
        }
        call
    }

    /// The session cookie's name, if the suite gives it.
    pub fn session_cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    pub fn read(&self, kind: OpKind, reply: &Reply, cookies: Cookies) -> Reading {
        let mut json = None;
        let node = self.node.find(reply, &mut json, cookies);
        let reading = |outcome, error: Option<String>, view| Reading {
            outcome,
            error,
            node: node.clone(),
            view,
        };
        let status = reply.status;
        // A logout's answer looks signed out by design: it judges nothing.
        if kind != OpKind::Logout && self.logged_out.matches(reply) {
            let error = if kind == OpKind::Login {
                "login-refused"
            } else {
                NO_SESSION
            };
            return reading(Outcome::Fail, Some(error.into()), None);
        }
        // A redirect that is not to the login page is the app's ordinary answer (post,
        // redirect, get).
        let outcome = if status.is_redirection() {
            Outcome::Ok
        } else {
            outcome_of(status)
        };
        if outcome != Outcome::Ok {
            return reading(outcome, Some(format!("http-{}", status.as_u16())), None);
        }
        let r = self.request(kind, LAST_STEP);
        // Only a logout's request has `shows`.
        if let Some(why) = r.shows.as_ref().and_then(|s| s.missing(reply, cookies)) {
            return reading(Outcome::Fail, Some(format!("{LOGOUT_FAILED}: {why}")), None);
        }
        if let (OpKind::Login, Some(cookie)) = (kind, &self.cookie) {
            if cookies(cookie).is_none() {
                return reading(
                    Outcome::Fail,
                    Some(format!("no-cookie: the login left no `{cookie}` cookie")),
                    None,
                );
            }
        }
        let mut missing = Vec::new();
        let mut field = |name: &str, e: &Option<Extractor>, json: &mut Option<Option<Value>>| {
            let e = e.as_ref()?;
            let found = e.find(reply, json, cookies);
            if found.is_none() {
                missing.push(name.to_string());
            }
            found
        };
        let user = field("user", &r.user, &mut json);
        let counter_text = field("counter", &r.counter, &mut json);
        let value = r.value.as_ref().map(|e| e.find(reply, &mut json, cookies));
        let counter = match counter_text {
            Some(text) => match text.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    missing.push(format!("counter (`{text}` is not a number)"));
                    None
                }
            },
            None if kind == OpKind::Login => self.counter_starts_at,
            None => None,
        };
        if !missing.is_empty() {
            // Maybe applied, maybe not: an answer that cannot be read judges nothing.
            return reading(
                Outcome::Indeterminate,
                Some(format!(
                    "unreadable: no {} in the answer",
                    missing.join(", ")
                )),
                None,
            );
        }
        let view = (user.is_some() || counter.is_some() || value.is_some()).then(|| View {
            user,
            counter,
            version: None,
            attrs: value.map(|v| v.map(|v| ("value".to_string(), v)).into_iter().collect()),
        });
        reading(Outcome::Ok, None, view)
    }
}

impl SignedOut {
    fn matches(&self, reply: &Reply) -> bool {
        let status = reply.status;
        if self.status.contains(&status.as_u16()) {
            return true;
        }
        if let Some(to) = &self.redirect {
            let location = reply.headers.get(LOCATION).and_then(|v| v.to_str().ok());
            if status.is_redirection() && location.is_some_and(|l| l.contains(to.as_str())) {
                return true;
            }
        }
        self.body.as_ref().is_some_and(|re| {
            status != StatusCode::SERVICE_UNAVAILABLE
                && std::str::from_utf8(&reply.body).is_ok_and(|b| re.is_match(b))
        })
    }
}

/// Collects what is wrong with one request, each under its key.
struct Problems<'a> {
    errors: Vec<ApiError>,
    scope: Scope<'a>,
}

impl Problems<'_> {
    fn push(&mut self, key: &str, message: String) {
        self.errors.push(at(key)(message));
    }

    fn template(&mut self, key: &str, text: &str) -> Option<Template> {
        Template::parse(text, self.scope)
            .map_err(|m| self.push(key, m))
            .ok()
    }

    fn extractor(&mut self, key: &str, e: Option<&Extract>) -> Option<Extractor> {
        Extractor::compile(e?).map_err(|m| self.push(key, m)).ok()
    }
}

impl Request {
    fn build(r: &RequestPlan, scope: Scope) -> Result<Self, Vec<ApiError>> {
        let mut p = Problems {
            errors: Vec::new(),
            scope,
        };
        let path = p.template("path", &r.path);
        if !r.path.starts_with('/') {
            p.push("path", format!("`{}` must start with `/`", r.path));
        }
        let mut headers = Vec::new();
        for (name, value) in &r.headers {
            let key = format!("headers.{name}");
            let Some(t) = p.template(&key, value) else {
                continue;
            };
            let sample = t.render(&SAMPLE, verbatim);
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(sample),
            ) {
                (Ok(n), Ok(_)) => headers.push((n, t)),
                (Err(_), _) => p.push(&key, format!("`{name}` is not a valid header name")),
                (_, Err(_)) => p.push(&key, "not a valid header value".into()),
            }
        }
        let body = match &r.body {
            None => None,
            Some(Body::Json(v)) => JsonTemplate::build(v, scope)
                .map(BodyTemplate::Json)
                .map_err(|m| p.push("json", m))
                .ok(),
            Some(Body::Form(fields)) => {
                let mut parsed = Vec::new();
                for (k, v) in fields {
                    let key = format!("form.{k}");
                    if let (Some(k), Some(v)) = (p.template(&key, k), p.template(&key, v)) {
                        parsed.push((k, v));
                    }
                }
                Some(BodyTemplate::Form(parsed))
            }
            Some(Body::Text(t)) => p.template("body", t).map(BodyTemplate::Text),
        };
        let method = Method::from_bytes(r.method.as_bytes())
            .map_err(|_| p.push("method", format!("`{}` is not an HTTP method", r.method)))
            .ok();
        let user = p.extractor("user", r.user.as_ref());
        let counter = p.extractor("counter", r.counter.as_ref());
        let value = p.extractor("value", r.value.as_ref());
        let shows = r.shows.as_ref().map(|s| ShowsMatcher {
            status: s.status.clone(),
            field: p.extractor("shows", s.field.as_ref()),
            equals: s.equals.clone(),
        });
        let mut extract = Vec::new();
        for (name, e) in &r.extract {
            let index = scope.all.iter().position(|n| n == name).unwrap_or(0);
            extract.extend(
                p.extractor(&format!("extract.{name}"), Some(e))
                    .map(|e| (index, e)),
            );
        }
        match (method, path) {
            (Some(method), Some(path)) if p.errors.is_empty() => Ok(Self {
                method,
                path,
                headers,
                body,
                user,
                counter,
                value,
                extract,
                follow_redirects: r.follow_redirects,
                shows,
            }),
            _ => Err(p.errors),
        }
    }
}

/// Placeholder values for checking what templates make of them (headers must stay valid).
const SAMPLE: Vars = Vars {
    user: "v0.0",
    seq: 0,
    value: "v0.0:1",
    extracted: &[],
};

impl JsonTemplate {
    fn build(v: &Value, scope: Scope) -> Result<Self, String> {
        Ok(match v {
            Value::String(s) => Self::Text(Template::parse(s, scope)?),
            Value::Array(a) => Self::Array(
                a.iter()
                    .map(|v| Self::build(v, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Self::Object(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::build(v, scope)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Self::Other(other.clone()),
        })
    }

    fn render(&self, vars: &Vars) -> Value {
        match self {
            Self::Other(v) => v.clone(),
            Self::Text(t) => Value::String(t.render(vars, verbatim)),
            Self::Array(a) => Value::Array(a.iter().map(|j| j.render(vars)).collect()),
            Self::Object(o) => {
                Value::Object(o.iter().map(|(k, j)| (k.clone(), j.render(vars))).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderMap;
    use sessionbench_model::plan::LoggedOut;

    fn request(method: &str, path: &str) -> RequestPlan {
        RequestPlan {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            user: None,
            counter: None,
            value: None,
            extract: Vec::new(),
            follow_redirects: 0,
            shows: None,
        }
    }

    fn shop() -> HttpApi {
        let mut login = request("POST", "/login");
        login.body = Some(Body::Form(vec![
            ("name".into(), "{user}".into()),
            ("password".into(), "secret & more".into()),
        ]));
        let mut read = request("GET", "/account");
        read.user = Some(Extract::Regex("as <b>([^<]+)</b>".into()));
        read.counter = Some(Extract::Regex("items: (\\d+)".into()));
        read.value = Some(Extract::Regex("note: (\\S+)<".into()));
        let mut write = request("PUT", "/note/{seq}");
        write.body = Some(Body::Json(serde_json::json!({ "note": "{value}", "n": 1 })));
        write.headers = vec![("X-Who".into(), "{user}".into())];
        HttpApi {
            base_path: "/shop/".into(),
            login: vec![login],
            read,
            write: Some(write),
            counter: None,
            logout: None,
            cookie: Some("SID".into()),
            node: Some(Extract::Header("x-served-by".into())),
            logged_out: LoggedOut {
                status: vec![401],
                redirect: Some("/login".into()),
                body: Some("Please sign in".into()),
            },
            counter_starts_at: Some(0),
        }
    }

    fn reply(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        Reply {
            status: StatusCode::from_u16(status).expect("status"),
            headers: map,
            body: body.to_string().into(),
        }
    }

    fn step(kind: OpKind, write: Option<(&'static str, &'static str)>) -> Step<'static> {
        Step {
            kind,
            user: "v1.2",
            seq: 3,
            write,
            part: 0,
            extracted: &[],
        }
    }

    #[test]
    fn requests_are_rendered_from_their_templates() {
        let api = Api::build(&shop()).expect("valid");
        let login = api.call(&step(OpKind::Login, None));
        assert_eq!(
            (login.method.as_str(), &*login.path),
            ("POST", "/shop/login")
        );
        assert_eq!(
            String::from_utf8(login.body).expect("utf-8"),
            "name=v1.2&password=secret%20%26%20more"
        );
        let write = api.call(&step(OpKind::Write, Some(("value", "v1.2:3"))));
        assert_eq!(write.path, "/shop/note/3");
        assert_eq!(
            serde_json::from_slice::<Value>(&write.body).expect("json"),
            serde_json::json!({ "note": "v1.2:3", "n": 1 })
        );
        assert!(
            write
                .headers
                .iter()
                .any(|(n, v)| n == "x-who" && v == "v1.2")
        );
        assert_eq!(api.call(&step(OpKind::Probe, None)).path, "/shop/account");
    }

    #[test]
    fn answers_are_read_as_signed_out_unreadable_or_a_view() {
        let api = Api::build(&shop()).expect("valid");
        let read = |r: &Reply| api.read(OpKind::Read, r, &|_| Some("s".into()));
        let page = "<p>as <b>v1.2</b> items: 4 note: v1.2:3</p>";
        let ok = read(&reply(200, &[("x-served-by", "app2")], page));
        assert_eq!(ok.outcome, Outcome::Ok);
        assert_eq!(ok.node.as_deref(), Some("app2"));
        let view = ok.view.expect("a view");
        assert_eq!(view.user.as_deref(), Some("v1.2"));
        assert_eq!(view.counter, Some(4));
        assert_eq!(view.attrs.expect("value shown")["value"], "v1.2:3");
        // No value yet is not an error; an empty map says "shown, and none".
        let fresh = read(&reply(200, &[], "<p>as <b>v1.2</b> items: 0</p>"));
        assert_eq!(fresh.view.expect("a view").attrs, Some(Default::default()));
        for signed_out in [
            reply(401, &[], ""),
            reply(302, &[("location", "/shop/login?next=/account")], ""),
            reply(200, &[], "<form>Please sign in</form>"),
        ] {
            let r = read(&signed_out);
            assert_eq!(
                (r.outcome, r.error.as_deref()),
                (Outcome::Fail, Some("no-session"))
            );
        }
        let redirect = read(&reply(303, &[("location", "/shop/account")], ""));
        assert_eq!(redirect.outcome, Outcome::Indeterminate, "no user shown");
        assert!(redirect.error.expect("why").contains("no user, counter"));
        assert_eq!(read(&reply(502, &[], "")).outcome, Outcome::Indeterminate);
        assert_eq!(
            read(&reply(503, &[], "")).error.as_deref(),
            Some("http-503")
        );
        let login = |signed_in: bool| {
            let jar = move |_: &str| signed_in.then(|| "s".to_string());
            api.read(OpKind::Login, &reply(200, &[], ""), &jar)
        };
        assert_eq!(login(true).outcome, Outcome::Ok);
        // The login shows no counter: the one the suite says a session starts with.
        assert_eq!(login(true).view.and_then(|v| v.counter), Some(0));
        assert!(login(false).error.expect("why").contains("no `SID` cookie"));
    }

    #[test]
    fn every_bad_part_is_reported_with_its_key() {
        let mut api = shop();
        api.login[0].path = "login/{usr}".into();
        api.login[0].method = "P OST".into();
        api.read.counter = Some(Extract::Pointer("items".into()));
        api.read.headers = vec![("X-Bad".into(), "a\nb".into())];
        let mut counter = request("POST", "/add?v={value}");
        counter.body = Some(Body::Json(serde_json::json!({ "x": ["{nope}"] })));
        api.counter = Some(counter);
        api.node = Some(Extract::Regex("(".into()));
        api.logged_out.body = Some("[".into());
        let errors = Api::build(&api).expect_err("invalid");
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "requests.login.path",
                "requests.login.path",
                "requests.login.method",
                "requests.read.headers.X-Bad",
                "requests.read.counter",
                "requests.counter.path",
                "requests.counter.json",
                "served-by",
                "logged-out.body",
            ],
            "{errors:?}"
        );
    }

    #[test]
    fn login_steps_extract_values_that_later_steps_and_requests_use() {
        let mut page = request("GET", "/login");
        page.extract = vec![
            (
                "csrf".into(),
                Extract::Regex(r#"name="csrf" value="([^"]+)""#.into()),
            ),
            ("pre".into(), Extract::Cookie("PRE".into())),
        ];
        let mut form = request("POST", "/login?pre={pre}");
        form.body = Some(Body::Form(vec![
            ("user".into(), "{user}".into()),
            ("csrf".into(), "{csrf}".into()),
        ]));
        form.follow_redirects = 2;
        let mut plan = shop();
        plan.login = vec![page, form];
        plan.read.headers = vec![("X-CSRF".into(), "{csrf}".into())];
        let api = Api::build(&plan).expect("valid");
        assert_eq!(api.login_steps(), 2);
        assert_eq!(api.follow_redirects(OpKind::Login, 1), 2);
        let answer = reply(200, &[], r#"<input name="csrf" value="t0k&en">"#);
        let mut extracted = Vec::new();
        let jar = |name: &str| (name == "PRE").then(|| "p1".to_string());
        api.extract(0, &answer, &jar, &mut extracted)
            .expect("both found");
        assert_eq!(extracted, ["t0k&en", "p1"]);
        let step = Step {
            part: 1,
            extracted: &extracted,
            ..step(OpKind::Login, None)
        };
        let call = api.call(&step);
        assert_eq!(call.path, "/shop/login?pre=p1");
        assert_eq!(
            String::from_utf8(call.body).expect("utf-8"),
            "user=v1.2&csrf=t0k%26en"
        );
        let read = api.call(&Step {
            kind: OpKind::Read,
            ..step
        });
        assert!(
            read.headers
                .iter()
                .any(|(n, v)| n == "x-csrf" && v == "t0k&en")
        );
        let missing = api.extract(0, &reply(200, &[], "<p>no form</p>"), &jar, &mut extracted);
        assert_eq!(missing, Err("no `csrf` in the answer".into()));
    }

    #[test]
    fn a_name_used_before_its_step_extracts_it_is_refused_with_its_key() {
        let mut first = request("POST", "/login?t={csrf}");
        first.extract = vec![("csrf".into(), Extract::Header("x-csrf".into()))];
        let mut plan = shop();
        plan.login = vec![first, request("POST", "/login/{csrf}")];
        let errors = Api::build(&plan).expect_err("used too early");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "requests.login.0.path");
        assert!(
            errors[0]
                .message
                .contains("before a login step extracts it")
        );
    }
}
