//! The lines under a run's tables, in the terminal and in report.md: faults and recovery,
//! traffic, timing, what the processes held, which checks ran, reasons and violations.

use std::fmt::Write;

use crate::units::{fine_ms, ms};
use sessionbench_model::results::{
    CheckCoverage, Driver, Judged, Recovery, Resources, TargetResult,
};

/// How many violations each target lists in full; the rest are counted.
const VIOLATIONS_SHOWN: usize = 10;

/// One line on the driver's own timing and CPU.
pub(crate) fn driver_line(d: &Driver) -> String {
    let mut line = format!(
        "driver: send lag p50 {} / p99 {} / max {} ms",
        ms(d.send_lag_ms.p50),
        ms(d.send_lag_ms.p99),
        ms(d.send_lag_ms.max)
    );
    if let Some(c) = &d.cpu_percent {
        let _ = write!(
            line,
            ", CPU {:.0}% (max {:.0}%) of the {} its threads can keep busy",
            c.mean,
            c.max,
            match d.cores {
                1 => "core".to_string(),
                n => format!("{n} cores"),
            }
        );
    }
    if let Some(us) = d.cpu_us_per_op {
        let _ = write!(line, ", {us:.1} us per operation");
    }
    if let Some(wait) = &d.cpu_wait_percent {
        let _ = write!(
            line,
            "; waited for a core {:.0}% (max {:.0}%) of the time it was ready",
            wait.mean, wait.max
        );
        if let Some(others) = &d.others_cpu_percent {
            let _ = write!(
                line,
                ", other processes kept {:.0}% (max {:.0}%) of the machine busy",
                others.mean, others.max
            );
        }
    }
    let _ = write!(
        line,
        "; {} operations started over {} ms late",
        d.late_ops, d.send_lag_limit_ms
    );
    if d.sessions_turned_away > 0 {
        let _ = write!(
            line,
            "; {} arrivals turned away at max-sessions-in-flight",
            d.sessions_turned_away
        );
    }
    line
}

/// One line on how a target came back from a fault.
pub(crate) fn recovery(r: &Recovery) -> String {
    let ms = |v: f64| format!("{v:.0} ms");
    let mut line = if r.errors == 0 {
        "recovery: no errors".to_string()
    } else if r.sessions_affected == 0 {
        // Each error ended its session (a loss, a failed login): nothing went on to recover.
        format!(
            "recovery: {} errors over {}; each ended its session (a loss or a failed login), \
             so none had to recover",
            r.errors,
            ms(r.error_burst_ms)
        )
    } else {
        format!(
            "recovery: {} errors over {}; {} of {} sessions hit served again{}",
            r.errors,
            ms(r.error_burst_ms),
            r.sessions_recovered,
            r.sessions_affected,
            r.recovered_within_ms.map_or(String::new(), |w| format!(
                ", the last {} after the fault",
                ms(w)
            ))
        )
    };
    if let Some(s) = r.stale_reads_until_ms {
        line.push_str(&format!("; stale reads until {} after it", ms(s)));
    }
    line
}

pub(crate) fn write_details(out: &mut String, t: &TargetResult, bullet: &str) {
    for f in &t.faults {
        let end = f
            .end_ms
            .map_or_else(|| "end".to_string(), |e| format!("{:.1}", e / 1000.0));
        let _ = writeln!(
            out,
            "{bullet}{}: {} {} at {:.1}-{end} s; {}{}",
            t.name,
            f.kind,
            f.node,
            f.start_ms / 1000.0,
            f.lost_line(),
            f.updates_lost()
        );
        if let Some(r) = &f.recovery {
            let _ = writeln!(out, "{bullet}{}: {}", t.name, recovery(r));
        }
    }
    let s = &t.sessions;
    if s.expired + s.expired_early + s.outlived > 0 {
        let _ = writeln!(
            out,
            "{bullet}{}: idle expiry: {} sessions expired after their idle limit (as they should), {} expired early (lost), {} outlived it",
            t.name, s.expired, s.expired_early, s.outlived
        );
    }
    if let Some(r) = &t.replication {
        let _ = writeln!(
            out,
            "{bullet}{}: replication {} bytes in {} messages, {:.0} bytes per acknowledged write ({} writes)",
            t.name, r.bytes_sent, r.messages_sent, r.bytes_per_write, r.writes
        );
    }
    if let Some(s) = &t.store_traffic {
        let _ = writeln!(
            out,
            "{bullet}{}: store traffic {} bytes written, {} bytes read, {:.0} bytes per operation ({} operations)",
            t.name, s.bytes_written, s.bytes_read, s.bytes_per_op, s.ops
        );
    }
    if let (Some(client), Some(node)) = (&t.latency_ms, &t.server_latency_ms) {
        let _ = writeln!(
            out,
            "{bullet}{}: latency p50 / p99: {} / {} ms at the client, {} / {} ms in the nodes' own handling ({} requests): the rest is network and harness",
            t.name,
            ms(client.p50),
            ms(client.p99),
            fine_ms(node.p50),
            fine_ms(node.p99),
            node.requests
        );
        if let Some(l) = &node.lock_waits {
            let _ = writeln!(
                out,
                "{bullet}{}: session lock: {} requests found their session locked and waited {} ms on average ({} ms in all)",
                t.name,
                l.requests,
                fine_ms(l.mean_ms),
                ms(l.total_ms)
            );
        }
    }
    if let Some(d) = &t.driver {
        let _ = writeln!(out, "{bullet}{}: {}", t.name, driver_line(d));
    }
    if let Some(r) = &t.resources {
        let _ = writeln!(out, "{bullet}{}: peak held: {}", t.name, held(r));
    }
    if t.sessions_undecodable > 0 {
        let _ = writeln!(
            out,
            "{bullet}{}: {} sessions undecodable by the node that read them (treated as gone)",
            t.name, t.sessions_undecodable
        );
    }
    coverage_lines(out, t, bullet);
    if !t.unchecked.is_empty() {
        let _ = writeln!(
            out,
            "{bullet}{}: not checked: {} (its answers do not show what they need)",
            t.name,
            t.unchecked.join(", ")
        );
    }
    for reason in &t.reasons {
        let _ = writeln!(out, "{bullet}{}: {}", t.name, reason);
    }
    violation_lines(out, t, bullet);
}

/// Which guarantees held, which checks were judged, and why the others were not.
fn coverage_lines(out: &mut String, t: &TargetResult, bullet: &str) {
    if t.checks.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{bullet}{}: guarantees held: {}",
        t.name,
        crate::guarantees::line(t)
    );
    let judged: Vec<String> = t
        .checks
        .iter()
        .filter(|c| c.judged == Judged::Judged)
        .map(CheckCoverage::label)
        .collect();
    let _ = writeln!(
        out,
        "{bullet}{}: checks judged: {}",
        t.name,
        if judged.is_empty() {
            "none".into()
        } else {
            judged.join(", ")
        }
    );
    for c in t.checks.iter().filter(|c| c.judged != Judged::Judged) {
        let what = if c.judged == Judged::Partly {
            "partly judged"
        } else {
            "not judged"
        };
        let _ = writeln!(
            out,
            "{bullet}{}: {what}: {}: {}",
            t.name,
            c.label(),
            c.reason.as_deref().unwrap_or_default()
        );
    }
}

/// The first violations (with the session's last operations in report.md) and how many more.
fn violation_lines(out: &mut String, t: &TargetResult, bullet: &str) {
    for v in t.violations.iter().take(VIOLATIONS_SHOWN) {
        let _ = writeln!(
            out,
            "{bullet}{}: {} at {:.3}s, {}: {}",
            t.name,
            v.kind,
            v.at_ms / 1000.0,
            v.who(),
            v.detail
        );
        if let Some(cause) = &v.cause {
            let _ = writeln!(out, "{bullet}{}: known loss: {cause}", t.name);
        }
        // In report.md, the session's last operations under it (the terminal stays short).
        if bullet == "- " {
            for line in &v.story {
                let _ = writeln!(out, "    - {line}");
            }
        }
    }
    let more = t.violations.len().saturating_sub(VIOLATIONS_SHOWN) as u64 + t.violations_not_listed;
    if more > 0 {
        let listed = if t.violations_not_listed > 0 {
            format!("results.json lists the first {}", t.violations.len())
        } else {
            "results.json lists all".into()
        };
        let _ = writeln!(
            out,
            "{bullet}{}: … and {more} more violations ({listed})",
            t.name
        );
    }
}

/// `name MB` for each process, the harness first.
pub(crate) fn memory(r: &Resources) -> String {
    let own = r.peak_rss_mb.get_key_value("sessionbench");
    own.into_iter()
        .chain(
            r.peak_rss_mb
                .iter()
                .filter(|(n, _)| n.as_str() != "sessionbench"),
        )
        .map(|(name, mb)| format!("{name} {mb:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The peaks of a whole run, as one line.
fn held(r: &Resources) -> String {
    let mut line = format!("memory MB: {}", memory(r));
    if let Some(mb) = r.harness_peak_mb {
        let _ = write!(line, " (the harness's own peak: {mb:.1})");
    }
    if !r.peak_redis_used_mb.is_empty() {
        let redis: Vec<String> = r
            .peak_redis_used_mb
            .iter()
            .map(|(n, mb)| format!("{n} {mb:.1}"))
            .collect();
        let _ = write!(line, "; Redis used_memory MB: {}", redis.join(", "));
    }
    if let Some(n) = r.peak_sessions_held {
        let _ = write!(line, "; up to {n} sessions held (summed over processes)");
    }
    let _ = write!(line, " ({} samples)", r.samples);
    line
}
