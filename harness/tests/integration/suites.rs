//! Every file in suites/invalid/ exits 2 with located errors (snapshots), and the shipped
//! suites are valid.

use std::path::Path;
use std::process::Command;

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
                if let Err(e) = sessionbench::suite::load(&path) {
                    panic!("{e}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} suites found");
}
