//! `sessionbench import har`: suites written from recordings a real browser made (headless
//! Chromium over its DevTools protocol, `har/record.py`) of two apps of different shapes, the
//! shop (a form login with a CSRF field, HTML pages, redirects) and the notes app (a page
//! whose script calls a JSON API; a JSON login with a token in a header; 401 when signed
//! out). Each suite, unedited, validates, passes its probe, and judges real stacks: no loss
//! where sessions are shared, losses where they are not.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, json, judged, printed, program, sessionbench, tempdir, workspace};

/// The password the committed recordings typed (the apps were started with it).
const PASSWORD: &str = "s3cret-pw";

fn recording(name: &str) -> PathBuf {
    workspace().join("harness/tests/integration/har").join(name)
}

fn import(har: &Path, out: &Path, args: &[&str], url: &str) -> Output {
    sessionbench()
        .args(["import", "har"])
        .arg(har)
        .arg("--out")
        .arg(out)
        .args(args)
        .env("TARGET_URL", url)
        .env("LOGIN_PASSWORD", PASSWORD)
        .output()
        .expect("import")
}

/// The imported suite holds every one of `parts`, and none of what was typed at the login.
fn suite_holds(toml: &str, parts: &[&str], typed: &[&str]) {
    for part in parts {
        assert!(toml.contains(part), "the suite lacks {part}:\n{toml}");
    }
    for value in typed {
        assert!(!toml.contains(value), "the suite holds `{value}`:\n{toml}");
    }
}

/// `validate --probe SUITE` in `dir`, against `url`, with `password` as the login's secret.
fn probe(dir: &Path, suite: &str, url: &str, password: &str) -> Output {
    sessionbench()
        .current_dir(dir)
        .args(["validate", "--probe", suite])
        .env("TARGET_URL", url)
        .env("LOGIN_PASSWORD", password)
        .output()
        .expect("validate --probe")
}

/// Waits until something listens on `port`.
fn listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A python3 app (shop.py, notes.py), killed when dropped.
struct App(Child);

impl App {
    fn start(script: &str, port: u16, flags: &[&str], password_var: &str) -> Self {
        program("python3", "python3");
        let child = Command::new("python3")
            .arg(workspace().join("suites/external").join(script))
            .args(["--port", &port.to_string()])
            .args(flags)
            .env(password_var, PASSWORD)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3");
        listening(port);
        App(child)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// shop-stack.sh's instances behind nginx, stopped when dropped.
struct Stack(PathBuf);

impl Stack {
    /// `shared`: sessions in files every instance reads (None: each keeps its own in memory),
    /// each instance keeping what it read for that many seconds.
    fn start(name: &str, lb: u16, policy: &str, shared: Option<u32>) -> Self {
        let dir = tempdir(name);
        std::fs::create_dir_all(&dir).expect("dir");
        let (a, b) = (free_port(), free_port());
        let sessions = dir.join("sessions");
        let mut args = vec![
            "start".to_string(),
            lb.to_string(),
            policy.into(),
            a.to_string(),
            b.to_string(),
        ];
        if let Some(cache) = shared {
            args.push(sessions.display().to_string());
            args.push(cache.to_string());
        }
        let out = Command::new("sh")
            .arg(workspace().join("suites/external/shop-stack.sh"))
            .args(&args)
            .env("SESSIONBENCH_DIR", &dir)
            .env("SHOP_CSRF", "1")
            .env("SHOP_PASSWORD", PASSWORD)
            .output()
            .expect("shop-stack.sh");
        assert!(
            out.status.success(),
            "shop-stack.sh start: {}",
            printed(&out)
        );
        listening(lb);
        Stack(dir)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg(workspace().join("suites/external/shop-stack.sh"))
            .arg("stop")
            .env("SESSIONBENCH_DIR", &self.0)
            .output();
    }
}

/// Runs `suite` for `secs` against `url`; its exit code and results.json.
fn run(suite: &Path, url: &str, secs: u32, out: &Path) -> (Option<i32>, serde_json::Value) {
    let o = sessionbench()
        .args([
            "run",
            "--quiet",
            "--force",
            "--duration",
            &format!("{secs}s"),
            "--out",
        ])
        .arg(out)
        .arg(suite)
        .env("TARGET_URL", url)
        .env("LOGIN_PASSWORD", PASSWORD)
        .output()
        .expect("run");
    (o.status.code(), json(&out.join("results.json")))
}

/// The shop's recording: its suite keeps no credential, holds the CSRF step, the write, the
/// counter and the logout; behind round robin with sessions shared it passes with every check
/// fed, with sessions in each instance's memory it fails on lost sessions, and with a
/// node-local cache in front of the shared store on stale reads.
#[test]
fn a_recorded_form_login_becomes_a_suite_that_judges_the_shop() {
    let dir = tempdir("import-shop");
    std::fs::create_dir_all(&dir).expect("dir");
    let suite = dir.join("shop.toml");
    let lb = free_port();
    let url = format!("http://127.0.0.1:{lb}");
    let o = import(&recording("shop.har"), &suite, &[], &url);
    assert!(o.status.success(), "{}", printed(&o));
    let toml = std::fs::read_to_string(&suite).expect("suite");
    let parts = [
        "url = \"${TARGET_URL:-http://127.0.0.1:18391}\"",
        "cookie = \"SHOPSESSION\"",
        "redirect = \"/login\"",
        "extract = { csrf = { regex = '<input type=\"hidden\" name=\"csrf\" value=\"([^\"]+)\"' } }",
        "form = { user = \"{user}\", password = \"${secret:LOGIN_PASSWORD}\", csrf = \"{csrf}\" }",
        "counter = { regex = '<span id=\"items\">(\\d+)<' }",
        "value = { regex = '<span id=\"note\">([^<]+)<' }",
        "form = { note = \"{value}\" }",
        "counter = { pointer = \"/cart/items\" }",
        "[targets.requests.logout]",
        "GET http://127.0.0.2:9/pixel.gif ×4: another host",
        "GET /static/shop.css ×4: a static asset",
    ];
    suite_holds(&toml, &parts, &[PASSWORD, "alice"]);

    let shared = Stack::start("import-shop-shared", lb, "round-robin", Some(0));
    let (code, results) = run(&suite, &url, 5, &dir.join("shared"));
    drop(shared);
    let t = &results["targets"][0];
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(t["sessions"]["lost"], 0, "{t}");
    assert_eq!(t["sessions"]["stale-reads"], 0, "{t}");
    assert!(t["ops"]["ok"].as_u64().unwrap_or(0) > 100, "{t}");
    for check in [
        "stale-read (writes)",
        "stale-read (counter)",
        "lost-update (writes)",
        "resurrection",
    ] {
        assert_ne!(judged(t, check), "not-judged", "{check}: {t}");
    }

    let memory = Stack::start("import-shop-memory", lb, "round-robin", None);
    let (code, results) = run(&suite, &url, 5, &dir.join("memory"));
    drop(memory);
    let t = &results["targets"][0];
    assert_eq!(code, Some(3), "{t}");
    assert!(t["sessions"]["lost"].as_u64().unwrap_or(0) > 0, "{t}");

    // Shared, but each instance serves what it read for 2 s: nothing lost, reads stale.
    let cached = Stack::start("import-shop-cached", lb, "round-robin", Some(2));
    let (code, results) = run(&suite, &url, 5, &dir.join("cached"));
    drop(cached);
    let t = &results["targets"][0];
    assert_eq!(code, Some(3), "{t}");
    assert_eq!(t["sessions"]["lost"], 0, "{t}");
    assert!(
        t["sessions"]["stale-reads"].as_u64().unwrap_or(0) > 0,
        "{t}"
    );
}

/// The notes app's recording (a JSON login, its token read from a JSON answer and sent in a
/// header): the probe passes against the app, fails naming the login when the password is
/// wrong, and a load run sees a restart of the app (sessions in its memory) lose sessions.
#[test]
fn a_recorded_json_login_becomes_a_suite_whose_probe_passes_and_which_sees_a_restart() {
    let dir = tempdir("import-notes");
    std::fs::create_dir_all(&dir).expect("dir");
    let suite = dir.join("notes.toml");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut app = App::start("notes.py", port, &[], "NOTES_PASSWORD");
    let o = sessionbench()
        .current_dir(&dir)
        .args(["import", "har"])
        .arg(recording("notes.har"))
        .args(["--out", "notes.toml", "--probe"])
        .env("TARGET_URL", &url)
        .env("LOGIN_PASSWORD", PASSWORD)
        .output()
        .expect("import");
    let said = printed(&o);
    assert_eq!(o.status.code(), Some(0), "{said}");
    // The read shows the counter: a check partly judged says its sessions were short, not
    // to add the key the suite has.
    assert!(!said.contains("give `requests.read` a `counter`"), "{said}");
    for line in [
        "ok    login:",
        "ok    user: shown by",
        "ok    check stale-read (counter): judged",
        "probe passed",
    ] {
        assert!(said.contains(line), "no `{line}` in:\n{said}");
    }
    let toml = std::fs::read_to_string(&suite).expect("suite");
    let parts = [
        "extract = { x_csrf_token = { pointer = \"/token\" } }",
        "headers = { X-CSRF-Token = \"{x_csrf_token}\" }",
        "json = { email = \"{user}\", password = \"${secret:LOGIN_PASSWORD}\" }",
        "status = [401]",
        "json = { bio = \"{value}\" }",
        "POST /analytics/event: analytics",
    ];
    suite_holds(&toml, &parts, &[PASSWORD, "alice@example.com"]);

    let o = probe(&dir, "notes.toml", &url, "not-the-password");
    let said = printed(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(said.contains("FAIL  login: 0 of"), "{said}");
    assert!(said.contains("(HTTP 401)"), "{said}");

    // A `value` that reads the user's email: no write ever shows, so the probe's one user
    // finds lost updates, which only a suite that misreads the app makes.
    let misread = toml.replace(
        "value = { pointer = \"/bio\" }",
        "value = { pointer = \"/user/email\" }",
    );
    assert_ne!(misread, toml);
    std::fs::write(dir.join("misread.toml"), misread).expect("write");
    let o = probe(&dir, "misread.toml", &url, PASSWORD);
    let said = printed(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(
        said.contains("FAIL  findings with one user and no faults"),
        "{said}"
    );

    // The app restarted mid-run, after the warm-up: every session it held is gone.
    let out = dir.join("restart");
    let mut running = sessionbench()
        .args(["run", "--quiet", "--duration", "8s", "--out"])
        .arg(&out)
        .arg(&suite)
        .env("TARGET_URL", &url)
        .env("LOGIN_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .spawn()
        .expect("run");
    std::thread::sleep(Duration::from_secs(4));
    drop(app);
    app = App::start("notes.py", port, &[], "NOTES_PASSWORD");
    let code = running.wait().expect("wait").code();
    drop(app);
    let results = json(&out.join("results.json"));
    let t = &results["targets"][0];
    assert_eq!(code, Some(3), "{t}");
    assert!(t["sessions"]["lost"].as_u64().unwrap_or(0) > 0, "{t}");
}

/// A recording made now, by headless Chromium driving a fresh shop through the same steps,
/// imports to the same suite as the committed one (but for its URL): the recorder and the
/// import agree with what is committed.
#[test]
fn a_fresh_recording_in_headless_chromium_imports_as_the_committed_one() {
    let chromium = program("chromium", "chromium");
    let dir = tempdir("import-fresh");
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let _app = App::start("shop.py", port, &["--csrf"], "SHOP_PASSWORD");
    let steps = std::fs::read_to_string(recording("shop-steps.json"))
        .expect("steps")
        .replace("18391", &port.to_string());
    std::fs::write(dir.join("steps.json"), steps).expect("steps");
    let fresh = dir.join("shop.har");
    let o = Command::new("python3")
        .arg(recording("record.py"))
        .arg("--out")
        .arg(&fresh)
        .arg("--steps")
        .arg(dir.join("steps.json"))
        .args(["--chromium", &chromium])
        .output()
        .expect("record.py");
    assert!(o.status.success(), "record.py: {}", printed(&o));
    let url = format!("http://127.0.0.1:{port}");
    let suites = [
        (&fresh, dir.join("fresh.toml")),
        (&recording("shop.har"), dir.join("committed.toml")),
    ];
    let texts: Vec<String> = suites
        .iter()
        .map(|(har, out)| {
            let o = import(har, out, &[], &url);
            assert!(o.status.success(), "{}", printed(&o));
            // Its keys and values: comments count requests, which a browser may make more of
            // (a favicon, a retried image).
            let toml = std::fs::read_to_string(out).expect("suite");
            toml.lines()
                .filter(|l| !l.starts_with("url = ") && !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert_eq!(texts[0], texts[1], "the fresh recording imports otherwise");
    let o = probe(&dir, "fresh.toml", &url, PASSWORD);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
}
