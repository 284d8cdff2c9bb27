//! Every file in suites/invalid/ exits 2 with located errors (snapshots), and the shipped
//! suites are valid.

use std::process::Command;

use crate::support::{sessionbench, workspace};

/// Runs suites/invalid/NAME.toml: it exits 2, every error names the file, line and column,
/// and the errors are the snapshot of NAME.
fn invalid(name: &str) {
    let relative = format!("suites/invalid/{name}.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
        .current_dir(workspace())
        .args(["run", &relative])
        .output()
        .expect("run sessionbench");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{relative}: {stderr}");
    let located = format!("{relative}:");
    assert!(
        stderr.lines().skip(1).all(|l| l.starts_with(&located)),
        "every error names the file, line and column:\n{stderr}"
    );
    insta::assert_snapshot!(name, stderr);
}

/// A test per file of suites/invalid/, so a failure names its file.
macro_rules! invalid_suites {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                invalid($file);
            }
        )*
        const INVALID: &[&str] = &[$($file),*];
    };
}

invalid_suites! {
    bad_codec => "bad-codec",
    bad_commands => "bad-commands",
    bad_duration => "bad-duration",
    bad_external => "bad-external",
    bad_faults => "bad-faults",
    bad_known_losses => "bad-known-losses",
    bad_lb => "bad-lb",
    bad_remote => "bad-remote",
    bad_requests => "bad-requests",
    bad_scenarios => "bad-scenarios",
    bad_thresholds => "bad-thresholds",
    bad_tomcat => "bad-tomcat",
    duplicate_key => "duplicate-key",
    many_errors => "many-errors",
    many_structural_errors => "many-structural-errors",
    no_targets => "no-targets",
    syntax_error => "syntax-error",
    unknown_key => "unknown-key",
    wrong_type => "wrong-type",
}

#[test]
fn every_invalid_suite_has_its_test() {
    let dir = workspace().join("suites/invalid");
    for entry in std::fs::read_dir(&dir).expect("suites/invalid") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .to_string();
        assert!(
            INVALID.contains(&name.as_str()),
            "{}: add `{} => \"{name}\",` to invalid_suites!",
            path.display(),
            name.replace('-', "_")
        );
    }
}

/// Every suite under suites/ (the examples in suites/external/ too) but the broken ones.
#[test]
fn shipped_suites_are_valid() {
    let mut dirs = vec![workspace().join("suites")];
    let mut checked = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("suites") {
            let path = entry.expect("entry").path();
            if path.is_dir() && !path.ends_with("invalid") {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                // Names in remote URLs are not looked up: no query leaves the machine.
                let options = sessionbench::suite::Options {
                    unresolved: true,
                    ..Default::default()
                };
                if let Err(e) = sessionbench::suite::load_with(&path, options) {
                    panic!("{e}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} suites found");
}

#[test]
fn validate_shows_what_a_run_would_do_and_refuses_what_run_refuses() {
    let out = sessionbench()
        .args(["validate", "suites/strategies.toml", "--quick"])
        .output()
        .expect("validate");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("28 runs of 4s each"), "{text}");
    assert!(
        text.contains("delta-sync/failure: delta-sync behind the reference LB (round-robin); 4 processes to start"),
        "{text}"
    );
    assert!(
        text.contains("fault: at 2s kill node2, healed 2s later"),
        "{text}"
    );
    assert!(text.contains("redis-cluster/capacity"), "{text}");
    let redis = sessionbench()
        .args(["validate", "suites/redis-persistence.toml"])
        .output()
        .expect("validate");
    let text = String::from_utf8_lossy(&redis.stdout);
    assert!(
        text.contains("aof-always: redis-standalone behind the reference LB (round-robin); append-only file, appendfsync always; 5 processes"),
        "{text}"
    );
    let json = sessionbench()
        .args(["validate", "suites/smoke.toml", "--json"])
        .output()
        .expect("validate --json");
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).expect("the plan as JSON");
    assert_eq!(plan["name"], "smoke");
    let bad = sessionbench()
        .args(["validate", "suites/invalid/unknown-key.toml"])
        .output()
        .expect("validate");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown-key.toml:4:1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// `validate` names each check an application's templates cannot feed for the mix: a run
/// would report them as not judged.
#[test]
fn validate_warns_of_checks_the_templates_cannot_feed() {
    let dir = crate::support::tempdir("validate-unfed");
    std::fs::create_dir_all(&dir).expect("dir");
    let suite = |read: &str| {
        format!(
            r#"
[suite]
name = "unfed"

[workload.mix]
read = 5
write = 2
counter = 2

[[targets]]
name = "app"
strategy = "external"
url = "http://127.0.0.1:18999"

[targets.requests.login]
path = "/login"
form = {{ user = "{{user}}" }}

[targets.requests.read]
path = "/account"
user = {{ regex = 'as (\w+)' }}
{read}

[targets.requests.write]
path = "/note"
form = {{ note = "{{value}}" }}

[targets.requests.counter]
path = "/cart/add"
"#
        )
    };
    let validate = |read: &str| {
        let file = dir.join("suite.toml");
        std::fs::write(&file, suite(read)).expect("suite");
        let out = sessionbench()
            .arg("validate")
            .arg(&file)
            .output()
            .expect("validate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let blind = validate("");
    assert!(
        blind.contains(
            "warning: lost-update (increments) and stale-read (counter) will not be judged"
        ),
        "{blind}"
    );
    assert!(blind.contains("warning: stale-read (writes)"), "{blind}");
    assert!(blind.contains("warning: monotonic-read"), "{blind}");
    assert!(blind.contains("Every target is external"), "{blind}");
    let seeing =
        validate("counter = { regex = 'items (\\d+)' }\nvalue = { regex = 'note (\\w+)' }");
    assert!(!seeing.contains("warning:"), "{seeing}");
}

/// What a shell user meets: a file where the run directory goes is a usage error (exit 2),
/// and a reader that goes away (`| head`) ends the output quietly with the status a closed
/// pipe gives (141, as `cat`'s), not a panic (101).
#[test]
fn a_file_given_as_run_directory_is_a_usage_error_and_a_closed_pipe_no_panic() {
    let dir = crate::support::tempdir("shell-user");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("somefile");
    std::fs::write(&file, "").expect("file");
    let out = sessionbench()
        .args(["run", "--quiet", "--out"])
        .arg(&file)
        .arg("suites/smoke.toml")
        .output()
        .expect("run");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("a file is there, not a directory"), "{said}");

    let mut child = sessionbench()
        .args(["validate", "--json", "suites/smoke.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("validate");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{said}");
    assert!(!said.contains("panicked"), "{said}");
}

/// A program the second target needs and the machine lacks stops `validate` and `run` before
/// anything starts (exit 2, the target and the program named), rather than after the first
/// target ran.
#[test]
fn a_missing_program_is_found_before_anything_starts() {
    let dir = crate::support::tempdir("preflight");
    std::fs::create_dir_all(&dir).expect("dir");
    let suite = dir.join("two.toml");
    std::fs::write(
        &suite,
        "[suite]\nname = \"two\"\nduration = \"3s\"\n\n[[targets]]\nname = \"sticky\"\nstrategy = \"sticky\"\n\n[[targets]]\nname = \"shared\"\nstrategy = \"redis\"\n",
    )
    .expect("suite");
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).expect("empty PATH");
    for command in ["validate", "run"] {
        let started = std::time::Instant::now();
        let mut sessionbench = sessionbench();
        sessionbench.env("PATH", &empty).arg(command).arg(&suite);
        if command == "run" {
            sessionbench.arg("--out").arg(dir.join("run"));
        }
        let out = sessionbench.output().expect("sessionbench");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {said}");
        assert!(
            said.contains("shared: `redis-server` is not installed"),
            "{command}: {said}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{command}"
        );
    }
    assert!(!dir.join("run").exists(), "nothing was started");
}
