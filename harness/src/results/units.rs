//! Times as the history keeps them (microseconds) and as results show them (milliseconds).

use std::time::Duration;

pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub(super) fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}
