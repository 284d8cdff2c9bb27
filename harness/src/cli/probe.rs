//! `validate --probe` (and `import har --probe`): a suite's targets driven by one user for a
//! few seconds, without faults, to say before a load run whether the suite describes the app:
//! the login works, every operation's answer is read, no session is lost, the user is shown,
//! and each check has the answers it needs.

use std::path::Path;
use std::time::Duration;

use super::args::VarArgs;
use super::exit::{CliError, ExitCode};
use super::run;
use crate::run_dir::RunDir;
use sessionbench_model::history::{Op, OpKind, Outcome, Record};
use sessionbench_model::plan::{LoadModel, Plan};
use sessionbench_model::results::{Judged, TargetResult};

/// How long the user drives each target: sessions of a few operations each, so logins,
/// logouts and the reads after writes and increments all happen.
const PROBE_FOR: Duration = Duration::from_secs(4);

/// Runs the probe (of what `[quick]` keeps, with `quick`); exit 0 when every target passed
/// it, 3 when one did not.
pub fn probe(
    suite: &Path,
    quick: bool,
    allow_remote: bool,
    vars: &VarArgs,
) -> Result<ExitCode, CliError> {
    let mut plan = run::plan_of(Some(suite), quick, allow_remote, vars)?;
    narrow(&mut plan);
    let dir = RunDir::create(&run::default_dir(&plan), &plan, Some(suite), false)?;
    eprintln!(
        "sessionbench: probing `{}`: one user for {} per target, no faults ({})",
        plan.name,
        humantime::format_duration(PROBE_FOR),
        dir.path().display()
    );
    // One user's load: one thread.
    let (driven, results) = super::args::runtime(Some(1))
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(run::drive(&plan, &dir, true, None))?;
    dir.finish(&results, None)?;
    driven?;
    let mut ops: Vec<Op> = vec![];
    for record in dir.history()? {
        if let Record::Op(op) = record.map_err(|e| CliError::BadRun(e.to_string()))? {
            ops.push(op);
        }
    }
    let mut passed = true;
    for (target, t) in plan.targets.iter().zip(&results.targets) {
        let mine: Vec<&Op> = ops.iter().filter(|o| o.target == t.name).collect();
        let reads_user = target
            .external
            .as_ref()
            .and_then(|e| e.api.as_ref())
            .is_some_and(|api| {
                let requests = api.login.iter().chain([&api.read]);
                requests
                    .chain(api.write.iter().chain(api.counter.iter()))
                    .any(|r| r.user.is_some())
            });
        let lines = judge(t, &mine, reads_user);
        sayln!("target `{}`:", t.name);
        for (ok, line) in &lines {
            sayln!("  {}  {line}", if *ok { "ok  " } else { "FAIL" });
        }
        passed &= lines.iter().all(|(ok, _)| *ok);
    }
    if passed {
        sayln!(
            "probe passed: run the suite (sessionbench run {})",
            suite.display()
        );
        Ok(ExitCode::Ok)
    } else {
        sayln!(
            "probe failed: fix the suite where it says FAIL (files: {})",
            dir.path().display()
        );
        Ok(ExitCode::CheckFailed)
    }
}

/// One user, a short load, no faults, no scenarios or windows: the targets as written.
fn narrow(plan: &mut Plan) {
    plan.name = format!("{}-probe", plan.name);
    plan.duration = PROBE_FOR;
    plan.warm_up = Duration::ZERO;
    plan.faults.clear();
    plan.scenarios.clear();
    plan.quick = None;
    plan.report_window = None;
    plan.workload.model = LoadModel::Closed { virtual_users: 1 };
    plan.workload.think_time = Duration::from_millis(20);
    plan.workload.ops_per_session = plan.workload.ops_per_session.min(12);
    plan.workload.idle = None;
}

/// Each finding of a target's probe: (passed, what).
fn judge(t: &TargetResult, ops: &[&Op], reads_user: bool) -> Vec<(bool, String)> {
    let mut out = vec![];
    let first_error = |login: bool| {
        ops.iter()
            .filter(|o| (o.kind == OpKind::Login) == login && o.outcome != Outcome::Ok)
            .filter(|o| !matches!(o.kind, OpKind::Probe))
            .map(|o| {
                let why = o.error.as_deref().unwrap_or("failed");
                match o.status {
                    Some(status) => format!("{} {why} (HTTP {status})", o.kind.name()),
                    None => format!("{} {why}", o.kind.name()),
                }
            })
            .next()
            .unwrap_or_default()
    };
    let logins = ops.iter().filter(|o| o.kind == OpKind::Login).count();
    let signed_in = ops
        .iter()
        .filter(|o| o.kind == OpKind::Login && o.outcome == Outcome::Ok)
        .count();
    out.push((
        logins > 0 && signed_in == logins,
        if logins == signed_in {
            format!("login: {signed_in} of {logins} signed in")
        } else {
            format!(
                "login: {signed_in} of {logins} signed in; {}",
                first_error(true)
            )
        },
    ));
    let answered: Vec<&&Op> = ops
        .iter()
        .filter(|o| !matches!(o.kind, OpKind::Login | OpKind::Probe))
        .collect();
    let failed = answered.iter().filter(|o| o.outcome != Outcome::Ok).count();
    out.push((
        failed == 0 && !answered.is_empty(),
        if answered.is_empty() {
            "operations: none made (no login succeeded)".into()
        } else if failed == 0 {
            format!(
                "operations: {} of {} answered and read",
                answered.len(),
                answered.len()
            )
        } else {
            format!(
                "operations: {failed} of {} failed or unreadable; first: {}",
                answered.len(),
                first_error(false)
            )
        },
    ));
    out.push((
        t.sessions.lost == 0 && t.sessions.started > 0,
        match t.sessions.lost {
            0 => format!("sessions: none of {} lost", t.sessions.started),
            n => format!(
                "sessions: {n} of {} lost with one user and no faults: the logged-out signal matches a signed-in answer, or `cookie` is not the session's ({})",
                t.sessions.started,
                t.violations.first().map_or("", |v| v.detail.as_str())
            ),
        },
    ));
    let s = &t.sessions;
    let found = [
        (s.stale_reads, "stale reads"),
        (s.monotonic_violations, "monotonic-read violations"),
        (s.lost_updates, "lost updates"),
        (s.monotonic_writes, "monotonic-write violations"),
        (s.resurrections, "resurrections"),
        (s.logout_failed, "failed logouts"),
    ];
    let found: Vec<String> = found
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    out.push(if found.is_empty() {
        (true, "findings: none".into())
    } else {
        // One user and no faults: a finding is the suite misreading the app (a `counter` or
        // `value` that reads something else, a logged-out signal that misses).
        let first = t
            .violations
            .iter()
            .find(|v| v.kind != "session-lost")
            .map_or("", |v| v.detail.as_str());
        (
            false,
            format!(
                "findings with one user and no faults: {}: a `counter`, `value` or `logged-out` that reads something else? First: {first}",
                found.join(", ")
            ),
        )
    });
    let shown = ops
        .iter()
        .filter(|o| o.view.as_ref().is_some_and(|v| v.user.is_some()))
        .count();
    out.push(if reads_user {
        (shown > 0, format!("user: shown by {shown} answers"))
    } else {
        (true, "user: no request reads it (`user = …`): a session that comes back as another user is not detected".into())
    });
    for c in &t.checks {
        if c.sessions == 0 {
            // No session made what it judges (a write, an increment, a logout): the suite
            // has no such request, or the mix none.
            out.push((true, format!("check {}: nothing to judge", c.label())));
            continue;
        }
        let fed = c.judged != Judged::NotJudged;
        let why = c
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let what = match c.judged {
            Judged::Judged => format!("judged ({} of {} sessions)", c.fed, c.sessions),
            Judged::Partly => format!("partly judged{why}"),
            Judged::NotJudged => format!("not judged{why}"),
        };
        out.push((fed, format!("check {}: {what}", c.label())));
    }
    out
}
