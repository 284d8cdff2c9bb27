//! `[suite]`: the run's name, how long the load lasts, and the limits the driver holds itself
//! to.

use std::time::Duration;

use super::{MAX_DURATION, Validator, is_dir_name, join, key, show};
use crate::suite::raw::SuiteSection;
use sessionbench_model::plan::DriverLimits;

/// What `[suite]` says of the whole run.
pub(super) struct Section {
    pub name: String,
    pub duration: Duration,
    pub warm_up: Duration,
    pub driver_limits: DriverLimits,
}

impl Validator<'_> {
    /// `s`, with `ds` (the default suite's) for what it leaves out.
    pub(super) fn section(&mut self, s: &SuiteSection, ds: &SuiteSection) -> Section {
        let base = [key("suite")];
        let name = s.name.clone().or(ds.name.clone()).unwrap_or_default();
        if name.trim().is_empty() {
            self.err(&join(&base, "name"), "a suite needs a name");
        } else if !is_dir_name(&name) {
            // It names the run's directory: a separator or `..` would put it elsewhere.
            self.err(
                &join(&base, "name"),
                format!(
                    "`{name}` cannot name a run directory: 1 to 64 of A-Z a-z 0-9 `-` `_` `.`, not starting with `.`"
                ),
            );
        }
        let duration = self.duration(
            &join(&base, "duration"),
            s.duration.clone(),
            ds.duration.clone(),
        );
        let duration = self.positive(&join(&base, "duration"), duration, "the duration");
        if duration > MAX_DURATION {
            self.err(
                &join(&base, "duration"),
                format!(
                    "{}: a run lasts at most {} per target (a soak longer than that is several runs, compared)",
                    humantime::format_duration(duration),
                    humantime::format_duration(MAX_DURATION)
                ),
            );
        }
        let warm_up = self
            .duration(
                &join(&base, "warm-up"),
                s.warm_up.clone(),
                ds.warm_up.clone(),
            )
            .unwrap_or_default();
        if !duration.is_zero() && warm_up >= duration {
            self.err(
                &join(&base, "warm-up"),
                format!(
                    "the warm-up ({}) must be shorter than the duration ({})",
                    show(warm_up),
                    show(duration)
                ),
            );
        }
        let send_lag = self.duration(
            &join(&base, "send-lag-limit"),
            s.send_lag_limit.clone(),
            ds.send_lag_limit.clone(),
        );
        let send_lag = self.positive(
            &join(&base, "send-lag-limit"),
            send_lag,
            "the send-lag limit",
        );
        let cpu_percent = s.driver_cpu_limit.or(ds.driver_cpu_limit).unwrap_or(90.0);
        if !(cpu_percent > 0.0 && cpu_percent <= 100.0) {
            self.err(
                &join(&base, "driver-cpu-limit"),
                format!("{cpu_percent} is not a percentage above 0, up to 100"),
            );
        }
        let driver_limits = DriverLimits {
            send_lag_us: u64::try_from(send_lag.as_micros()).unwrap_or(u64::MAX),
            cpu_percent,
        };
        Section {
            name,
            duration,
            warm_up,
            driver_limits,
        }
    }
}
