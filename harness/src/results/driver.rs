//! Whether the driver kept up: its send lag, from the history's own timestamps, and its CPU
//! share, from the samples it took of itself. A run whose driver fell behind measured the
//! harness, and says so.

use hdrhistogram::Histogram;
use sessionbench_reports::{CpuPercent, Driver, Second, SendLag};

use super::segments::histogram;
use crate::history::{Op, Record};
use crate::plan::DriverLimits;

/// One `driver-sample` record.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at_us: u64,
    pub cpu_us: u64,
    pub cores: u32,
    pub turned_away: u64,
}

impl Sample {
    pub fn of(record: &Record) -> Option<Self> {
        match record {
            Record::DriverSample {
                at_us,
                cpu_us,
                cores,
                turned_away,
                ..
            } => Some(Self {
                at_us: *at_us,
                cpu_us: *cpu_us,
                cores: *cores,
                turned_away: *turned_away,
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
    /// Every operation, for the CPU per operation.
    ops: u64,
}

impl Lags {
    pub fn new(warm_up_us: u64, limits: DriverLimits) -> Self {
        Self {
            warm_up_us,
            limit_us: limits.send_lag_us,
            run: histogram(),
            late_ops: 0,
            ops: 0,
        }
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
            self.late_ops += u64::from(lag > self.limit_us);
        }
        lag
    }
}

/// The driver's summary from the lags of its operations and the samples it took of itself;
/// `None` for a history without samples (written before they existed). Marks the seconds of
/// `timeline` (whose send lags are set) with their CPU share and whether either passed its
/// limit.
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
    // The share of the cores used between consecutive samples, given to the second the
    // interval began in.
    let mut measured_cpu = Vec::new();
    for pair in samples.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let span = b.at_us.saturating_sub(a.at_us);
        if span < 500_000 {
            continue; // The short stretch from the last whole second to the end.
        }
        let percent =
            b.cpu_us.saturating_sub(a.cpu_us) as f64 * 100.0 / (span as f64 * f64::from(cores));
        if let Some(second) = usize::try_from(a.at_us / 1_000_000)
            .ok()
            .and_then(|i| timeline.get_mut(i))
        {
            second.driver_cpu_percent = Some(round1(percent));
        }
        if a.at_us >= warm_up_us {
            measured_cpu.push(percent);
        }
    }
    for second in timeline.iter_mut() {
        second.driver_saturated = second.send_lag_p99_ms.is_some_and(over_lag)
            || second.driver_cpu_percent.is_some_and(over_cpu);
    }
    let cpu_percent = (!measured_cpu.is_empty()).then(|| CpuPercent {
        mean: round1(measured_cpu.iter().sum::<f64>() / measured_cpu.len() as f64),
        max: round1(measured_cpu.iter().copied().fold(0.0, f64::max)),
    });
    let send_lag_ms = SendLag {
        p50: lag_ms(run, 0.5),
        p99: lag_ms(run, 0.99),
        max: run.max() as f64 / 1000.0,
    };
    let mut reasons = Vec::new();
    let limit_ms = limits.send_lag_us as f64 / 1000.0;
    if !run.is_empty() && over_lag(send_lag_ms.p99) {
        reasons.push(format!(
            "operations started late: send lag p99 {:.2} ms, over the {limit_ms} ms limit",
            send_lag_ms.p99
        ));
    }
    if let Some(cpu) = cpu_percent.filter(|c| over_cpu(c.mean)) {
        reasons.push(format!(
            "the harness used {:.0}% of its {cores} cores on average, over the {}% limit",
            cpu.mean, limits.cpu_percent
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
        saturated: !reasons.is_empty(),
        reasons,
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
        Op::test_read(session, times, crate::history::Outcome::Ok)
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
        }];
        for (i, ms) in cpu_ms_per_second.iter().enumerate() {
            cpu += ms * 1000;
            out.push(Sample {
                at_us: (i as u64 + 1) * 1_000_000,
                cpu_us: cpu,
                cores,
                turned_away: 3,
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
}
