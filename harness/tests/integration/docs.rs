//! The commands README and docs/ show in `sh example` blocks run as shown: each `$ ` line, with
//! `sessionbench` meaning the binary just built, from the repository's root, exits 0 (or the
//! code its `# exit N` comment names). Pages run in order, README first, so a page can use a
//! run directory an earlier example of it made. README stays a front page: under 250 lines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::workspace;

/// Longer than any example should take; a hung one fails the test instead of stalling CI.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(120);

/// README.md, then docs/*.md by name.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(workspace().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    std::iter::once(workspace().join("README.md"))
        .chain(docs)
        .collect()
}

#[derive(Debug, PartialEq)]
struct Example {
    line: usize,
    command: String,
    exit: i32,
}

/// The `$ ` lines of every ```` ```sh example ```` block.
fn examples(text: &str) -> Vec<Example> {
    let mut found = Vec::new();
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if fence {
            inside = !inside && line.trim() == "```sh example";
            continue;
        }
        let Some(command) = line.strip_prefix("$ ").filter(|_| inside) else {
            continue;
        };
        let (command, exit) = match command.rsplit_once("# exit ") {
            Some((c, code)) => (c.trim_end(), code.trim().parse().expect("# exit N")),
            None => (command, 0),
        };
        found.push(Example {
            line: i + 1,
            command: command.to_string(),
            exit,
        });
    }
    found
}

#[test]
fn every_example_command_runs_as_shown() {
    let bin = Path::new(env!("CARGO_BIN_EXE_sessionbench"));
    let bin_dir = bin.parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    let mut failures = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a page");
        let name = page
            .strip_prefix(workspace())
            .unwrap_or(&page)
            .display()
            .to_string();
        for ex in examples(&text) {
            let started = Instant::now();
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&ex.command)
                .current_dir(workspace())
                .env("PATH", &path)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("sh runs");
            let status = loop {
                if let Some(status) = child.try_wait().expect("wait") {
                    break Some(status);
                }
                if started.elapsed() > EXAMPLE_TIMEOUT {
                    let _ = child.kill();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let output = child.wait_with_output().expect("output");
            ran += 1;
            let code = status.and_then(|s| s.code());
            if code != Some(ex.exit) {
                failures.push(format!(
                    "{name}:{}: `{}` exited {code:?}, the page says {}\n{}{}",
                    ex.line,
                    ex.command,
                    ex.exit,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    assert!(
        ran >= 10,
        "only {ran} example commands found: the pages lost their examples"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut inside = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
        } else if !inside && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn every_link_between_pages_finds_its_page_and_heading() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a page");
        let dir = page.parent().expect("a directory");
        for (i, line) in text.lines().enumerate() {
            for link in line
                .split("](")
                .skip(1)
                .filter_map(|rest| rest.split(')').next())
            {
                if link.starts_with("http") || link.contains(' ') {
                    continue;
                }
                let (file, heading) = link.split_once('#').unwrap_or((link, ""));
                let target = if file.is_empty() {
                    page.clone()
                } else {
                    dir.join(file)
                };
                let Ok(target_text) = std::fs::read_to_string(&target) else {
                    if !target.exists() {
                        broken.push(format!(
                            "{}:{}: {link}: no such file",
                            page.display(),
                            i + 1
                        ));
                    }
                    continue;
                };
                if !heading.is_empty() && !anchors(&target_text).iter().any(|a| a == heading) {
                    broken.push(format!(
                        "{}:{}: {link}: no such heading",
                        page.display(),
                        i + 1
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn readme_is_a_front_page() {
    let lines = std::fs::read_to_string(workspace().join("README.md"))
        .expect("README")
        .lines()
        .count();
    assert!(
        lines < 200,
        "README.md has {lines} lines: move reference text to docs/"
    );
}

#[test]
fn examples_are_found_only_in_example_blocks() {
    let page = "```sh\n$ not-run\n```\n```sh example\n$ sessionbench validate x.toml  # exit 2\n# a comment\n$ true\n```\n$ outside\n";
    assert_eq!(
        examples(page),
        vec![
            Example {
                line: 5,
                command: "sessionbench validate x.toml".into(),
                exit: 2
            },
            Example {
                line: 7,
                command: "true".into(),
                exit: 0
            },
        ]
    );
}
