//! `[targets.thresholds]`: performance bounds, apart from the continuity expectations
//! because missing one is a different failure (exit 4, not 3).

use super::{Validator, join};
use crate::suite::locate::Seg;
use crate::suite::raw::ThresholdsRaw;
use sessionbench_model::plan::Thresholds;

impl Validator<'_> {
    pub(super) fn thresholds(&mut self, path: &[Seg], t: Option<ThresholdsRaw>) -> Thresholds {
        let Some(t) = t else {
            return Thresholds::default();
        };
        let p99_latency = t.p99_latency.and_then(|text| {
            let at = join(path, "p99-latency");
            let d = self.duration(&at, Some(text), None)?;
            Some(self.positive(&at, Some(d), "a p99 latency bound"))
        });
        if let Some(r) = t.max_error_rate.filter(|r| !(0.0..=100.0).contains(r)) {
            self.err(
                &join(path, "max-error-rate"),
                format!("{r} is not a percentage from 0 to 100"),
            );
        }
        if let Some(m) = t.min_throughput.filter(|m| !(m.is_finite() && *m > 0.0)) {
            self.err(
                &join(path, "min-throughput"),
                format!("{m} is not a positive number of operations per second"),
            );
        }
        Thresholds {
            p99_latency,
            max_error_rate: t.max_error_rate,
            min_throughput: t.min_throughput,
            max_sessions_lost: t.max_sessions_lost,
        }
    }
}
