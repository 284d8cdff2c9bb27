//! The harness's own use of the machine while it loads a target: CPU time sampled every
//! second, so results can say when the driver, not the target, was the limit.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use tokio::time::Instant;

use crate::history::Record;
use crate::load::LoadContext;

/// Samples every second from `ctx.t0` until aborted; the caller sends the last one at the end.
pub async fn sample_every_second(ctx: Arc<LoadContext>) {
    for k in 0u32.. {
        crate::timer::sleep_until(ctx.t0 + Duration::from_secs(u64::from(k))).await;
        let _ = ctx.events.send(sample(&ctx, Instant::now()));
    }
}

/// The harness process's CPU time so far, at `now`.
pub fn sample(ctx: &LoadContext, now: Instant) -> Record {
    let cpu_us = getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| {
        let us = |t: nix::sys::time::TimeVal| {
            u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000
                + u64::try_from(t.tv_usec()).unwrap_or(0)
        };
        us(u.user_time()) + us(u.system_time())
    });
    Record::DriverSample {
        target: ctx.target.clone(),
        at_us: ctx.us(now),
        cpu_us,
        cores: cores(),
        turned_away: ctx.turned_away.load(std::sync::atomic::Ordering::Relaxed),
    }
}

/// Cores this process may run on (affinity and cgroup quota), as the runtime sizes itself.
fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
}
