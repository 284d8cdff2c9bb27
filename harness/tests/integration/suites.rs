//! Every file in suites/invalid/ exits 2 with located errors (snapshots), and the shipped
//! suites are valid.

use std::path::Path;
use std::process::Command;

use super::run::sessionbench;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness crate sits in the workspace")
}

#[test]
fn invalid_suites_exit_2_naming_file_line_column_and_key() {
    let dir = workspace().join("suites/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("suites/invalid")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "suites/invalid holds the error cases");
    for file in files {
        let relative = file
            .strip_prefix(workspace())
            .expect("inside the workspace");
        let out = Command::new(env!("CARGO_BIN_EXE_sessionbench"))
            .current_dir(workspace())
            .arg("run")
            .arg(relative)
            .output()
            .expect("run sessionbench");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {stderr}",
            relative.display()
        );
        let located = format!("{}:", relative.display());
        assert!(
            stderr.lines().skip(1).all(|l| l.starts_with(&located)),
            "every error names the file, line and column:\n{stderr}"
        );
        let name = file
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .to_string();
        insta::assert_snapshot!(name, stderr);
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
                    allow_remote: false,
                    unresolved: true,
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
    let dir = super::run::tempdir("validate-unfed");
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
