//! Durations as people write them (`500ms`, `30s`, `30m`): on command lines and in suites.

use std::time::Duration;

/// `30s`, `500ms`, `30m`: humantime durations, as in suite files (a clap value parser).
pub fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 500ms, 30s or 30m: {e}"))
}

/// A duration as [`duration`] reads it back.
pub fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
