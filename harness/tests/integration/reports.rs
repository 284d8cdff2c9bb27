//! What a run leaves for people and for CI: junit.xml valid against the JUnit schema (checked
//! with xmllint), report.html rendered by headless Chromium (its SVG plots present, no
//! console error, a screenshot kept in the run directory), exit 4 on a missed threshold, and
//! `compare` finding no change between two runs of one suite but a regression in a run
//! slowed on purpose.

use std::path::Path;
use std::process::Command;

use crate::support::{
    assert_run_fits_schemas, json, program, run_suite_with, sessionbench, tempdir, workspace,
};

/// Two sticky nodes, paced users: throughput is set by the pacing, so two runs of it
/// differ only by noise.
const SUITE: &str = r#"
[suite]
name = "reports"
duration = "7s"
warm-up = "1s"

[workload]
virtual-users = 8
think-time = "20ms"
ops-per-session = 40

[[targets]]
name = "sticky"
strategy = "sticky"
lb-policy = "cookie-route"
nodes = 2

[targets.expect]
sessions-lost = "any"
"#;

/// Replaces every number that is not part of a name (node2, v3.1) with `#`.
fn redact_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = ' ';
    let mut in_number = false;
    for c in text.chars() {
        let starts = c.is_ascii_digit() && !prev.is_ascii_alphanumeric() && prev != '.';
        if starts || (in_number && (c.is_ascii_digit() || c == '.')) {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
        prev = c;
    }
    out
}

#[test]
fn a_missed_threshold_exits_4_with_valid_junit_and_an_html_report_chromium_renders() {
    let xmllint = program("xmllint", "libxml2-utils");
    let chromium = program("chromium", "chromium");
    let suite = format!(
        "{SUITE}\n[targets.thresholds]\nmin-throughput = 1000000.0\np99-latency = {{ all = \"10s\", login = \"10s\" }}\n"
    );
    let (code, dir) = run_suite_with("reports-threshold", &suite, &[]);
    let results = json(&dir.join("results.json"));
    assert_eq!(code, Some(4), "{results}");
    assert_run_fits_schemas(&dir);
    let passed: Vec<(&str, bool)> = results["targets"][0]["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .map(|t| (t["name"].as_str().expect("name"), t["passed"] == true))
        .collect();
    assert_eq!(
        passed,
        [
            ("p99-latency", true),
            ("p99-latency.login", true),
            ("throughput", false)
        ]
    );
    // Each kind of request the mix made, after the warm-up, apart.
    let by_kind = results["targets"][0]["by-kind"]
        .as_array()
        .expect("by-kind");
    let kinds: Vec<&str> = by_kind.iter().filter_map(|k| k["kind"].as_str()).collect();
    assert!(kinds.starts_with(&["login", "read"]), "{kinds:?}");
    let counted: u64 = by_kind
        .iter()
        .filter_map(|k| k["ops"]["total"].as_u64())
        .sum();
    let all = results["targets"][0]["ops"]["total"].as_u64().expect("ops");
    assert!(counted > 0 && counted <= all, "{counted} of {all}");
    // A missed threshold fails the verdict wherever it is shown; exit 4 says why.
    let t = &results["targets"][0];
    assert_eq!(t["verdict"], "fail", "{t}");
    assert_eq!(t["checks-verdict"], "pass", "{t}");
    assert!(
        t["reasons"]
            .to_string()
            .contains("threshold missed: throughput"),
        "{t}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        md.lines().next().is_some_and(|l| l.ends_with("— fail")),
        "{md}"
    );
    assert!(md.contains("| fail |"), "{md}");
    assert!(md.contains("<summary>By request kind"), "{md}");
    assert!(md.contains("| sticky | login |"), "{md}");
    assert!(
        results["targets"][0]["timeline"]
            .as_array()
            .is_some_and(|t| t.len() >= 7)
    );

    // junit.xml: valid against the schema, one case per check, the miss as a failure.
    let junit = dir.join("junit.xml");
    let schema = workspace().join("harness/tests/integration/schema/junit.xsd");
    let lint = Command::new(&xmllint)
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&junit)
        .output()
        .expect("xmllint");
    assert!(
        lint.status.success(),
        "junit.xml is not valid JUnit XML: {}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let text = std::fs::read_to_string(&junit).expect("junit.xml");
    // Whether the driver was saturated or the machine busy depends on the machine's load,
    // not on this run's shape: the snapshot keeps the shape.
    let text = ["a saturated driver", "a busy machine"]
        .iter()
        .fold(text, |text, why| {
            text.replace(
                &format!(
                    " (judged on {why}: the numbers describe the harness or the machine, not the target)"
                ),
                "",
            )
        });
    insta::assert_snapshot!("junit_of_a_run", redact_numbers(&text));

    // report.html: rendered by a real browser, its plot drawn, a screenshot kept.
    let html = dir.join("report.html");
    let page = std::fs::read_to_string(&html).expect("report.html");
    assert!(
        page.contains("Thresholds missed"),
        "the miss is on the page"
    );
    assert!(
        page.contains("[suite]"),
        "the suite that produced it is on the page"
    );
    let url = format!("file://{}", html.canonicalize().expect("path").display());
    let headless = |extra: &[&str]| {
        let out = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,1600",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.with_file_name("chromium-profile").display()
            ))
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium");
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let screenshot = dir.join("report.png");
    let shot = headless(&[&format!("--screenshot={}", screenshot.display())]);
    let png = std::fs::read(&screenshot).expect("the screenshot is kept in the run directory");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    let dom = headless(&["--dump-dom"]);
    let rendered = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(rendered.matches("<svg").count(), 1, "one plot per run");
    assert!(
        rendered.matches("class=\"series\"").count() >= 3,
        "its lines are drawn"
    );
    for out in [&shot, &dom] {
        let log = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Error: <"))
            .collect();
        assert!(errors.is_empty(), "console errors: {errors:?}");
    }
}

/// With a 30 ms latency floor: on a shared two-core runner, even alone, the p99 of a few
/// milliseconds moved between identical runs by 4 ms (2.4 to 6.6 ms) and once by 15.6 ms
/// (5.7 to 21.2 ms), one stalled second among five. The latency this test adds is 60 ms a
/// request, twice the floor, and moves the p50 by hundreds of milliseconds.
fn compare(base: &Path, new: &Path) -> (Option<i32>, String) {
    let out = sessionbench()
        .args(["compare", "--latency-floor", "30ms"])
        .args([base, new])
        .output()
        .expect("compare");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn compare_finds_no_change_in_a_rerun_and_a_regression_when_latency_is_added() {
    let (first, a) = run_suite_with("reports-base", SUITE, &[]);
    let (second, b) = run_suite_with("reports-again", SUITE, &[]);
    assert_eq!((first, second), (Some(0), Some(0)));
    let (code, text) = compare(&a, &b);
    // Runs alone (.config/nextest.toml): other tests on the same two cores would be noise.
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("no regression"), "{text}");
    assert!(
        !text.contains("| improved |") && !text.contains("| regressed |"),
        "{text}"
    );

    // The same target with 30 ms added each way on both nodes' LB links.
    let slowed = format!(
        "{SUITE}{}",
        ["node1", "node2"]
            .map(|n| format!(
                "\n[[faults]]\nat = \"0s\"\nkind = \"latency\"\nnode = \"{n}\"\nlink = \"lb\"\nlatency = \"30ms\"\n"
            ))
            .concat()
    );
    let baseline = a.join("results.json");
    let (code, slow) = run_suite_with(
        "reports-slowed",
        &slowed,
        &["--baseline", baseline.to_str().expect("utf-8 path")],
    );
    let report = std::fs::read_to_string(slow.join("report.md")).expect("report.md");
    assert_eq!(code, Some(4), "{report}");
    assert!(report.contains("| sticky | latency-p99 |"), "{report}");
    assert!(report.contains("| regressed |"), "{report}");
    let (code, text) = compare(&a, &slow);
    assert_eq!(code, Some(4), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("| sticky | latency-p50 |") && l.ends_with("| regressed |")),
        "{text}"
    );
}

/// A baseline cannot pass silently: `check` keeps a run's comparison with its baseline in the
/// reports it writes again, and `compare` between runs with nothing in common exits 2 naming
/// both sides instead of printing "no regression".
#[test]
fn check_keeps_the_baseline_and_compare_refuses_runs_with_nothing_in_common() {
    let suite = SUITE.replace("duration = \"7s\"", "duration = \"3s\"");
    let (code, base) = run_suite_with("reports-baseline-base", &suite, &[]);
    assert_eq!(code, Some(0));
    let base_results = base.join("results.json");
    let (code, new) = run_suite_with(
        "reports-baseline-new",
        &suite,
        &["--baseline", base_results.to_str().expect("path")],
    );
    assert!(matches!(code, Some(0 | 4)), "{code:?}");
    let heading = "### Against the baseline";
    let md = std::fs::read_to_string(new.join("report.md")).expect("report.md");
    assert!(md.contains(heading), "{md}");
    let check = sessionbench()
        .args(["check", "--quiet"])
        .arg(&new)
        .output()
        .expect("check");
    assert!(check.status.code().is_some_and(|c| c == 0 || c == 4));
    let md = std::fs::read_to_string(new.join("report.md")).expect("report.md");
    assert!(md.contains(heading), "check dropped the baseline: {md}");
    let html = std::fs::read_to_string(new.join("report.html")).expect("report.html");
    assert!(
        html.contains("baseline"),
        "check dropped the baseline from report.html"
    );

    // The same run under another target's name: nothing in common.
    let mut other = json(&base_results);
    other["targets"][0]["name"] = "renamed".into();
    let other_file = tempdir("reports-baseline-other").join("results.json");
    std::fs::create_dir_all(other_file.parent().expect("dir")).expect("dir");
    std::fs::write(&other_file, other.to_string()).expect("write");
    let compare = sessionbench()
        .arg("compare")
        .arg(&other_file)
        .arg(&base)
        .output()
        .expect("compare");
    let stderr = String::from_utf8_lossy(&compare.stderr);
    assert_eq!(compare.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("nothing to compare")
            && stderr.contains("renamed")
            && stderr.contains("sticky"),
        "{stderr}"
    );
}
