//! Who drives a target: the virtual users of a closed model, each running one session after
//! another, or the arrivals of an open model, each one session; all stop at the deadline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::session::{LoadContext, run_session};
use sessionbench_model::plan::{LoadModel, Workload};

/// Drives the workload until the deadline and returns when every session has finished and
/// the deadline has come.
pub async fn run_load(ctx: Arc<LoadContext>) {
    let mut sessions = JoinSet::new();
    match ctx.workload.model {
        LoadModel::Closed { virtual_users } => {
            for vu in 0..virtual_users {
                if ctx.shard.is_some_and(|s| !s.owns(u64::from(vu))) {
                    continue;
                }
                // Users start spread over one think time, as people arrive: all at t0, every
                // user's schedule would fire in the same instant every think time, and the
                // target would be measured under bursts the suite never asked for.
                let offset = ctx.workload.think_time * vu / virtual_users.max(1);
                sessions.spawn(virtual_user(ctx.clone(), u64::from(vu), ctx.t0 + offset));
            }
        }
        LoadModel::Open {
            arrival_rate,
            max_sessions_in_flight,
        } => {
            let gap = Duration::from_secs_f64(1.0 / arrival_rate);
            // A shard has its share of the cap as of the arrivals.
            let shards = ctx.shard.map_or(1, |s| s.count.max(1));
            let slots = Arc::new(Semaphore::new(
                max_sessions_in_flight.div_ceil(shards) as usize
            ));
            let mut next = ctx.t0;
            let mut n: u64 = 0;
            // As for a closed user: no arrival whose first operation would fall after the end.
            while next + first_op(&ctx.workload) < ctx.deadline {
                if ctx.shard.is_some_and(|s| !s.owns(n)) {
                    n += 1;
                    next += gap;
                    continue;
                }
                crate::timer::sleep_until(next).await;
                // An open model does not wait for the target: past the cap an arrival is
                // turned away (and the cap should be raised), never delayed.
                if let Ok(permit) = slots.clone().try_acquire_owned() {
                    let ctx = ctx.clone();
                    sessions.spawn(async move {
                        let _ = run_session(&ctx, format!("s{n}"), n, next).await;
                        drop(permit);
                    });
                } else {
                    ctx.turned_away.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
                next += gap;
            }
        }
    }
    while sessions.join_next().await.is_some() {}
    // The last operations start a little before the end (none is scheduled after it): the
    // load still lasts its whole duration, for the faults and the rates measured over it.
    crate::timer::sleep_until(ctx.deadline).await;
}

async fn virtual_user(ctx: Arc<LoadContext>, vu: u64, first: Instant) {
    crate::timer::sleep_until(first).await;
    let mut n = 0;
    // How long this user's login and an operation last took: what a new session needs
    // beyond its schedule.
    let mut recent = Duration::ZERO;
    loop {
        let start = Instant::now();
        // A session that could not complete its login and one operation before the deadline
        // would be a login alone, again and again: it would burst the end with logins.
        if start + first_op(&ctx.workload) + recent >= ctx.deadline {
            return;
        }
        let (established, slowest) = run_session(&ctx, format!("v{vu}.{n}"), vu, start).await;
        recent = slowest * 2;
        n += 1;
        if !established {
            // The target refuses logins (all nodes down?): do not spin.
            tokio::time::sleep(ctx.workload.think_time.max(Duration::from_millis(20))).await;
        }
    }
}

/// The latest a session's first operation is due after its login starts: the longest think
/// time, and a pause if the user steps away before it.
fn first_op(w: &Workload) -> Duration {
    let think = w.think_time.mul_f64(1.0 + w.think_time_jitter);
    match w.idle {
        Some(idle) if idle.every <= think => think + idle.pause,
        _ => think,
    }
}
