//! What a target's tallies and findings give per phase (before, during and after the faults),
//! per fault window (the losses after it, beyond the rate lost before any, and its recovery)
//! and per second of the timeline.

use sessionbench_model::results::{FaultWindow, Phase, Second};

use super::recovery::{self, Windows};
use super::segments::Segments;
use super::units::us_to_ms;
use crate::checkers::{Kind, Mark};

/// Counts each lost session and lost update against the last fault that started before the
/// answer that showed the loss (an operation sent just before a fault can see its effect).
pub(super) fn attribute_losses(
    faults: &mut [FaultWindow],
    spans: &[(u64, Option<u64>)],
    marks: &[Mark],
) {
    for f in marks {
        let latest = (0..spans.len())
            .filter(|&i| spans[i].0 <= f.answered_us)
            .max_by_key(|&i| spans[i].0);
        let Some(i) = latest else { continue };
        if f.kind.is_loss() {
            faults[i].sessions_lost_after += 1;
        } else if f.kind == Kind::LostUpdate {
            faults[i].updates_lost_after += f.count;
        }
    }
}

/// Sessions lost per second between the warm-up and the first fault, where any were: the
/// rate a fault's losses are measured against.
pub(super) fn loss_rate_before(
    marks: &[Mark],
    warm_up: u64,
    first_fault: Option<u64>,
) -> Option<f64> {
    let first = first_fault?;
    let span = first.checked_sub(warm_up).filter(|&s| s > 0)?;
    let lost = marks
        .iter()
        .filter(|m| m.kind.is_loss() && (warm_up..first).contains(&m.answered_us))
        .count();
    (lost > 0).then(|| lost as f64 * 1e6 / span as f64)
}

/// Splits `[warm_up, end)` around the fault windows: `before`, `during` (first fault start to
/// last fault end), `after`; or one `steady` phase when there was no fault.
pub(super) fn phase_spans(
    spans: &[(u64, Option<u64>)],
    warm_up: u64,
    end: u64,
) -> Vec<(&'static str, u64, u64)> {
    let first = spans.iter().map(|(start, _)| *start).min();
    let last = spans.iter().map(|(_, stop)| stop.unwrap_or(end)).max();
    match (first, last) {
        (Some(first), Some(last)) => [
            ("before", warm_up, first.max(warm_up)),
            ("during", first.max(warm_up), last.min(end)),
            ("after", last.min(end), end),
        ]
        .into_iter()
        .filter(|(_, from, to)| to > from)
        .collect(),
        _ => vec![("steady", warm_up, end)],
    }
}

/// Each fault window's recovery, and the losses after it beyond what the strategy lost
/// anyway before any fault (round robin loses all the time): the next fault, or the end,
/// closes its span.
pub(super) fn recover(
    faults: &mut [FaultWindow],
    spans: &[(u64, Option<u64>)],
    windows: &Windows,
    marks: &[Mark],
    before: Option<f64>,
    end: u64,
) {
    for (i, window) in faults.iter_mut().enumerate() {
        let from = spans[i].0;
        let until = spans
            .iter()
            .map(|(start, _)| *start)
            .filter(|&s| s > from)
            .min()
            .unwrap_or(end);
        let sums = windows.get(&from).cloned().unwrap_or_default();
        window.recovery = Some(recovery::report(&sums, from, until, marks));
        window.lost_per_s_before = before;
        window.sessions_lost_beyond = before.map(|rate| {
            let expected = rate * until.saturating_sub(from) as f64 / 1e6;
            window
                .sessions_lost_after
                .saturating_sub(expected.round() as u64)
        });
    }
}

/// Throughput, latency and findings per phase.
pub(super) fn phase_table(
    spans: &[(u64, Option<u64>)],
    warm_up: u64,
    end: u64,
    segments: &Segments,
    marks: &[Mark],
) -> Vec<Phase> {
    phase_spans(spans, warm_up, end)
        .into_iter()
        .map(|(name, from, to)| {
            let tally = segments.sum(from, to);
            let in_phase = |want: fn(Kind) -> bool| {
                marks
                    .iter()
                    .filter(|f| want(f.kind) && (from..to).contains(&f.at_us))
                    .count() as u64
            };
            Phase {
                name: name.into(),
                start_ms: us_to_ms(from),
                end_ms: us_to_ms(to),
                ops: tally.ops,
                throughput_ops_per_s: tally.throughput(to.saturating_sub(from)),
                latency_ms: tally.latency(),
                sessions_lost: in_phase(Kind::is_loss),
                stale_reads: in_phase(|k| k == Kind::StaleRead),
                lost_updates: marks
                    .iter()
                    .filter(|f| f.kind == Kind::LostUpdate && (from..to).contains(&f.at_us))
                    .map(|f| f.count)
                    .sum(),
            }
        })
        .collect()
}

/// Every finding in its second, for the plot (the list keeps only the first ones).
pub(super) fn mark_seconds(timeline: &mut [Second], marks: &[Mark]) {
    for m in marks {
        let Some(second) = usize::try_from(m.at_us / 1_000_000)
            .ok()
            .and_then(|i| timeline.get_mut(i))
        else {
            continue;
        };
        match m.kind {
            k if k.is_loss() => second.lost += 1,
            Kind::StaleRead => second.stale += 1,
            Kind::LostUpdate => second.lost_updates += m.count,
            _ => second.other_findings += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(answered_s: f64) -> Mark {
        let us = (answered_s * 1e6) as u64;
        Mark {
            kind: Kind::SessionLost,
            at_us: us - 1,
            answered_us: us,
            count: 1,
        }
    }

    #[test]
    fn a_faults_losses_are_measured_against_the_rate_lost_before_any() {
        // Four losses in the 2 s between the warm-up and the first fault: 2 a second.
        let marks = [
            lost(0.5),
            lost(1.5),
            lost(2.0),
            lost(2.5),
            lost(2.9),
            lost(3.5),
        ];
        assert_eq!(
            loss_rate_before(&marks, 1_000_000, Some(3_000_000)),
            Some(2.0)
        );
        // None before the fault (or no fault, or none after the warm-up): no rate.
        assert_eq!(
            loss_rate_before(&marks[5..], 1_000_000, Some(3_000_000)),
            None
        );
        assert_eq!(loss_rate_before(&marks, 1_000_000, None), None);
        assert_eq!(loss_rate_before(&marks, 3_000_000, Some(3_000_000)), None);
    }
}
