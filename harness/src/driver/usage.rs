//! The harness's own use of the machine while it loads a target: CPU time sampled every
//! second, so results can say when the driver, not the target, was the limit; and how long
//! its threads waited for a core while the machine was busy, so they can tell the two apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use tokio::time::Instant;

use crate::history::{Contention, Record};
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
        contention: contention(),
    }
}

/// Each thread's schedstat when last read, and what every thread has added since the first
/// read: totals that only grow, though threads end (the blocking pool's, after idling).
#[derive(Default)]
struct Threads {
    last: HashMap<String, (u64, u64)>,
    on_cpu_ns: u64,
    run_queue_ns: u64,
}

static THREADS: Mutex<Option<Threads>> = Mutex::new(None);

/// The harness's threads' time on a core and waiting for one, and the machine's busy time,
/// now; `None` where the kernel does not publish them (no schedstat).
fn contention() -> Option<Contention> {
    let mut guard = THREADS.lock().unwrap_or_else(|p| p.into_inner());
    let threads = guard.get_or_insert_with(Threads::default);
    let mut seen = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // `on-cpu-ns run-queue-ns slices`; a thread that ended meanwhile is skipped.
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let fields: Vec<u64> = text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if let [on_cpu, wait, _] = fields[..] {
            let id = task.file_name().to_string_lossy().into_owned();
            let (was_on, was_waiting) = threads.last.get(&id).copied().unwrap_or_default();
            threads.on_cpu_ns += on_cpu.saturating_sub(was_on);
            threads.run_queue_ns += wait.saturating_sub(was_waiting);
            seen.insert(id, (on_cpu, wait));
        }
    }
    if seen.is_empty() {
        return None;
    }
    threads.last = seen;
    let (machine_busy_us, machine_us) = machine_time()?;
    Some(Contention {
        on_cpu_us: threads.on_cpu_ns / 1000,
        run_queue_us: threads.run_queue_ns / 1000,
        machine_busy_us,
        machine_us,
    })
}

/// The machine's busy and total CPU time in µs from `/proc/stat`'s `cpu` line (in USER_HZ
/// ticks, 100 a second): busy is everything but idle and iowait.
fn machine_time() -> Option<(u64, u64)> {
    const US_PER_TICK: u64 = 10_000;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next().filter(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user and nice).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some(((total - idle) * US_PER_TICK, total * US_PER_TICK))
}

/// Cores the driver can keep busy: its runtime's worker threads, at most the cores this
/// process may run on (affinity and cgroup quota). A driver given one thread of two cores is
/// saturated at half the machine.
fn cores() -> u32 {
    let machine = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let workers =
        tokio::runtime::Handle::try_current().map_or(machine, |h| h.metrics().num_workers().max(1));
    u32::try_from(machine.min(workers)).unwrap_or(1)
}
