//! Whether the driver kept up: its send lag, from the history's own timestamps, and its CPU
//! share, from the samples it took of itself. A run whose operations started late measured
//! the harness, and says so, naming the cause: the driver itself (its CPU, or nothing outside
//! it to blame), or a busy machine (its threads were ready to run and waited for a core).

use hdrhistogram::Histogram;
use sessionbench_model::results::{ChecksBehind, CpuPercent, Driver, Second, SendLag};

use super::segments::histogram;
use crate::history::{Contention, Op, Record};
use sessionbench_model::plan::DriverLimits;

/// One `driver-sample` record.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at_us: u64,
    pub cpu_us: u64,
    pub cores: u32,
    pub turned_away: u64,
    pub contention: Option<Contention>,
}

impl Sample {
    pub fn of(record: &Record) -> Option<Self> {
        match record {
            Record::DriverSample {
                at_us,
                cpu_us,
                cores,
                turned_away,
                contention,
                ..
            } => Some(Self {
                at_us: *at_us,
                cpu_us: *cpu_us,
                cores: *cores,
                turned_away: *turned_away,
                contention: *contention,
            }),
            _ => None,
        }
    }
}

/// The send lags of a target's operations, as they arrive.
#[derive(Debug)]
pub(super) struct Lags {
    warm_up_us: u64,
    limit_us: u64,
    /// Of operations started after the warm-up.
    run: Histogram<u64>,
    late_ops: u64,
    /// Late operations by the second they started in, to weigh each second's cause.
    late_by_second: Vec<u64>,
    /// Every operation, for the CPU per operation.
    ops: u64,
    /// How old records were when the checks took them: the oldest, the last, in µs, and the
    /// most queued behind one (a live run's).
    behind: Option<(u64, u64, u64)>,
}

/// How far behind the load the checks may fall before the run counts as the harness's (the
/// age of a record when they take it, before the half second they hold operations back to
/// order them): past it they are not keeping up.
pub const CHECKS_BEHIND_LIMIT_MS: f64 = 2_000.0;

impl Lags {
    pub fn new(warm_up_us: u64, limits: DriverLimits) -> Self {
        Self {
            warm_up_us,
            limit_us: limits.send_lag_us,
            run: histogram(),
            late_ops: 0,
            late_by_second: Vec::new(),
            ops: 0,
            behind: None,
        }
    }

    /// A record the checks took `age_us` after the moment it records, with `queued` more
    /// waiting behind it.
    pub fn behind(&mut self, age_us: u64, queued: u64) {
        let (max, last, most) = self.behind.get_or_insert((0, 0, 0));
        *max = (*max).max(age_us);
        *last = age_us;
        *most = (*most).max(queued);
    }

    /// How late an operation started after it was due: its intended start, or the end of
    /// the session's previous operation (`previous_end`) if that came later (a slow answer
    /// delays what follows it, and that is the target's time, not the driver's).
    pub fn add(&mut self, op: &Op, previous_end: u64) -> u64 {
        let due = op.intended_us.max(previous_end);
        let lag = op.start_us.saturating_sub(due);
        self.ops += 1;
        if op.start_us >= self.warm_up_us {
            self.run.saturating_record(lag);
            if lag > self.limit_us {
                self.late_ops += 1;
                let second = usize::try_from(op.start_us / 1_000_000).unwrap_or(usize::MAX);
                if second < 1 << 24 {
                    if self.late_by_second.len() <= second {
                        self.late_by_second.resize(second + 1, 0);
                    }
                    self.late_by_second[second] += 1;
                }
            }
        }
        lag
    }
}

/// What one interval between samples shows of the machine: the share of the time the
/// harness's threads were ready to run that they waited for a core, and the share of the
/// machine's cores that other processes (the target's among them) kept busy.
fn contention_between(a: &Sample, b: &Sample) -> Option<(f64, f64)> {
    let (ca, cb) = (a.contention?, b.contention?);
    let waited = cb.run_queue_us.saturating_sub(ca.run_queue_us) as f64;
    let ran = cb.on_cpu_us.saturating_sub(ca.on_cpu_us) as f64;
    let wait = waited * 100.0 / (waited + ran).max(1.0);
    let machine = cb.machine_us.saturating_sub(ca.machine_us).max(1) as f64;
    let others = cb
        .machine_busy_us
        .saturating_sub(ca.machine_busy_us)
        .saturating_sub(b.cpu_us.saturating_sub(a.cpu_us));
    Some((wait, others as f64 * 100.0 / machine))
}

/// The driver's summary from the lags of its operations and the samples it took of itself;
/// `None` for a history without samples (written before they existed). Marks the seconds of
/// `timeline` (whose send lags are set) with their CPU share, the machine's contention, and
/// whether the driver fell behind through its own doing or the machine's.
pub fn measure(
    lags: &Lags,
    samples: &[Sample],
    limits: DriverLimits,
    timeline: &mut [Second],
) -> Option<Driver> {
    let first = samples.first()?;
    let warm_up_us = lags.warm_up_us;
    let cores = first.cores.max(1);
    let (run, late_ops, ops) = (&lags.run, lags.late_ops, lags.ops);
    let lag_ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let over_cpu = |percent: f64| percent > limits.cpu_percent;
    let over_lag = |p99_ms: f64| p99_ms * 1000.0 > limits.send_lag_us as f64;
    let (wait_limit, others_limit) = (DriverLimits::CPU_WAIT_PERCENT, DriverLimits::OTHERS_PERCENT);
    let (measured_cpu, measured_others, waits) = spread_cpu(samples, cores, warm_up_us, timeline);
    let (late_busy, late_unread, busy_waits, busy_others) = judge_seconds(timeline, lags, limits);
    let cpu_percent = percent_of(&measured_cpu);
    let send_lag_ms = SendLag {
        p50: lag_ms(run, 0.5),
        p99: lag_ms(run, 0.99),
        max: run.max() as f64 / 1000.0,
    };
    let cpu_wait_percent = percent_of(&waits);
    let others_cpu_percent = percent_of(&measured_others);
    let mut reasons = Vec::new();
    let (mut saturated, mut machine_busy) = (false, false);
    let limit_ms = limits.send_lag_us as f64 / 1000.0;
    if !run.is_empty() && over_lag(send_lag_ms.p99) {
        let late = format!(
            "operations started late: send lag p99 {:.2} ms, over the {limit_ms} ms limit",
            send_lag_ms.p99
        );
        // Most late starts fell in seconds the machine made late.
        if late_busy * 2 >= late_ops.max(1) {
            machine_busy = true;
            reasons.push(format!(
                "{late}, on a busy machine: in the seconds it made late, the harness's threads \
                 spent {:.0}% of the time they were ready to run waiting for a core (at least \
                 {wait_limit}%), while other processes (the target's among them) kept {:.0}% \
                 of the machine's cores busy (at least {others_limit}%)",
                mean(&busy_waits),
                mean(&busy_others)
            ));
        } else {
            saturated = true;
            let unread = if late_unread * 2 >= late_ops.max(1) {
                " (whether the machine was busy could not be read)"
            } else {
                ""
            };
            reasons.push(format!("{late}{unread}"));
        }
    }
    if let Some(cpu) = cpu_percent.filter(|c| over_cpu(c.mean)) {
        saturated = true;
        reasons.push(format!(
            "the harness used {:.0}% of the {} its threads can keep busy on average, over the {}% limit",
            cpu.mean,
            match cores {
                1 => "core".to_string(),
                n => format!("{n} cores"),
            },
            limits.cpu_percent
        ));
    }
    let checks_behind = lags.behind.map(|(max, end, queued)| ChecksBehind {
        max_ms: round1(max as f64 / 1000.0),
        end_ms: round1(end as f64 / 1000.0),
        queued_max: queued,
        limit_ms: CHECKS_BEHIND_LIMIT_MS,
    });
    if let Some(b) = checks_behind.filter(|b| b.max_ms > b.limit_ms) {
        reasons.push(format!(
            "the checks fell {:.1} s behind the load ({} records queued at most), over the {:.0} s limit: they competed with it for the harness's cores",
            b.max_ms / 1000.0,
            b.queued_max,
            b.limit_ms / 1000.0
        ));
    }
    let last = samples.last().copied().unwrap_or(*first);
    let cpu_us = last.cpu_us.saturating_sub(first.cpu_us);
    Some(Driver {
        send_lag_ms,
        cpu_percent,
        cores,
        cpu_us_per_op: (ops > 0 && samples.len() > 1).then(|| round1(cpu_us as f64 / ops as f64)),
        late_ops,
        sessions_turned_away: last.turned_away,
        send_lag_limit_ms: limit_ms,
        cpu_limit_percent: limits.cpu_percent,
        cpu_wait_percent,
        cpu_wait_limit_percent: wait_limit,
        others_cpu_percent,
        saturated,
        machine_busy,
        checks_behind,
        reasons,
    })
}

/// The share of the cores the driver used between consecutive samples, and the machine's
/// contention, given to each second the interval covers (a sampler woken late spans two).
/// Returns those after the warm-up: the driver's CPU, the others' CPU and the waits.
fn spread_cpu(
    samples: &[Sample],
    cores: u32,
    warm_up_us: u64,
    timeline: &mut [Second],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut measured_cpu, mut measured_others, mut waits) = (Vec::new(), Vec::new(), Vec::new());
    for pair in samples.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let span = b.at_us.saturating_sub(a.at_us);
        if span < 500_000 {
            continue; // The short stretch from the last whole second to the end.
        }
        let percent =
            b.cpu_us.saturating_sub(a.cpu_us) as f64 * 100.0 / (span as f64 * f64::from(cores));
        let contention = contention_between(&a, &b);
        let covered = (a.at_us / 1_000_000)..=((b.at_us - 1) / 1_000_000);
        for i in covered.take(timeline.len()) {
            let Some(second) = usize::try_from(i).ok().and_then(|i| timeline.get_mut(i)) else {
                break;
            };
            if second.driver_cpu_percent.is_some() {
                continue; // The interval that began in it speaks for it.
            }
            second.driver_cpu_percent = Some(round1(percent));
            if let Some((wait, others)) = contention {
                second.cpu_wait_percent = Some(round1(wait));
                second.others_cpu_percent = Some(round1(others));
            }
        }
        if a.at_us >= warm_up_us {
            measured_cpu.push(percent);
            if let Some((wait, others)) = contention {
                waits.push(wait);
                measured_others.push(others);
            }
        }
    }
    (measured_cpu, measured_others, waits)
}

/// A late second is the machine's when the driver had CPU to spare, its threads waited for a
/// core, and other processes held most of the machine; otherwise the driver's. Marks each
/// second; returns the late starts in busy seconds and in seconds whose contention could not
/// be read, and the busy seconds' waits and others' CPU.
fn judge_seconds(
    timeline: &mut [Second],
    lags: &Lags,
    limits: DriverLimits,
) -> (u64, u64, Vec<f64>, Vec<f64>) {
    let over_cpu = |percent: f64| percent > limits.cpu_percent;
    let over_lag = |p99_ms: f64| p99_ms * 1000.0 > limits.send_lag_us as f64;
    let (wait_limit, others_limit) = (DriverLimits::CPU_WAIT_PERCENT, DriverLimits::OTHERS_PERCENT);
    let (mut late_busy, mut late_unread) = (0, 0);
    let (mut busy_waits, mut busy_others) = (Vec::new(), Vec::new());
    for second in timeline.iter_mut() {
        let late = second.send_lag_p99_ms.is_some_and(over_lag);
        let cpu = second.driver_cpu_percent.is_some_and(over_cpu);
        let contended = match (second.cpu_wait_percent, second.others_cpu_percent) {
            (Some(wait), Some(others)) => wait >= wait_limit && others >= others_limit,
            _ => false,
        };
        let busy = !cpu && contended;
        second.machine_busy = late && busy;
        second.driver_saturated = (late || cpu) && !busy;
        let late_here = lags.late_by_second.get(second.t as usize).copied();
        if second.machine_busy {
            late_busy += late_here.unwrap_or(0);
            busy_waits.extend(second.cpu_wait_percent);
            busy_others.extend(second.others_cpu_percent);
        } else if second.cpu_wait_percent.is_none() {
            late_unread += late_here.unwrap_or(0);
        }
    }
    (late_busy, late_unread, busy_waits, busy_others)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn percent_of(v: &[f64]) -> Option<CpuPercent> {
    (!v.is_empty()).then(|| CpuPercent {
        mean: round1(mean(v)),
        max: round1(v.iter().copied().fold(0.0, f64::max)),
    })
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(session: &str, intended_ms: f64, start_ms: f64, end_ms: f64) -> Op {
        let us = |ms: f64| (ms * 1000.0) as u64;
        let times = (us(intended_ms), us(start_ms), us(end_ms));
        crate::history::test_read(session, times, crate::history::Outcome::Ok)
    }

    fn second(t: u32) -> Second {
        Second {
            t,
            ..Second::default()
        }
    }

    fn samples(cpu_ms_per_second: &[u64], cores: u32) -> Vec<Sample> {
        let mut cpu = 0;
        let mut out = vec![Sample {
            at_us: 0,
            cpu_us: 0,
            cores,
            turned_away: 0,
            contention: None,
        }];
        for (i, ms) in cpu_ms_per_second.iter().enumerate() {
            cpu += ms * 1000;
            out.push(Sample {
                at_us: (i as u64 + 1) * 1_000_000,
                cpu_us: cpu,
                cores,
                turned_away: 3,
                contention: None,
            });
        }
        out
    }

    /// Lags and timeline rows of sessions' operations, as the analysis builds them.
    fn lags_of(sessions: &[&[Op]], seconds: usize) -> (Lags, Vec<Second>) {
        let mut lags = Lags::new(0, DriverLimits::default());
        let mut per_second = vec![Vec::new(); seconds];
        for ops in sessions {
            let mut previous_end = 0;
            for op in *ops {
                let lag = lags.add(op, previous_end);
                previous_end = op.end_us;
                if let Some(v) = per_second.get_mut((op.start_us / 1_000_000) as usize) {
                    v.push(lag);
                }
            }
        }
        let timeline = per_second
            .iter()
            .enumerate()
            .map(|(t, v)| Second {
                send_lag_p99_ms: v.iter().max().map(|us| *us as f64 / 1000.0),
                ..second(t as u32)
            })
            .collect();
        (lags, timeline)
    }

    #[test]
    fn a_slow_answer_is_not_the_drivers_lag_but_a_late_start_is() {
        // s1: the second operation was due at 20 ms but the first answered at 50 ms; it
        // started at 50.05 ms: 50 us of driver lag, not 30 ms. s2: due at 1000 ms, started
        // at 1003 ms with the previous long done: 3 ms late.
        let s1 = [op("s1", 0.0, 0.01, 50.0), op("s1", 20.0, 50.05, 51.0)];
        let s2 = [
            op("s2", 990.0, 990.0, 991.0),
            op("s2", 1000.0, 1003.0, 1004.0),
        ];
        let (lags, mut timeline) = lags_of(&[&s1, &s2], 2);
        let d = measure(
            &lags,
            &samples(&[100, 100], 2),
            DriverLimits::default(),
            &mut timeline,
        )
        .expect("samples were given");
        let near = |v: f64, want: f64| (v - want).abs() < 0.01; // 3 significant digits
        assert!(near(d.send_lag_ms.max, 3.0), "{:?}", d.send_lag_ms);
        assert_eq!(d.late_ops, 1, "only the 3 ms start passes the 1 ms limit");
        assert!(d.send_lag_ms.p50 <= 0.06, "{:?}", d.send_lag_ms);
        // Four operations, two lags of <= 0.05 ms, one of 0, one of 3 ms: p99 is the 3 ms.
        assert!(d.saturated, "a p99 over the limit saturates the run");
        assert!(timeline[1].driver_saturated && !timeline[0].driver_saturated);
        assert_eq!(
            timeline[0].driver_cpu_percent,
            Some(5.0),
            "100 ms of 2 cores"
        );
        assert_eq!(d.sessions_turned_away, 3);
        assert_eq!(d.cpu_us_per_op, Some(50_000.0));
    }

    #[test]
    fn cpu_over_the_limit_saturates_and_under_it_does_not() {
        let ops = [op("s", 0.0, 0.0, 1.0)];
        let (lags, mut timeline) = lags_of(&[&ops], 3);
        let busy = measure(
            &lags,
            &samples(&[1900, 1900, 1850], 2),
            DriverLimits::default(),
            &mut timeline,
        )
        .expect("samples were given");
        assert!(busy.saturated);
        assert_eq!(busy.cpu_percent.map(|c| c.max), Some(95.0));
        assert!(busy.reasons[0].contains("2 cores"), "{:?}", busy.reasons);
        assert!(timeline.iter().all(|s| s.driver_saturated));
        let (lags, mut timeline) = lags_of(&[&ops], 3);
        let idle = measure(
            &lags,
            &samples(&[300, 200, 250], 2),
            DriverLimits::default(),
            &mut timeline,
        )
        .expect("samples were given");
        assert!(!idle.saturated, "{:?}", idle.reasons);
        assert_eq!(idle.cpu_percent.map(|c| c.mean), Some(12.5));
        assert!(measure(&lags, &[], DriverLimits::default(), &mut []).is_none());
    }

    /// Samples of a driver using `cpu_ms` a second of 2 cores, whose threads waited
    /// `wait_ms` for a core while other processes used `others_ms`.
    fn contended(per_second: &[(u64, u64, u64)]) -> Vec<Sample> {
        let mut out = samples(&per_second.iter().map(|p| p.0).collect::<Vec<_>>(), 2);
        let mut c = Contention::default();
        out[0].contention = Some(c);
        for (sample, &(cpu_ms, wait_ms, others_ms)) in out[1..].iter_mut().zip(per_second) {
            c.on_cpu_us += cpu_ms * 1000;
            c.run_queue_us += wait_ms * 1000;
            c.machine_us += 2_000_000;
            c.machine_busy_us += (cpu_ms + others_ms) * 1000;
            sample.contention = Some(c);
        }
        out
    }

    /// Two seconds, each with one operation 5 ms late.
    fn late_seconds() -> (Lags, Vec<Second>) {
        let late = [op("s", 10.0, 15.0, 16.0), op("s", 1010.0, 1015.0, 1016.0)];
        lags_of(&[&late], 2)
    }

    #[test]
    fn late_starts_on_a_busy_machine_are_the_machines_and_on_an_idle_one_the_drivers() {
        let (lags, mut timeline) = late_seconds();
        let busy = contended(&[(200, 600, 1700), (200, 800, 1750)]);
        let d = measure(&lags, &busy, DriverLimits::default(), &mut timeline).expect("samples");
        assert!(d.machine_busy && !d.saturated, "{:?}", d.reasons);
        assert_eq!(d.behind(), Some("a busy machine"));
        assert!(d.reasons[0].contains("busy machine"), "{:?}", d.reasons);
        assert_eq!(d.cpu_wait_percent.map(|w| w.max), Some(80.0));
        assert_eq!(d.others_cpu_percent.map(|c| c.max), Some(87.5));
        assert!(
            timeline
                .iter()
                .all(|s| s.machine_busy && !s.driver_saturated)
        );

        // The same lateness with the cores free: nothing outside the driver explains it.
        let (lags, mut timeline) = late_seconds();
        // 8 ms waited of 208 ms ready: 4 %.
        let idle = contended(&[(200, 8, 50), (200, 12, 40)]);
        let d = measure(&lags, &idle, DriverLimits::default(), &mut timeline).expect("samples");
        assert!(d.saturated && !d.machine_busy, "{:?}", d.reasons);
        assert!(
            timeline
                .iter()
                .all(|s| s.driver_saturated && !s.machine_busy)
        );

        // Waits for a core while the driver itself uses the CPU: the driver's.
        let (lags, mut timeline) = late_seconds();
        let own = contended(&[(1900, 900, 100), (1900, 900, 100)]);
        let d = measure(&lags, &own, DriverLimits::default(), &mut timeline).expect("samples");
        assert!(d.saturated && !d.machine_busy, "{:?}", d.reasons);

        // Where the kernel did not say, the lateness is the driver's, and the reason says so.
        let (lags, mut timeline) = late_seconds();
        let d = measure(
            &lags,
            &samples(&[200, 200], 2),
            DriverLimits::default(),
            &mut timeline,
        )
        .expect("samples");
        assert!(d.saturated, "{:?}", d.reasons);
        assert!(
            d.reasons[0].contains("could not be read"),
            "{:?}",
            d.reasons
        );
    }
}
