//! Variables and secrets in a suite: a URL CI passes through the environment or `--var`, and
//! a password given as `${secret:NAME}` that reaches the application and nothing else: no
//! file of the run, no process's arguments.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::external::kill_leftovers;
use super::templates::shop;
use crate::support::{
    Suite, files_holding, free_port, inline, json, ops, processes_mentioning, sessionbench,
    write_suite,
};

/// The shop (suites/external/shop.py) with a password: its start command hands the secret to
/// the shop as SHOP_PASSWORD, and the login form sends it. Every login is accepted only if
/// the password arrived, and the password is in no file of the run and no process's argv
/// while it runs.
#[test]
fn a_url_from_the_environment_and_a_secret_password_reach_the_app_and_nothing_else() {
    let password = format!("pw-{}-7c1e9b", std::process::id());
    let [lb, a, b, c] = [free_port(), free_port(), free_port(), free_port()];
    let app = shop(
        "vars",
        lb,
        "SHOP_PASSWORD=\"${secret:SB_TEST_SHOP_PASSWORD}\" ",
        &format!("ip-hash {a} {b} {c}"),
    )
    .set("url", "${SB_TEST_SHOP_URL}")
    .at(
        &["requests", "login"],
        "form",
        inline(&[
            ("user", "{user}"),
            ("password", "${secret:SB_TEST_SHOP_PASSWORD}"),
        ]),
    );
    let suite = Suite::new("vars", "3s")
        .set(&["workload", "mix"], "read", 1)
        .target(app)
        .toml();
    let file = write_suite("vars", &suite);
    let dir = file.with_file_name("run");
    let mut run = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(&dir)
        .arg(&file)
        .env("SB_TEST_SHOP_URL", format!("http://127.0.0.1:{lb}"))
        .env("SB_TEST_SHOP_PASSWORD", &password)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // Every 50 ms while it runs (the shop's start, its load, its stop): no argv shows it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut looked = 0;
    let status = loop {
        assert_eq!(
            processes_mentioning(&password),
            Vec::<u32>::new(),
            "argv shows the password"
        );
        looked += 1;
        if let Some(status) = run.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not end within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    kill_leftovers(&dir, &["vars"]);
    let results = json(&dir.join("results.json"));
    assert_eq!(status.code(), Some(0), "{results}");
    assert!(
        looked > 20,
        "the run was watched while it ran ({looked} looks)"
    );
    let logins: Vec<&str> = ops(&dir)
        .iter()
        .filter(|o| o["kind"] == "login")
        .map(|o| {
            if o["outcome"] == "ok" {
                "ok"
            } else {
                "refused"
            }
        })
        .collect();
    assert!(
        !logins.is_empty() && logins.iter().all(|l| *l == "ok"),
        "the shop took the password: {logins:?}"
    );
    assert_eq!(
        files_holding(&dir, password.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
    // The plan keeps the references; the URL variable is filled.
    let plan = std::fs::read_to_string(dir.join("plan.json")).expect("plan.json");
    assert!(plan.contains("${secret:SB_TEST_SHOP_PASSWORD}"), "{plan}");
    assert!(plan.contains(&format!("\"port\": {lb}")), "{plan}");
}

fn validate(file: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = sessionbench()
        .arg("validate")
        .arg(file)
        .args(args)
        .env_remove("SB_TEST_UNSET_URL")
        .output()
        .expect("validate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `validate` names a variable nobody set, and a secret where it would be written down, by
/// file, line and key; `--var` fills one.
#[test]
fn a_missing_variable_or_a_misplaced_secret_is_named_by_file_line_and_key() {
    let text = "[suite]\nname = \"v\"\nduration = \"5s\"\n\n[[targets]]\nname = \"app\"\nstrategy = \"external\"\nurl = \"${SB_TEST_UNSET_URL}\"\ncookie = \"${secret:PATH}\"\n";
    let file = write_suite("vars-missing", text);
    let shown = file.display().to_string();
    let (code, err) = validate(&file, &[]);
    assert_eq!(code, Some(2), "{err}");
    // One error each: the value left unfilled is not judged as a URL or a cookie name too.
    assert_eq!(err.matches("`targets[0].").count(), 2, "{err}");
    assert!(
        err.contains(&format!(
            "{shown}:8:7: `targets[0].url`: variable `SB_TEST_UNSET_URL` is not set"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{shown}:9:10: `targets[0].cookie`: `${{secret:PATH}}`: a secret may be used only in what a request sends"
        )),
        "{err}"
    );
    let fixed = text.replace("cookie = \"${secret:PATH}\"\n", "");
    std::fs::write(&file, fixed).expect("write");
    let (code, err) = validate(&file, &["--var", "SB_TEST_UNSET_URL=http://127.0.0.1:9"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = validate(&file, &["--var", "9X=1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`9X` is not a variable name"), "{err}");
}
