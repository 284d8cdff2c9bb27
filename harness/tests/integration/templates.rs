//! Applications that do not speak the node protocol, driven through the request templates of
//! their suite: the shop (suites/external/shop.py, form login, HTML, JSON and redirects)
//! behind real nginx, started, broken and stopped by its own shell script.

use serde_json::Value;

use super::external::kill_leftovers;
use crate::support::{
    Keys, Suite, fault, free_port, inline, json, run_named, sessionbench, target, tempdir,
    workspace,
};

/// The shop's deployment script (suites/external/shop-stack.sh), as an absolute path.
pub(crate) fn shop_script() -> std::path::PathBuf {
    workspace()
        .join("suites/external/shop-stack.sh")
        .canonicalize()
        .expect("the shop's script")
}

/// The shop behind nginx as `name`, on `lb`, started by its script with `flags` (its
/// environment) and `start` (the arguments after the port): its form login, the logged-out
/// redirect, and a read of the account page.
pub(crate) fn shop(name: &str, lb: u16, flags: &str, start: &str) -> Keys {
    let script = shop_script();
    let script = script.display();
    target(name, "external")
        .set("url", format!("http://127.0.0.1:{lb}").as_str())
        .set(
            "start",
            format!("{flags}sh {script} start {lb} {start}").as_str(),
        )
        .set("stop", format!("sh {script} stop").as_str())
        .set("timeout", "20s")
        .at(&["logged-out"], "redirect", "/login")
        .at(&["requests", "login"], "path", "/login")
        .at(
            &["requests", "login"],
            "form",
            inline(&[("user", "{user}")]),
        )
        .at(&["requests", "read"], "path", "/account")
}

/// Where the account page shows who is signed in.
const SIGNED_IN_AS: &str = "Signed in as <b>([^<]+)</b>";

fn count(t: &Value, key: &str) -> u64 {
    t["sessions"][key].as_u64().expect("a count")
}

/// The shipped example, as a user runs it: a kill loses the sessions an instance held in
/// memory and none kept in the shared store; instances that cache the store show stale
/// carts and notes and serve signed-out sessions.
#[test]
fn the_shop_suite_judges_a_third_party_app_through_its_own_api() {
    let dir = tempdir("shop");
    let out = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(&dir)
        .arg("suites/external/shop.toml")
        .output()
        .expect("run");
    kill_leftovers(&dir, &["shop-memory", "shop-shared", "shop-cached"]);
    let results = json(&dir.join("results.json"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{results}",
        String::from_utf8_lossy(&out.stderr)
    );
    let memory = run_named(&results, "shop-memory");
    assert!(
        memory["faults"][0]["sessions-lost-after"].as_u64() > Some(0),
        "the kill logged users out: {memory}"
    );
    assert!(memory["faults"][0]["detail"].is_null(), "{memory}");
    // Each loss comes with its session's story: the login that set the cookie and was
    // redirected, the instance that served it, and the answer that showed it gone.
    let story: Vec<&str> = memory["violations"][0]["story"]
        .as_array()
        .expect("a story")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        story.last().is_some_and(|l| l.contains("(no-session)")),
        "{story:?}"
    );
    assert!(story.iter().any(|l| l.contains(" on app")), "{story:?}");
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(report.contains(&format!("    - {}", story[0])), "{report}");
    let shared = run_named(&results, "shop-shared");
    // Three sessions a user at least (about 200 on an idle machine).
    assert!(count(shared, "started") > 36, "{shared}");
    assert_eq!(count(shared, "lost"), 0, "{shared}");
    assert_eq!(count(shared, "stale-reads"), 0, "{shared}");
    let cached = run_named(&results, "shop-cached");
    assert_eq!(count(cached, "lost"), 0, "{cached}");
    assert!(count(cached, "stale-reads") > 0, "{cached}");
    assert!(count(cached, "resurrections") > 0, "{cached}");
    assert!(
        results.to_string().contains("app2"),
        "the serving instance is read from X-Served-By"
    );
    // The history holds what the templates read: users, counters and notes.
    let history = crate::support::history_text(&dir);
    let read = history
        .lines()
        .find(|l| l.contains(r#""kind":"read""#) && l.contains(r#""outcome":"ok""#))
        .expect("a successful read");
    let read: Value = serde_json::from_str(read).expect("JSON");
    // A login's answer set the session cookie and redirected to the account page.
    let login = history
        .lines()
        .find(|l| l.contains(r#""kind":"login""#) && l.contains(r#""outcome":"ok""#))
        .expect("a login");
    assert!(login.contains(r#""cookies-changed":true"#), "{login}");
    assert!(login.contains(r#""location":"/account""#), "{login}");
    assert!(read["view"]["user"].is_string(), "{read}");
    assert!(read["view"]["counter"].is_u64(), "{read}");
    assert!(read["view"]["attrs"].is_object(), "{read}");
}

/// An app that only signs in and shows one page gets the continuity checks and no others:
/// the report says which it could not make, and no expectation on them is judged.
#[test]
fn a_login_and_one_page_get_continuity_checks_only() {
    let [lb, a, b, c] = [free_port(), free_port(), free_port(), free_port()];
    let app = shop("login-only", lb, "", &format!("ip-hash {a} {b} {c}"))
        .set("url", format!("http://localhost:{lb}/").as_str())
        .set(
            "ready-url",
            format!("http://127.0.0.1:{lb}/healthz").as_str(),
        )
        .expect("sessions-lost", "some");
    let kill = fault("2500ms", "command", "app1")
        .set("inject", r#"kill -9 "$(cat "$SESSIONBENCH_DIR/app1.pid")""#);
    let (code, results, dir) = Suite::new("login-only", "6s")
        .set(&["workload"], "ops-per-session", 40)
        .set(&["workload", "mix"], "read", 1)
        .fault(kill)
        .target(app)
        .run();
    kill_leftovers(&dir, &["login-only"]);
    assert_eq!(code, Some(0), "{results}");
    let t = run_named(&results, "login-only");
    assert!(count(t, "lost") > 0, "{t}");
    assert_eq!(
        t["unchecked"],
        serde_json::json!(["stale-read", "monotonic-read"])
    );
    let judged: Vec<&str> = t["expectations"]
        .as_array()
        .expect("expectations")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(judged, ["sessions-lost", "resurrections"]);
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        report.contains("not checked: stale-read, monotonic-read"),
        "{report}"
    );
}

/// An app whose logout answers 200 `{"logout": false}` on an instance that did not create
/// the session, and leaves it alive. Without `shows`, the harness takes the answer for a
/// logout and the session's later service for a resurrection; with `shows`, each such
/// logout is a `logout-failed` finding and nothing is resurrected.
#[test]
fn a_logout_that_does_not_show_one_is_logout_failed_not_a_resurrection() {
    let suite = |name: &str, shows: Option<&str>| {
        let [lb, a, b] = [free_port(), free_port(), free_port()];
        let start = format!(r#"{a} {b} "$SESSIONBENCH_DIR/sessions""#);
        let flags = "SHOP_FLAGS=--logout-local ";
        let mut app = shop(name, lb, flags, &format!("round-robin {start}"))
            .set("cookie", "SHOPSESSION")
            .set("served-by", inline(&[("header", "X-Served-By")]))
            .at(
                &["requests", "read"],
                "user",
                inline(&[("regex", SIGNED_IN_AS)]),
            )
            .at(&["requests", "logout"], "path", "/logout")
            .expect("sessions-lost", "none")
            .expect("max-resurrections", 1_000_000);
        if let Some(pointer) = shows {
            app = app.at(
                &["requests", "logout"],
                "shows",
                inline(&[("pointer", pointer), ("equals", "true")]),
            );
        }
        Suite::new(name, "5s")
            .set(&["workload"], "think-time", "20ms")
            .set(&["workload"], "ops-per-session", 6)
            .set(&["workload", "mix"], "read", 1)
            .set(&["workload", "mix"], "logout", 1)
            .target(app)
    };
    let (code, results, dir) = suite("unjudged", None).run();
    kill_leftovers(&dir, &["unjudged"]);
    assert_eq!(code, Some(0), "{results}");
    let unjudged = &results["targets"][0]["sessions"];
    assert!(
        unjudged["resurrections"].as_u64() > Some(0),
        "a logout taken at its word: {unjudged}"
    );
    let (code, results, dir) = suite("judged", Some("/logout")).run();
    kill_leftovers(&dir, &["judged"]);
    assert_eq!(code, Some(0), "{results}");
    let t = &results["targets"][0];
    assert!(
        t["sessions"]["logout-failed"].as_u64() > Some(0),
        "{}",
        t["sessions"]
    );
    assert_eq!(t["sessions"]["resurrections"], 0, "{}", t["sessions"]);
    assert_eq!(t["sessions"]["lost"], 0, "{}", t["sessions"]);
    let violation = t["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .find(|v| v["kind"] == "logout-failed")
        .expect("a logout-failed finding is listed");
    assert!(
        violation["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`false`, not `true`")),
        "{violation}"
    );
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(report.contains("logout-failed"), "{report}");
}

/// A third-party stack that loses concurrent increments, as a new user would write its suite:
/// the login shows no counter (the suite says a cart starts empty), a page's four requests
/// go out at once, round robin sends
/// them to three instances that share sessions through files and each write back the whole
/// session. The count of lost increments is checked against the stack's own record: every
/// increment it answered (its request log) less what its sessions hold at the end. An
/// expectation of none fails (no false pass), and with no `served-by` each finding names the
/// session's cookie instead of a node.
#[test]
fn lost_increments_match_the_stacks_own_record() {
    let [lb, a, b, c] = [free_port(), free_port(), free_port(), free_port()];
    let flags = r#"SHOP_FLAGS="--request-log $SESSIONBENCH_DIR/requests.log" "#;
    let start = format!(r#"round-robin {a} {b} {c} "$SESSIONBENCH_DIR/sessions""#);
    let read = ["requests", "read"];
    let counter = ["requests", "counter"];
    let app = shop("shop-files", lb, flags, &start)
        .set(
            "ready-url",
            format!("http://127.0.0.1:{lb}/healthz").as_str(),
        )
        .set("cookie", "SHOPSESSION")
        .at(&read, "user", inline(&[("regex", SIGNED_IN_AS)]))
        .at(
            &read,
            "counter",
            inline(&[("regex", r#"<span id="items">(\d+)</span>"#)]),
        )
        .at(&counter, "path", "/cart/add")
        .at(&counter, "counter", inline(&[("pointer", "/cart/items")]))
        .at(&counter, "starts-at", 0)
        .expect("lost-updates", "none")
        .expect("max-stale-reads", 100_000)
        .expect("max-monotonic-violations", 100_000);
    let (code, results, dir) = Suite::new("shop-oracle", "6s")
        .users(12)
        .set(&["suite"], "warm-up", "2s")
        .set(&["workload"], "think-time", "20ms")
        .set(&["workload"], "ops-per-session", 40)
        .set(&["workload"], "parallel", 4)
        .set(&["workload", "mix"], "read", 1)
        .set(&["workload", "mix"], "counter", 3)
        .target(app)
        .run();
    kill_leftovers(&dir, &["shop-files"]);
    let t = run_named(&results, "shop-files");
    assert_eq!(code, Some(3), "lost increments fail `none`: {t}");
    // The stack's own record: increments answered per session, and what each session holds.
    let commands = dir.join("logs/shop-files-commands");
    let log = std::fs::read_to_string(commands.join("requests.log")).expect("request log");
    let mut answered = std::collections::BTreeMap::<String, u64>::new();
    for line in log.lines() {
        let sid = line.split_whitespace().next().expect("a session id");
        *answered.entry(sid.to_string()).or_default() += 1;
    }
    let mut oracle = 0;
    for (sid, acked) in &answered {
        let file = commands.join("sessions").join(format!("{sid}.json"));
        let held: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("session file"))
                .expect("JSON");
        let held = held["items"].as_u64().expect("items");
        oracle += acked
            .checked_sub(held)
            .unwrap_or_else(|| panic!("{sid} holds {held} items, more than the {acked} logged"));
    }
    let found = count(t, "lost-updates");
    assert!(
        oracle > 50,
        "the stack lost increments: {oracle} of {}",
        log.lines().count()
    );
    // The harness counts what its history proves, a lower bound: never more than the stack
    // lost, and within 2 % of it.
    assert!(
        found <= oracle && (oracle - found) as f64 <= 0.02 * oracle as f64,
        "lost increments: {found} found, {oracle} by the stack's own record"
    );
    let increments = t["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "lost-update" && c["part"] == "increments")
        .expect("the lost-increments check");
    assert_eq!(increments["judged"], "judged", "{increments}");
    let v = &t["violations"][0];
    assert!(
        v["session-cookie"]
            .as_str()
            .is_some_and(|c| c.starts_with("SHOPSESSION=")),
        "{v}"
    );
    assert!(
        !v["detail"].as_str().unwrap_or_default().contains(" on ?"),
        "{v}"
    );
    eprintln!("lost increments: {found} found, {oracle} by the stack's own record");
}
