//! Which checks ran: what the sessions' answers fed each check (`checkers::Fed`), summed over
//! a target's sessions, as judged, partly judged or not judged, with the reason and what
//! would feed it. An expectation on a check its answers never fed leaves the verdict unknown.

use sessionbench_model::results::{CheckCoverage, Judged};

use crate::checkers::Fed;
use sessionbench_model::plan::TargetPlan;

/// One check's part: the sessions that needed it, and those its answers fed.
#[derive(Debug, Default, Clone, Copy)]
struct Part {
    needed: u64,
    fed: u64,
}

impl Part {
    fn add(&mut self, needed: bool, fed: bool) {
        self.needed += u64::from(needed);
        self.fed += u64::from(needed && fed);
    }
}

/// The parts, in the order they are reported.
const PARTS: [(&str, Option<&str>); 8] = [
    ("session-lost", None),
    ("stale-read", Some("writes")),
    ("stale-read", Some("counter")),
    ("monotonic-read", None),
    ("monotonic-write", None),
    ("lost-update", Some("writes")),
    ("lost-update", Some("increments")),
    ("resurrection", None),
];

/// The parts that rest on the order of a session's operations.
const ORDERED: [bool; 8] = [false, true, true, true, true, true, true, false];

#[derive(Debug, Default)]
pub(super) struct Coverage {
    parts: [Part; 8],
    /// Sessions whose operations came out of order.
    unordered: u64,
}

impl Coverage {
    /// An ended session that was established.
    pub fn add(&mut self, f: Fed) {
        let feeds = [
            (f.used, f.used),
            (f.wrote, f.write_shown),
            (f.incremented, f.counter_shown),
            (f.answered_twice, f.ordered),
            (f.wrote, f.write_shown),
            (f.wrote, f.write_shown),
            (f.incremented, f.counter_twice),
            (f.logged_out, f.replayed),
        ];
        self.unordered += u64::from(f.unordered);
        for ((part, (needed, fed)), ordered) in self.parts.iter_mut().zip(feeds).zip(ORDERED) {
            part.add(needed, fed && !(ordered && f.unordered));
        }
    }

    pub fn report(&self, t: &TargetPlan) -> Vec<CheckCoverage> {
        PARTS
            .iter()
            .zip(self.parts)
            .zip(ORDERED)
            .map(|((&(check, part), p), ordered)| {
                let judged = if p.needed > 0 && p.fed == p.needed {
                    Judged::Judged
                } else if p.fed > 0 {
                    Judged::Partly
                } else {
                    Judged::NotJudged
                };
                CheckCoverage {
                    check: check.into(),
                    part: part.map(Into::into),
                    judged,
                    sessions: p.needed,
                    fed: p.fed,
                    reason: (judged != Judged::Judged).then(|| match self.unordered {
                        n if ordered && n > 0 => format!(
                            "judged for {} of {} sessions: {n} sessions' operations came out of the order they ended in, which the checks rely on",
                            p.fed, p.needed
                        ),
                        _ => reason(check, part, p, t),
                    }),
                }
            })
            .collect()
    }
}

/// Why a check's part was not judged for every session that needed it, and the key that
/// would feed it.
fn reason(check: &str, part: Option<&str>, p: Part, t: &TargetPlan) -> String {
    let external = t.external.is_some();
    let (why, hint) = match (check, part) {
        _ if p.needed == 0 => {
            return match (check, part) {
                ("session-lost", _) => "no session was used after its login",
                ("monotonic-read", _) => "no session had two answers",
                (_, Some("writes")) | ("monotonic-write", _) => {
                    "no session had an answer after an acknowledged write"
                }
                (_, Some("counter" | "increments")) => {
                    "no session had an answer after an acknowledged increment"
                }
                ("resurrection", _) => "no session logged out",
                _ => "no session needed it",
            }
            .into();
        }
        // What no answer showed, and the key of an application's API that would show it.
        (_, Some("writes")) | ("monotonic-write", _) => (
            "no answer after a write showed the value it set",
            Some("give `requests.read` a `value` (what `write` sets)"),
        ),
        ("stale-read", Some("counter")) => (
            "no answer after an increment showed the counter",
            Some("give `requests.read` (or `requests.counter`) a `counter`"),
        ),
        ("lost-update", Some("increments")) => (
            "lost increments are counted from an answer that shows the counter before an \
             acknowledged increment to one after it, and no session had both",
            Some("give `requests.read` (or the login) a `counter`"),
        ),
        ("monotonic-read", _) => (
            "no two answers showed a version or a counter",
            Some("give `requests.read` a `counter`"),
        ),
        ("resurrection", _) => ("no request followed an acknowledged logout", None),
        _ => ("its answers did not show what it needs", None),
    };
    // The key that would feed it, where the API lacks it; where it has it, the sessions
    // not judged ended before such an answer came (short sessions, a probe's).
    let has_key = shows(check, part, t);
    let why = match hint.filter(|_| external) {
        Some(_) if has_key => format!(
            "{why} (the API reads it: those sessions ended before an answer that showed it)"
        ),
        Some(hint) => format!("{why}: {hint}"),
        None => why.to_string(),
    };
    if p.fed > 0 {
        format!("judged for {} of {} sessions: {why}", p.fed, p.needed)
    } else {
        why
    }
}

/// Whether an application's API already reads what feeds `check`'s `part`.
fn shows(check: &str, part: Option<&str>, t: &TargetPlan) -> bool {
    let Some(api) = t.external.as_ref().and_then(|e| e.api.as_ref()) else {
        return false;
    };
    let read_counter = api.read.counter.is_some();
    match (check, part) {
        (_, Some("writes")) | ("monotonic-write", _) => api.read.value.is_some(),
        ("stale-read", Some("counter")) => {
            read_counter || api.counter.as_ref().is_some_and(|c| c.counter.is_some())
        }
        ("lost-update", Some("increments")) => {
            read_counter || api.login.last().is_some_and(|l| l.counter.is_some())
        }
        ("monotonic-read", _) => read_counter,
        _ => false,
    }
}

/// Whether an expectation named `name` rests on a check its answers never fed though
/// sessions needed it: judged, it would read as a pass it cannot be.
pub(super) fn unjudged(checks: &[CheckCoverage], expectation: &str) -> Option<String> {
    let check = match expectation {
        "stale-reads" => "stale-read",
        "monotonic-violations" => "monotonic-read",
        "monotonic-writes" => "monotonic-write",
        "lost-updates" | "max-lost-updates" => "lost-update",
        "resurrections" => "resurrection",
        _ => return None,
    };
    checks
        .iter()
        .find(|c| c.check == check && c.sessions > 0 && c.judged == Judged::NotJudged)
        .map(|c| {
            format!(
                "{expectation} could not be judged: {} not judged ({})",
                c.label(),
                c.reason.as_deref().unwrap_or("no reason")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::{Part, reason};
    use sessionbench_model::results::Verdict;

    use crate::history::{OpKind, Outcome, Record, View};

    const SUITE: &str = r#"
[suite]
name = "coverage"

[[targets]]
name = "direct"
strategy = "direct"

[targets.expect]
lost-updates = "none"
"#;

    /// A session that increments its counter twice: each answer shows the counter or not.
    fn history(counter_shown: bool) -> Vec<Record> {
        let op = |kind: OpKind, at: u64, counter: Option<u64>| {
            let mut op = crate::history::test_read("v1", (at, at, at + 500), Outcome::Ok);
            op.target = "direct".into();
            op.kind = kind;
            op.view = Some(View {
                user: Some("v1".into()),
                counter: counter.filter(|_| counter_shown),
                ..View::default()
            });
            Record::Op(op)
        };
        let mut records = vec![Record::TargetStart {
            target: "direct".into(),
            nodes: Default::default(),
            lb: None,
            started_unix_us: None,
        }];
        records.extend([
            op(OpKind::Login, 1_000, None),
            op(OpKind::Read, 2_000, Some(0)),
            op(OpKind::Counter, 3_000, Some(1)),
            op(OpKind::Counter, 4_000, Some(2)),
            op(OpKind::Read, 5_000, Some(2)),
        ]);
        records.push(Record::TargetEnd {
            target: "direct".into(),
            at_us: 10_000,
            interrupted: false,
        });
        records
    }

    #[test]
    fn an_expectation_on_a_check_no_answer_fed_is_unknown_never_pass() {
        let plan = crate::suite::parse(SUITE, "coverage.toml").expect("valid");
        let results = crate::results::build(&plan, history(false));
        let t = &results.targets[0];
        let increments = t
            .checks
            .iter()
            .find(|c| c.label() == "lost-update (increments)")
            .expect("reported");
        assert_eq!(
            increments.judged,
            sessionbench_model::results::Judged::NotJudged
        );
        assert_eq!((increments.sessions, increments.fed), (1, 0));
        assert!(
            increments
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("counter")),
            "{increments:?}"
        );
        assert_eq!(t.verdict, Verdict::Unknown, "{:?}", t.reasons);
        assert!(
            t.reasons
                .iter()
                .any(|r| r.starts_with("lost-updates could not be judged")),
            "{:?}",
            t.reasons
        );
        // Answers that show the counter feed it: judged, and nothing was lost.
        let results = crate::results::build(&plan, history(true));
        let t = &results.targets[0];
        assert!(
            t.checks.iter().all(
                |c| c.judged != sessionbench_model::results::Judged::NotJudged || c.sessions == 0
            ),
            "{:?}",
            t.checks
        );
        assert_eq!(t.verdict, Verdict::Pass, "{:?}", t.reasons);
    }

    /// An application whose read shows a counter: a check partly judged says its sessions
    /// ended too soon; one whose read shows none is told the key to add.
    #[test]
    fn a_hint_names_a_key_only_where_the_api_lacks_it() {
        let suite = |read: &str| {
            format!(
                "[suite]\nname = \"c\"\n[workload.mix]\nread = 1\nwrite = 0\ncounter = 0\nlogout = 0\n\
                 [[targets]]\nname = \"app\"\nstrategy = \"external\"\n\
                 url = \"http://127.0.0.1:1\"\n[targets.requests.login]\npath = \"/login\"\n\
                 [targets.requests.read]\npath = \"/me\"\n{read}\n"
            )
        };
        let part = Part { needed: 3, fed: 2 };
        let with =
            crate::suite::parse(&suite("counter = { pointer = \"/n\" }"), "c.toml").expect("valid");
        let r = reason("monotonic-read", None, part, &with.targets[0]);
        assert!(
            r.contains("(the API reads it: those sessions ended before"),
            "{r}"
        );
        assert!(!r.contains("give"), "{r}");
        let without = crate::suite::parse(&suite(""), "c.toml").expect("valid");
        let r = reason("monotonic-read", None, part, &without.targets[0]);
        assert!(r.ends_with("give `requests.read` a `counter`"), "{r}");
    }
}
