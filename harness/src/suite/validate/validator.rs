//! The validator: a suite's raw values checked one by one into a [`Plan`], every problem kept with where it is.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml_edit::Document;

use super::errors::{SuiteError, SuiteErrors, first_line};
use super::section::Section;
use super::structure::{Structure, deserialize_all};

use crate::suite::locate::{self, Seg};
use crate::suite::raw::{SuiteRaw, TargetRaw, WorkloadRaw};
use sessionbench_model::plan::{Mix, Plan};

/// The commented default suite: every key with its default, the source of every default.
pub const DEFAULT_SUITE: &str = include_str!("../default-suite.toml");

/// What `run` runs without a file: sticky, delta and Redis through one kill, compared.
pub const FIRST_RUN: &str = include_str!("../first-run.toml");

/// What the command line adds to a suite's own rules.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--allow-remote`: every external target may be on another host.
    pub allow_remote: bool,
    /// Names in URLs are not looked up (their address is left unspecified): for manifests
    /// that run the suite elsewhere, where the names mean what that cluster's DNS says.
    pub unresolved: bool,
    /// `--var NAME=VALUE`: the suite's `${NAME}`, before the environment's.
    pub vars: BTreeMap<String, String>,
}

/// Reads and validates the suite file at `path`.
pub fn load(path: &Path) -> Result<Plan, SuiteErrors> {
    load_with(path, Options::default())
}

/// Reads and validates the suite file at `path`, with the command line's `options`.
pub fn load_with(path: &Path, options: Options) -> Result<Plan, SuiteErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        SuiteErrors(vec![SuiteError {
            file: file.clone(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the suite file: {e}"),
        }])
    })?;
    parse_with(&text, &file, options)
}

/// Validates suite text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Plan, SuiteErrors> {
    parse_with(text, file, Options::default())
}

/// Validates suite text with the command line's `options`; `file` names it in errors, and
/// files the suite names (`ca-file`) are found from its directory.
pub fn parse_with(text: &str, file: &str, options: Options) -> Result<Plan, SuiteErrors> {
    let at = |offset: usize, key: String, message: String| {
        let (line, column) = locate::line_col(text, offset);
        SuiteErrors(vec![SuiteError {
            file: file.into(),
            line,
            column,
            key,
            message,
        }])
    };
    let doc = Document::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = first_line(e.message());
        // toml_edit says "duplicate key" and points at it: name it.
        let key = if message.starts_with("duplicate key") {
            text[offset..]
                .split(|c: char| c.is_whitespace() || c == '=' || c == ']')
                .next()
                .unwrap_or_default()
                .to_string()
        } else {
            String::new()
        };
        at(offset, key, message)
    })?;
    let Structure {
        raw,
        mut errors,
        unfilled,
    } = deserialize_all(text, file, &doc, &options.vars);
    let defaults = default_raw();
    // A suite that lets one target be remote lets its fault probes go there too.
    let any_remote = raw
        .targets
        .iter()
        .flatten()
        .flatten()
        .any(TargetRaw::remote);
    let mut check = Validator {
        text,
        file,
        doc: &doc,
        errors: Vec::new(),
        allow_remote: options.allow_remote,
        unresolved: options.unresolved,
        any_remote: options.allow_remote || any_remote,
        places: Vec::new(),
        unjudged: Vec::new(),
        unfilled,
        suite_dir: Path::new(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let plan = check.plan(raw, defaults);
    errors.extend(check.errors);
    if errors.is_empty() {
        Ok(plan)
    } else {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        Err(SuiteErrors(errors))
    }
}

pub(super) fn default_raw() -> SuiteRaw {
    let doc = Document::parse(DEFAULT_SUITE).expect("the embedded default suite is valid TOML");
    let read = deserialize_all(DEFAULT_SUITE, "default-suite.toml", &doc, &BTreeMap::new());
    assert!(
        read.errors.is_empty(),
        "the embedded default suite: {:?}",
        read.errors
    );
    read.raw
}

/// Collects errors while resolving values; every accessor returns a usable placeholder on error
/// so checking goes on and all problems are reported together.
pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a str,
    pub(super) doc: &'a Document<&'a str>,
    pub(super) errors: Vec<SuiteError>,
    /// `--allow-remote`.
    pub(super) allow_remote: bool,
    /// [`Options::unresolved`].
    pub(super) unresolved: bool,
    /// Some target may be remote (fault probes may then leave loopback).
    pub(super) any_remote: bool,
    /// Where each target of the plan is in the file's list (one with a wrong strategy has
    /// none).
    pub(super) places: Vec<usize>,
    /// The names of targets whose strategy was wrong (reported): other keys may name them.
    pub(super) unjudged: Vec<String>,
    /// Values whose variables could not be filled (reported): judging what is left of them
    /// would only repeat that.
    pub(super) unfilled: Vec<Vec<Seg>>,
    /// Where relative paths in the suite start.
    pub(super) suite_dir: std::path::PathBuf,
}

/// The longest load on one target: a week.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A name that is one path component, safe to join to a directory.
pub(super) fn is_dir_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

pub(super) fn key(k: &str) -> Seg {
    Seg::Key(k.into())
}

pub(super) fn join(base: &[Seg], k: &str) -> Vec<Seg> {
    let mut p = base.to_vec();
    p.push(key(k));
    p
}

impl Validator<'_> {
    pub(super) fn err(&mut self, path: &[Seg], message: impl Into<String>) {
        // An error at a value left unfilled, or at what holds it (a JSON body), repeats one.
        let repeats = |u: &Vec<Seg>| path.starts_with(u) || (path.len() > 2 && u.starts_with(path));
        if self.unfilled.iter().any(repeats) {
            return;
        }
        let (line, column) = locate::line_col(self.text, locate::offset(self.doc, path));
        self.errors.push(SuiteError {
            file: self.file.into(),
            line,
            column,
            key: locate::render(path),
            message: message.into(),
        });
    }

    /// Reports each key in `given` that is set: it does not apply here, for `why`.
    pub(super) fn refuse(&mut self, path: &[Seg], given: &[(&str, bool)], why: &str) {
        for (key, set) in given {
            if *set {
                self.err(&join(path, key), why);
            }
        }
    }

    /// Parses a duration; `None` (with the error recorded) when it is not one.
    pub(super) fn duration(
        &mut self,
        path: &[Seg],
        value: Option<String>,
        default: Option<String>,
    ) -> Option<Duration> {
        let text = value.or(default).unwrap_or_default();
        match humantime::parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    path,
                    format!("`{text}` is not a duration like \"500ms\", \"30s\" or \"5m\" ({e})"),
                );
                None
            }
        }
    }

    /// A duration that must be above zero; an unparsable one was reported already.
    pub(super) fn positive(&mut self, path: &[Seg], d: Option<Duration>, what: &str) -> Duration {
        if d.is_some_and(|d| d.is_zero()) {
            self.err(path, format!("{what} must be above zero"));
        }
        d.unwrap_or_default()
    }

    pub(super) fn one_of<'v>(
        &mut self,
        path: &[Seg],
        value: &str,
        allowed: &[&'v str],
    ) -> Option<&'v str> {
        let found = allowed.iter().find(|a| **a == value).copied();
        if found.is_none() {
            self.err(
                path,
                format!("`{value}` is not one of: {}", allowed.join(", ")),
            );
        }
        found
    }

    pub(super) fn plan(&mut self, raw: SuiteRaw, d: SuiteRaw) -> Plan {
        let s = raw.suite.unwrap_or_default();
        let ds = d.suite.unwrap_or_default();
        let base = [key("suite")];
        let Section {
            name,
            duration,
            warm_up,
            driver_limits,
        } = self.section(&s, &ds);
        let errors_before = self.errors.len();
        let attributes_given = raw
            .workload
            .as_ref()
            .is_some_and(|w| w.attributes.is_some());
        let default_workload = d.workload.unwrap_or_default();
        let workload_raw = raw.workload.unwrap_or_default().over(&default_workload);
        let workload = self.workload(
            &[key("workload")],
            workload_raw.clone(),
            WorkloadRaw::default(),
        );
        let inherited = if self.errors.len() == errors_before {
            workload_raw
        } else {
            default_workload
        };
        let Some(Ok(TargetRaw::Sticky(template))) = d.targets.and_then(|t| t.into_iter().next())
        else {
            unreachable!("the default suite's target is sticky")
        };
        // A file without targets would run the default one and pass, judging nothing of the
        // user's: refused, as an empty list is.
        let raw_targets = raw.targets.unwrap_or_default();
        if raw_targets.is_empty() {
            self.err(
                &[key("targets")],
                "a suite needs at least one [[targets]] table (`sessionbench run --print-default-suite` shows one with every key)",
            );
        }
        // `attributes` spreads writes over a reference node's attributes; an application's
        // writes set the one value its `requests.write` sends (templates have no `{attr}`).
        let typed: Vec<&TargetRaw> = raw_targets.iter().flatten().collect();
        let every_api = !typed.is_empty() && typed.iter().all(|t| t.has_requests());
        if attributes_given && every_api {
            self.err(
                &[key("workload"), key("attributes")],
                "every target is an application whose writes set the one value its \
                 `requests.write` sends (templates have no `{attr}`): `attributes` would \
                 change nothing; remove it",
            );
        }
        let mut targets = self.targets(raw_targets, &template);
        self.network(&base, s.network, &mut targets);
        // A fault whose kind was wrong is still a fault outside the scenarios.
        let has_faults = raw.faults.as_ref().is_some_and(|f| !f.is_empty());
        let faults = self.faults(&[key("faults")], raw.faults, duration, &targets);
        let scenarios = self.scenarios(raw.scenarios, has_faults, &inherited, duration, &targets);
        let mixes: Vec<(String, Mix)> = if scenarios.is_empty() {
            vec![("the workload".into(), workload.mix)]
        } else {
            scenarios
                .iter()
                .map(|s| (format!("scenario `{}`", s.name), s.workload.mix))
                .collect()
        };
        self.mix_fits_api(&targets, &mixes);
        let reference = self.reference(s.reference, &scenarios, &targets);
        let report_window = self.report_window(&base, s.report_window, duration);
        let quick = raw
            .quick
            .map(|q| self.quick(q, &scenarios, &faults, &targets, warm_up));
        Plan {
            format_version: sessionbench_model::plan::FORMAT_VERSION,
            name,
            source: self.file.into(),
            seed: s.seed.or(ds.seed).unwrap_or(1),
            duration,
            warm_up,
            workload,
            targets,
            faults,
            scenarios,
            reference,
            quick,
            driver_limits,
            report_window,
            shard: None,
        }
    }

    /// `report-window` under `base`: at least a second, and at most 1000 windows in `duration`.
    pub(super) fn report_window(
        &mut self,
        base: &[Seg],
        text: Option<String>,
        duration: Duration,
    ) -> Option<Duration> {
        text.as_ref()?;
        let path = join(base, "report-window");
        let window = self.duration(&path, text, None)?;
        if window < Duration::from_secs(1) {
            self.err(&path, "a report window is at least 1s");
        } else if duration.as_secs_f64() / window.as_secs_f64() > 1000.0 {
            self.err(
                &path,
                format!(
                    "{} makes over 1000 windows of the load: take a longer one",
                    show(window)
                ),
            );
        }
        Some(window)
    }
}

pub(super) fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionbench_model::plan::{AppendFsync, RedisPlan, Strategy};

    #[test]
    fn users_rates_and_durations_have_bounds_with_their_reasons() {
        let text = "[suite]\nname = \"x\"\nduration = \"876000h\"\n\n[workload]\nvirtual-users = 4294967295\n";
        let errors = parse(text, "x.toml")
            .expect_err("out of bounds")
            .to_string();
        assert!(errors.contains("a run lasts at most 7days"), "{errors}");
        assert!(
            errors.contains("4294967295 users: at most 63500"),
            "{errors}"
        );
        let open = "[suite]\nname = \"x\"\n\n[workload]\nmodel = \"open\"\narrival-rate = 1e9\nmax-sessions-in-flight = 1000000\n";
        let errors = parse(open, "x.toml")
            .expect_err("out of bounds")
            .to_string();
        assert!(
            errors.contains("sessions per second: at most 100000"),
            "{errors}"
        );
        assert!(errors.contains("1000000: at most 63500"), "{errors}");
    }

    #[test]
    fn a_suite_name_that_would_leave_the_runs_directory_is_refused() {
        for bad in ["../../x", "a/b", ".hidden", "x y"] {
            let text = format!("[suite]\nname = \"{bad}\"\n");
            let errors = parse(&text, "x.toml").expect_err(bad).to_string();
            assert!(
                errors.contains("cannot name a run directory"),
                "{bad}: {errors}"
            );
        }
        parse(
            "[suite]\nname = \"nightly-1.2_a\"\n\n[[targets]]\nname = \"t\"\nstrategy = \"sticky\"\n",
            "x.toml",
        )
        .expect("a plain name");
    }

    #[test]
    fn a_file_without_targets_is_refused_a_duplicate_key_named_and_a_missing_file_shown() {
        for text in ["", "# nothing\n", "[suite]\nname = \"e\"\n"] {
            let errors = parse(text, "e.toml").expect_err(text).to_string();
            assert!(
                errors.contains("`targets`: a suite needs at least one [[targets]] table"),
                "{text:?}: {errors}"
            );
        }
        let errors = parse("[suite]\nname = \"a\"\nname = \"b\"\n", "d.toml")
            .expect_err("a duplicate")
            .to_string();
        assert_eq!(errors, "d.toml:3:1: `name`: duplicate key");
        let errors = load(Path::new("/nonexistent/nosuch.toml"))
            .expect_err("missing")
            .to_string();
        assert!(
            errors.starts_with("/nonexistent/nosuch.toml: cannot read the suite file"),
            "{errors}"
        );
    }

    #[test]
    fn a_logged_out_status_is_one_status_or_a_list() {
        let shop = include_str!("../../../../suites/external/shop.toml");
        for (status, want) in [("401", vec![401]), ("[401, 403]", vec![401, 403])] {
            let text = shop.replacen("redirect = \"/login\"", &format!("status = {status}"), 1);
            let plan = parse(&text, "shop.toml").expect(status);
            let api = plan.targets[0]
                .external
                .as_ref()
                .and_then(|e| e.api.as_ref());
            assert_eq!(api.expect("an API").logged_out.status, want, "{status}");
        }
        let text = shop.replacen("redirect = \"/login\"", "status = \"401\"", 1);
        let errors = parse(&text, "shop.toml").expect_err("a string").to_string();
        assert!(
            errors.contains("`targets[0].logged-out.status`")
                && errors.contains("an HTTP status (401) or a list of them"),
            "{errors}"
        );
    }

    #[test]
    fn the_first_run_compares_three_strategies_through_a_kill_in_under_a_minute() {
        let plan = parse(FIRST_RUN, "first-run.toml").expect("valid");
        let strategies: Vec<&str> = plan.targets.iter().map(|t| t.strategy.name()).collect();
        assert_eq!(strategies, ["sticky", "delta", "redis"]);
        assert_eq!(plan.scenarios.len(), 1);
        assert_eq!(plan.reference.as_deref(), Some("sticky"));
        let runs = (plan.targets.len() * plan.scenarios.len()) as u32;
        assert!(
            plan.duration * runs < Duration::from_secs(45),
            "{:?}",
            plan.duration
        );
    }

    #[test]
    fn the_default_suite_is_valid_and_complete() {
        let plan = parse(DEFAULT_SUITE, "default-suite.toml").expect("valid");
        assert_eq!(plan.name, "default");
        assert_eq!(plan.targets.len(), 1);
        assert_eq!(plan.targets[0].lb_policy.as_deref(), Some("cookie-route"));
        assert!(plan.targets[0].route_suffix);
        assert_eq!(plan.faults.len(), 1);
    }

    #[test]
    fn a_minimal_suite_takes_every_default() {
        let plan = parse(
            "[suite]\nname = \"m\"\n\n[[targets]]\nname = \"rr\"\nstrategy = \"round-robin\"\n",
            "m.toml",
        )
        .expect("valid");
        assert_eq!(
            (plan.duration, plan.workload.ops_per_session),
            (Duration::from_secs(30), 30)
        );
        let t = &plan.targets[0];
        assert_eq!(
            (t.nodes, t.lb_policy.as_deref(), t.route_suffix),
            (3, Some("round-robin"), false)
        );
        assert!(plan.faults.is_empty(), "faults are not inherited");
    }

    #[test]
    fn add_node_needs_a_new_name_and_a_load_balancer() {
        let text = "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"one\"\nstrategy = \"direct\"\n\n[[faults]]\nat = \"1s\"\nkind = \"add-node\"\nnode = \"node1\"\nheal-after = \"1s\"\n";
        let shown: Vec<String> = parse(text, "x.toml")
            .expect_err("invalid")
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "x.toml:10:1: `faults[0].kind`: target `one` is \"direct\": there is no load balancer to add a node to",
                "x.toml:11:1: `faults[0].node`: target `one` already has a node `node1`: name the new one",
                "x.toml:12:1: `faults[0].heal-after`: `heal-after` is not a key of an \"add-node\" fault (it ends when the node is serving): only \"kill\", \"stop\", \"pause\", \"remove-node\", \"partition\", \"latency\", \"link-down\", \"store-kill\", \"store-pause\" and \"command\" faults have it",
            ]
        );
    }

    #[test]
    fn every_semantic_error_is_reported_with_its_place() {
        let text = "[suite]\nname = \"x\"\nduration = \"10s\"\n\n[[targets]]\nname = \"a\"\nstrategy = \"sticky\"\nlb-policy = \"magic\"\nnodes = 2\n\n[[faults]]\nat = \"20s\"\nkind = \"kill\"\nnode = \"node3\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:8:1: `targets[0].lb-policy`: `magic` is not one of: cookie-route, cookie-insert, ip-hash",
                "x.toml:12:1: `faults[0].at`: 20s is not before the end of the load (10s)",
                "x.toml:14:1: `faults[0].node`: target `a` has no node `node3` (it has node1 to node2)",
            ]
        );
    }

    #[test]
    fn backup_targets_take_lb_policies_but_no_replication_mode() {
        let text = "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"b\"\nstrategy = \"backup\"\nnodes = 3\nlb-policy = \"cookie-route\"\n\n[[targets]]\nname = \"c\"\nstrategy = \"backup\"\nreplication = \"async\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:13:1: `targets[1].replication`: `replication` is not a key of a \"backup\" target: only \"delta\" and \"tomcat\" targets have it",
            ]
        );
        let ok = parse(
            &text[..text.find("\n\n[[targets]]\nname = \"c\"").expect("second")],
            "x.toml",
        )
        .expect("valid");
        let t = &ok.targets[0];
        assert_eq!(
            (
                t.strategy,
                t.lb_policy.as_deref(),
                t.route_suffix,
                t.strategy_label()
            ),
            (
                Strategy::Backup,
                Some("cookie-route"),
                true,
                "backup".to_string()
            )
        );
    }

    #[test]
    fn only_async_delta_targets_delay_their_changes() {
        let text = "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"a\"\nstrategy = \"delta\"\nreplication-delay = \"5ms\"\n\n[[targets]]\nname = \"s\"\nstrategy = \"delta\"\nreplication = \"sync\"\nreplication-delay = \"5ms\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:13:1: `targets[1].replication-delay`: only a \"delta\" target with replication = \"async\" delays its changes",
            ]
        );
        let first = &text[..text.find("\n\n[[targets]]\nname = \"s\"").expect("second")];
        let ok = parse(first, "x.toml").expect("valid");
        assert_eq!(ok.targets[0].replication_delay, Duration::from_millis(5));
    }

    #[test]
    fn redis_targets_and_store_faults_are_checked() {
        let text = "[suite]\nname = \"x\"\nduration = \"10s\"\n\n[[targets]]\nname = \"r\"\nstrategy = \"redis\"\nredis = \"sentinels\"\n\n[[targets]]\nname = \"rr\"\nstrategy = \"round-robin\"\nredis-appendonly = true\n\n[[faults]]\nat = \"2s\"\nkind = \"store-flush\"\nnode = \"redis\"\nheal-after = \"1s\"\n";
        let errors = parse(text, "x.toml").expect_err("invalid").0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "x.toml:8:1: `targets[0].redis`: `sentinels` is not \"standalone\", \"sentinel\", \"cluster\" or a redis:// (or rediss://) URL",
                "x.toml:13:1: `targets[1].redis-appendonly`: `redis-appendonly` is not a key of a \"round-robin\" target: only a \"redis\" target has it",
                "x.toml:18:1: `faults[0].node`: target `rr` has no store process `redis` (it has no store process the harness runs)",
                "x.toml:19:1: `faults[0].heal-after`: `heal-after` is not a key of a \"store-flush\" fault (it is over once done): only \"kill\", \"stop\", \"pause\", \"remove-node\", \"partition\", \"latency\", \"link-down\", \"store-kill\", \"store-pause\" and \"command\" faults have it",
            ]
        );
        let ok = parse(
            "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"r\"\nstrategy = \"redis\"\nredis-appendonly = true\n\n[[targets]]\nname = \"e\"\nstrategy = \"redis\"\nredis = \"redis://127.0.0.1:6390\"\n",
            "x.toml",
        )
        .expect("valid");
        assert_eq!(
            (ok.targets[0].redis.clone(), ok.targets[0].strategy_label()),
            (
                Some(RedisPlan::Standalone {
                    appendonly: true,
                    appendfsync: AppendFsync::Everysec
                }),
                "redis-standalone".to_string()
            )
        );
        assert_eq!(ok.targets[0].store_ids(), ["redis"]);
        assert!(
            ok.targets[1].store_ids().is_empty(),
            "an external Redis is not ours to kill"
        );
    }

    #[test]
    fn appendfsync_needs_an_append_only_file_the_harness_runs() {
        let suite = |keys: &str| {
            format!(
                "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"r\"\nstrategy = \"redis\"\n{keys}"
            )
        };
        let ok = parse(
            &suite(
                "redis = \"sentinel\"\nredis-appendonly = true\nredis-appendfsync = \"always\"\n",
            ),
            "x.toml",
        )
        .expect("valid");
        let redis = ok.targets[0].redis.clone().expect("redis");
        assert_eq!(redis.append_only(), Some(AppendFsync::Always));
        for (keys, error) in [
            (
                "redis-appendfsync = \"always\"\n",
                "x.toml:7:1: `targets[0].redis-appendfsync`: it says how an append-only file is synced: set `redis-appendonly = true` too",
            ),
            (
                "redis-appendonly = true\nredis-appendfsync = \"sometimes\"\n",
                "x.toml:8:1: `targets[0].redis-appendfsync`: `sometimes` is not one of: everysec, always, no",
            ),
            (
                "redis = \"redis://127.0.0.1:6390\"\nredis-appendfsync = \"no\"\n",
                "x.toml:8:1: `targets[0].redis-appendfsync`: the harness does not run a Redis given by URL: configure persistence there",
            ),
        ] {
            let errors = parse(&suite(keys), "x.toml").expect_err("invalid").0;
            let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
            assert_eq!(shown, [error], "{keys}");
        }
    }
}
