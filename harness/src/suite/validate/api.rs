//! An external target's `requests`, `logged-out` and `served-by`: the application's own API,
//! for stacks that do not speak the node protocol. Every template, pointer and pattern is
//! compiled here, so a mistake is reported at its line before anything starts.

use super::{Validator, join, key};
use crate::protocol::Api;
use crate::protocol::template::BUILT_IN;
use crate::suite::locate::Seg;
use crate::suite::raw::{
    ExpectRaw, ExtractRaw, LoggedOutRaw, OneOrMany, RequestRaw, RequestsRaw, ShowsRaw,
};
use sessionbench_model::plan::{
    Body, Extract, HttpApi, LoggedOut, Mix, RequestPlan, Shows, TargetPlan,
};

/// Redirects a request may follow: a login through an identity provider takes a few.
const MAX_REDIRECTS: u32 = 20;

/// What a target's raw API keys hold.
pub(super) struct ApiRaw {
    pub requests: Option<RequestsRaw>,
    pub logged_out: Option<LoggedOutRaw>,
    pub served_by: Option<ExtractRaw>,
    /// Given in the target itself (not the default): the session cookie a login must set.
    pub cookie: Option<String>,
    pub base_path: String,
}

impl Validator<'_> {
    /// `None` when the target has no `requests` (it speaks the node protocol).
    pub(super) fn api(&mut self, path: &[Seg], raw: ApiRaw, expect: &ExpectRaw) -> Option<HttpApi> {
        let Some(requests) = raw.requests else {
            let why = "only with `requests` (without them the target must speak the node protocol)";
            self.refuse(
                path,
                &[
                    ("logged-out", raw.logged_out.is_some()),
                    ("served-by", raw.served_by.is_some()),
                ],
                why,
            );
            return None;
        };
        let at = join(path, "requests");
        let counter_starts_at = requests.counter.as_ref().and_then(|r| r.starts_at);
        let login = self.login(&at, requests.login);
        let login_shows = login
            .as_ref()
            .and_then(|l| l.last())
            .is_some_and(|l| l.counter.is_some());
        if counter_starts_at.is_some() && login_shows {
            self.err(
                &join(&join(&at, "counter"), "starts-at"),
                "the login's answer shows the counter: it, not `starts-at`, is where a session starts",
            );
        }
        let read = self.request(&at, "read", requests.read, "GET", true);
        let write = self.request(&at, "write", requests.write, "POST", false);
        let counter = self.request(&at, "counter", requests.counter, "POST", false);
        let logout = self.request(&at, "logout", requests.logout, "POST", false);
        let served_by = raw
            .served_by
            .and_then(|e| self.extract(&join(path, "served-by"), e));
        let logged_out = self.logged_out(&join(path, "logged-out"), raw.logged_out);
        // A missing request is reported above; the others are still checked, on a stand-in.
        let complete = login.is_some() && read.is_some();
        let stand_in = || RequestPlan {
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: None,
            user: None,
            counter: None,
            value: None,
            extract: Vec::new(),
            follow_redirects: 0,
            shows: None,
        };
        let api = HttpApi {
            base_path: raw.base_path,
            login: login.unwrap_or_else(|| vec![stand_in()]),
            read: read.unwrap_or_else(stand_in),
            write,
            counter,
            logout,
            cookie: raw.cookie,
            node: served_by,
            logged_out,
            counter_starts_at,
        };
        if let Err(errors) = Api::build(&api) {
            for e in errors {
                let mut at = path.to_vec();
                // `requests.login.1.path`: the second step of an array of login steps.
                at.extend(e.key.split('.').map(|k| match k.parse::<usize>() {
                    Ok(i) => Seg::Index(i),
                    Err(_) => key(k),
                }));
                self.err(&at, e.message);
            }
        }
        if !complete {
            return None;
        }
        let unseen = [
            (
                "max-stale-reads",
                expect.max_stale_reads.is_some() && !api.shows_state(),
                "reads show no counter, and no value a write sets",
            ),
            (
                "max-monotonic-violations",
                expect.max_monotonic_violations.is_some() && !api.shows_order(),
                "reads show no counter",
            ),
        ];
        for (name, set, why) in unseen {
            if set {
                self.err(
                    &join(&join(path, "expect"), name),
                    format!("cannot be checked: the target's {why} (see `requests.read`)"),
                );
            }
        }
        Some(api)
    }

    /// The login's steps: one table, or an array of them.
    fn login(
        &mut self,
        at: &[Seg],
        raw: Option<OneOrMany<RequestRaw>>,
    ) -> Option<Vec<RequestPlan>> {
        let at_login = join(at, "login");
        let steps = match raw {
            None => {
                self.err(
                    at,
                    "an application's API needs `requests.login` (its method, path and body)",
                );
                return None;
            }
            Some(OneOrMany::One(r)) => vec![(at_login, r)],
            Some(OneOrMany::Many(v)) => v
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut p = at_login.clone();
                    p.push(Seg::Index(i));
                    (p, r)
                })
                .collect(),
        };
        if steps.is_empty() {
            self.err(&join(at, "login"), "a login needs at least one step");
            return None;
        }
        let mut names: Vec<String> = Vec::new();
        let mut plans = Vec::new();
        for (step_at, r) in steps {
            let plan = self.request_at(&step_at, "login", r, "POST");
            if let Some(plan) = &plan {
                for (name, _) in &plan.extract {
                    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    let at = join(&join(&step_at, "extract"), name);
                    if !ok {
                        self.err(&at, format!("`{name}` is not a name (letters, digits, `_` and `-`, from a letter)"));
                    } else if BUILT_IN.contains(&name.as_str()) {
                        self.err(
                            &at,
                            format!("`{{{name}}}` is already a placeholder: choose another name"),
                        );
                    } else if names.contains(name) {
                        self.err(
                            &at,
                            format!("`{name}` is extracted by an earlier step already"),
                        );
                    }
                    names.push(name.clone());
                }
            }
            plans.extend(plan);
        }
        Some(plans)
    }

    fn request(
        &mut self,
        at: &[Seg],
        name: &str,
        raw: Option<RequestRaw>,
        method: &str,
        required: bool,
    ) -> Option<RequestPlan> {
        let Some(r) = raw else {
            if required {
                self.err(
                    at,
                    format!(
                        "an application's API needs `requests.{name}` (its method, path and body)"
                    ),
                );
            }
            return None;
        };
        if r.extract.is_some() {
            self.err(
                &join(&join(at, name), "extract"),
                "values are extracted by login steps (later requests use them as `{name}`)",
            );
        }
        self.request_at(&join(at, name), name, r, method)
    }

    /// One request at `at`, for the operation `name`.
    fn request_at(
        &mut self,
        at: &[Seg],
        name: &str,
        r: RequestRaw,
        method: &str,
    ) -> Option<RequestPlan> {
        let at = at.to_vec();
        let bodies = [
            ("json", r.json.is_some()),
            ("form", r.form.is_some()),
            ("body", r.body.is_some()),
        ];
        if bodies.iter().filter(|(_, set)| *set).count() > 1 {
            let given: Vec<&str> = bodies.iter().filter(|(_, s)| *s).map(|(k, _)| *k).collect();
            self.err(
                &at,
                format!(
                    "give one body, not {}: `json`, `form` or `body`",
                    given.join(" and ")
                ),
            );
        }
        let body = match (r.json, r.form, r.body) {
            (Some(json), _, _) => Some(Body::Json(json)),
            (_, Some(form), _) => Some(Body::Form(form.into_iter().collect())),
            (_, _, Some(text)) => Some(Body::Text(text)),
            _ => None,
        };
        if r.starts_at.is_some() && name != "counter" {
            self.err(
                &join(&at, "starts-at"),
                "only `requests.counter` takes `starts-at` (the counter a new session starts with)",
            );
        }
        let Some(path) = r.path else {
            self.err(&at, "a request needs `path` (e.g. \"/login\")");
            return None;
        };
        let mut extract =
            |field: &str, e: Option<ExtractRaw>| e.and_then(|e| self.extract(&join(&at, field), e));
        let user = extract("user", r.user);
        let counter = extract("counter", r.counter);
        let value = extract("value", r.value);
        let extracted: Vec<(String, Extract)> = r
            .extract
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(n, e)| {
                let at = join(&join(&at, "extract"), &n);
                self.extract(&at, e).map(|e| (n, e))
            })
            .collect();
        let shows = r
            .shows
            .and_then(|raw| self.shows(&join(&at, "shows"), name, raw));
        let follow_redirects = r.follow_redirects.unwrap_or(0);
        if follow_redirects > MAX_REDIRECTS {
            self.err(
                &join(&at, "follow-redirects"),
                format!("{follow_redirects} redirects: at most {MAX_REDIRECTS} are followed"),
            );
        }
        if value.is_some() && name != "read" && name != "write" {
            self.err(
                &join(&at, "value"),
                "a value is read from `read` (and `write`) answers",
            );
        }
        Some(RequestPlan {
            method: r.method.unwrap_or_else(|| method.into()).to_uppercase(),
            path,
            headers: r.headers.unwrap_or_default().into_iter().collect(),
            body,
            user,
            counter,
            value,
            extract: extracted,
            follow_redirects,
            shows,
        })
    }

    /// `shows` of a logout: a status, a field, or both; `equals` needs the field.
    fn shows(&mut self, at: &[Seg], name: &str, raw: ShowsRaw) -> Option<Shows> {
        if name != "logout" {
            self.err(
                at,
                "only a logout's answer is judged by `shows` (what a logout that worked shows)",
            );
            return None;
        }
        let status = raw.status.unwrap_or_default();
        for s in &status {
            if !(200..=399).contains(s) {
                self.err(
                    &join(at, "status"),
                    format!("{s}: a logout that worked answers 2xx or 3xx"),
                );
            }
        }
        let given = [&raw.pointer, &raw.regex, &raw.header, &raw.cookie]
            .iter()
            .filter(|f| f.is_some())
            .count();
        let field = match given {
            0 => None,
            1 => self.extract(
                at,
                ExtractRaw {
                    pointer: raw.pointer,
                    regex: raw.regex,
                    header: raw.header,
                    cookie: raw.cookie,
                },
            ),
            _ => {
                self.err(
                    at,
                    "one field at most: `pointer`, `regex`, `header` or `cookie`",
                );
                None
            }
        };
        if raw.equals.is_some() && given == 0 {
            self.err(
                &join(at, "equals"),
                "`equals` compares a field: add `pointer`, `regex`, `header` or `cookie`",
            );
        }
        if status.is_empty() && given == 0 {
            self.err(
                at,
                "say what a logout that worked shows: `status`, or a field (with `equals`)",
            );
        }
        Some(Shows {
            status,
            field,
            equals: raw.equals,
        })
    }

    fn extract(&mut self, at: &[Seg], e: ExtractRaw) -> Option<Extract> {
        match (e.pointer, e.regex, e.header, e.cookie) {
            (Some(p), None, None, None) => Some(Extract::Pointer(p)),
            (None, Some(r), None, None) => Some(Extract::Regex(r)),
            (None, None, Some(h), None) => Some(Extract::Header(h)),
            (None, None, None, Some(c)) => Some(Extract::Cookie(c)),
            _ => {
                self.err(
                    at,
                    "say where the field is with exactly one of `pointer` (a JSON pointer), `regex`, `header` or `cookie`",
                );
                None
            }
        }
    }

    fn logged_out(&mut self, at: &[Seg], raw: Option<LoggedOutRaw>) -> LoggedOut {
        let raw = raw.unwrap_or_default();
        let status = raw.status.unwrap_or_else(|| vec![401]);
        for s in &status {
            if !(100..=599).contains(s) {
                self.err(&join(at, "status"), format!("{s} is not an HTTP status"));
            }
        }
        if status.is_empty() && raw.redirect.is_none() && raw.body.is_none() {
            self.err(
                at,
                "say how a signed-out answer looks (`status`, `redirect` or `body`), or sessions can never be seen lost",
            );
        }
        LoggedOut {
            status,
            redirect: raw.redirect,
            body: raw.body,
        }
    }

    /// Every workload a target runs must use only operations its API has requests for.
    pub(super) fn mix_fits_api(&mut self, targets: &[TargetPlan], mixes: &[(String, Mix)]) {
        for (i, t) in targets.iter().enumerate() {
            let Some(api) = t.external.as_ref().and_then(|e| e.api.as_ref()) else {
                continue;
            };
            let at = join(&self.target_at(i), "requests");
            for (workload, mix) in mixes {
                for (op, weight, has) in [
                    ("write", mix.write, api.write.is_some()),
                    ("counter", mix.counter, api.counter.is_some()),
                    ("logout", mix.logout, api.logout.is_some()),
                ] {
                    if weight > 0 && !has {
                        self.err(
                            &at,
                            format!(
                                "{workload} has `mix.{op} = {weight}`, but there is no `requests.{op}`: add one, or set the mix's {op} to 0"
                            ),
                        );
                    }
                }
            }
        }
    }
}
