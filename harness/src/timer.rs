//! Waking on time. tokio's timer wheel ticks every millisecond and rounds each deadline up to
//! the next tick, so an operation that slept until its intended start would begin up to 1 ms
//! late, and, since latency is measured from the intended start, that lateness would be
//! reported as the target's. [`sleep_until`] returns at once when the deadline has passed,
//! waits on tokio's wheel until about a tick before it, and hands the last stretch to one
//! timer thread. One thread serves every waiter, so many users waiting at once cost one
//! wake-up each, not a spinning thread each.
//!
//! Even with its timer slack cut to 1 ns, a sleeping thread wakes some 40-50 µs late on a
//! virtual machine, and the task it wakes runs some 20 µs after that. Both delays are
//! measured as they happen: the timer thread sleeps until its own expected lateness before
//! the moment to wake a waiter and spins the rest, and wakes each waiter that much earlier
//! than its deadline as the hop to its task takes; a task that arrives early spins the few
//! microseconds left. The spinning is bounded by the delays measured (tens of µs a wake-up)
//! and shows in the driver's CPU share.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Waits until `deadline`, within tens of microseconds (not tokio's millisecond).
pub async fn sleep_until(deadline: tokio::time::Instant) {
    let at = deadline.into_std();
    let now = Instant::now();
    if at <= now {
        return;
    }
    // The wheel wakes at the first tick at or after its deadline: two ticks early is always
    // before `at`, and leaves the precise thread only the last millisecond or two.
    if at - now > COARSE_MARGIN {
        tokio::time::sleep_until(deadline - COARSE_MARGIN).await;
    }
    let timer = timer();
    match timer.register(at).await {
        Ok(sent) => {
            let now = Instant::now();
            timer
                .shared
                .hop
                .observe(now.saturating_duration_since(sent));
            // Woken early by the expected hop: spin the little that is left.
            while Instant::now() < at {
                std::hint::spin_loop();
            }
        }
        // The sender is dropped only if the timer thread is gone; then the wheel will do.
        Err(_) => tokio::time::sleep_until(deadline).await,
    }
}

/// The longest either delay may be taken to be: beyond it, spinning would cost more than
/// the precision is worth, and a delay that long is noise (a preempted thread).
const MAX_LEAD: Duration = Duration::from_micros(300);

/// A running estimate of a delay, from its recent samples: mean plus `spread` mean deviations.
#[derive(Debug, Default)]
struct Delay {
    mean_ns: AtomicU64,
    deviation_ns: AtomicU64,
}

impl Delay {
    /// Folds in one sample (a moving average over about 16). Updates from several threads
    /// may race; an estimate only needs to be near.
    fn observe(&self, d: Duration) {
        let sample = u64::try_from(d.min(MAX_LEAD).as_nanos()).unwrap_or(0);
        let mean = self.mean_ns.load(Ordering::Relaxed);
        let dev = self.deviation_ns.load(Ordering::Relaxed);
        let ewma = |old: u64, new: u64| (old * 15 + new) / 16;
        self.mean_ns.store(ewma(mean, sample), Ordering::Relaxed);
        self.deviation_ns
            .store(ewma(dev, sample.abs_diff(mean)), Ordering::Relaxed);
    }

    fn estimate(&self, spread: u64) -> Duration {
        let ns = self.mean_ns.load(Ordering::Relaxed)
            + spread * self.deviation_ns.load(Ordering::Relaxed);
        Duration::from_nanos(ns).min(MAX_LEAD)
    }
}

/// What the wheel may leave to the timer thread: two of its 1 ms ticks.
const COARSE_MARGIN: Duration = Duration::from_millis(2);

fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    TIMER.get_or_init(Timer::start)
}

#[derive(Debug)]
struct Timer {
    shared: &'static Shared,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// From the timer thread's send to the woken task running.
    hop: Delay,
    /// How much later than asked the timer thread wakes from a timed wait.
    oversleep: Delay,
}

#[derive(Debug, Default)]
struct Queue {
    waiters: BinaryHeap<Reverse<Waiter>>,
    /// Breaks ties between equal deadlines (senders have no order).
    next: u64,
}

#[derive(Debug)]
struct Waiter {
    at: Instant,
    seq: u64,
    /// Gets the instant it was sent, so the task can measure the hop.
    wake: oneshot::Sender<Instant>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl Timer {
    fn start() -> Self {
        // One per process, for its whole life: leaking it lets the thread borrow it plainly.
        let shared: &'static Shared = Box::leak(Box::default());
        let spawned = std::thread::Builder::new()
            .name("sessionbench-timer".into())
            .spawn(move || run(shared));
        if let Err(e) = spawned {
            // Waiters then fall back to the wheel (their senders are dropped at once).
            eprintln!("sessionbench: cannot start the timer thread ({e}); timing is coarse");
        }
        Self { shared }
    }

    fn register(&self, at: Instant) -> oneshot::Receiver<Instant> {
        let (wake, rx) = oneshot::channel();
        let mut q = lock(&self.shared.queue);
        let seq = q.next;
        q.next += 1;
        let earliest = q.waiters.peek().is_none_or(|Reverse(w)| at < w.at);
        q.waiters.push(Reverse(Waiter { at, seq, wake }));
        drop(q);
        if earliest {
            self.shared.changed.notify_one();
        }
        rx
    }
}

fn lock(m: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The timer thread: wakes every waiter whose deadline is within the hop, then waits for
/// the next: asleep while it is far, spinning once it is within the thread's own lateness.
fn run(shared: &Shared) {
    // The kernel may otherwise defer a sleeping thread's wake-up by its timer slack (50 µs by
    // default) to batch it with others; this thread exists to be on time.
    let _ = nix::sys::prctl::set_timerslack(1);
    let mut q = lock(&shared.queue);
    loop {
        let now = Instant::now();
        let lead = shared.hop.estimate(0);
        while q
            .waiters
            .peek()
            .is_some_and(|Reverse(w)| w.at <= now + lead)
        {
            if let Some(Reverse(w)) = q.waiters.pop() {
                // A waiter that gave up (its task was cancelled) has dropped its receiver.
                let _ = w.wake.send(Instant::now());
            }
        }
        let Some(send_at) = q.waiters.peek().map(|Reverse(w)| w.at - lead) else {
            q = shared.changed.wait(q).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        let early = shared.oversleep.estimate(2);
        let left = send_at.saturating_duration_since(now);
        if left > early {
            let asked = now + (left - early);
            let (guard, waited) = shared
                .changed
                .wait_timeout(q, left - early)
                .unwrap_or_else(|p| p.into_inner());
            q = guard;
            if waited.timed_out() {
                shared
                    .oversleep
                    .observe(Instant::now().saturating_duration_since(asked));
            }
        } else {
            // Within the thread's own lateness: spin, with the queue open to new waiters.
            drop(q);
            while Instant::now() < send_at {
                std::hint::spin_loop();
            }
            q = lock(&shared.queue);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // How close to the deadline a wait ends is measured by `ci/bench driver` (send lag), not
    // here: the machines are noisy. These check what must hold on any machine.

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_wakes_before_the_deadline() {
        for i in 0..300u64 {
            let deadline = tokio::time::Instant::now() + Duration::from_micros(50 + 29 * i);
            sleep_until(deadline).await;
            assert!(
                tokio::time::Instant::now() >= deadline,
                "woke early for a wait of {} us",
                50 + 29 * i
            );
        }
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once_and_every_waiter_wakes() {
        sleep_until(tokio::time::Instant::now() - Duration::from_millis(5)).await;
        let start = tokio::time::Instant::now();
        let offsets: Vec<Duration> = (0..500u64)
            .map(|i| Duration::from_micros(100 + (i * 7919) % 5000))
            .collect();
        let waits: Vec<_> = offsets
            .iter()
            .map(|&d| tokio::spawn(sleep_until(start + d)))
            .collect();
        for w in waits {
            w.await.expect("a waiter panicked");
        }
        let longest = offsets.iter().max().copied().unwrap_or_default();
        assert!(tokio::time::Instant::now() >= start + longest);
    }

    #[tokio::test]
    async fn a_cancelled_wait_does_not_stop_the_others() {
        let start = tokio::time::Instant::now();
        let cancelled = tokio::spawn(sleep_until(start + Duration::from_micros(200)));
        cancelled.abort();
        let _ = cancelled.await;
        tokio::time::timeout(
            Duration::from_secs(5),
            sleep_until(start + Duration::from_micros(400)),
        )
        .await
        .expect("the wait after a cancelled one never ended");
    }
}

#[cfg(test)]
mod precision {
    use super::*;

    /// Prints how late waits end, for tuning:
    /// `cargo test --release -p sessionbench --lib timer::precision -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn lateness() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut lates = Vec::new();
            for i in 0..3000u64 {
                let wait = Duration::from_micros(500 + (i * 7919) % 3000);
                let deadline = tokio::time::Instant::now() + wait;
                sleep_until(deadline).await;
                lates.push((tokio::time::Instant::now() - deadline).as_micros());
            }
            lates.sort_unstable();
            let q = |p: f64| lates[((lates.len() as f64 * p) as usize).min(lates.len() - 1)];
            println!(
                "lateness us: p50 {} p90 {} p99 {} max {}",
                q(0.5),
                q(0.9),
                q(0.99),
                q(1.0)
            );
        });
    }
}
