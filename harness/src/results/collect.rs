//! One target's records, gathered from the history: its sessions' operations, its fault
//! windows, how its load ended, what its nodes counted and the driver's samples. Every
//! measure in results/ takes what this gathers.

use std::collections::BTreeMap;

use sessionbench_reports::FaultWindow;

use super::traffic::NodeCounters;
use super::{driver, us_to_ms};
use crate::history::{FaultPhase, Op, Record};
use crate::plan::Run;

#[derive(Debug, Default)]
pub(super) struct Collected<'a> {
    /// Each session's operations, in history order.
    pub sessions: BTreeMap<&'a str, Vec<&'a Op>>,
    /// By fault index: the window as reported, and its span in µs for the phases.
    pub faults: BTreeMap<usize, (FaultWindow, u64, Option<u64>)>,
    /// When the target's load ended, if the history says.
    pub end_us: Option<u64>,
    /// The load was cut short (Ctrl-C), or the history ends without the target's end.
    pub interrupted: bool,
    pub started: bool,
    pub counters: NodeCounters,
    pub samples: Vec<driver::Sample>,
}

/// What the history holds of `run`.
pub(super) fn collect<'a>(run: &Run<'_>, history: &'a [Record]) -> Collected<'a> {
    let name = run.name.as_str();
    let mut c = Collected::default();
    for record in history {
        match record {
            Record::DriverSample { target, .. } if target == name => {
                c.samples.extend(driver::Sample::of(record));
            }
            Record::TargetStart { target, .. } if target == name => c.started = true,
            Record::Op(op) if op.target == name => {
                c.sessions.entry(&op.session).or_default().push(op)
            }
            Record::Fault(f) if f.target == name => match f.phase {
                FaultPhase::Start => {
                    let window = FaultWindow {
                        kind: f.kind.clone(),
                        node: f.node.clone(),
                        start_ms: us_to_ms(f.at_us),
                        end_ms: None,
                        detail: f.detail.clone(),
                        sessions_lost_after: 0,
                        recovery: None,
                        failed: f.failed,
                        may_fail: run.faults.get(f.fault).is_some_and(|p| p.may_fail),
                    };
                    c.faults.insert(f.fault, (window, f.at_us, None));
                }
                FaultPhase::End => {
                    if let Some((w, _, end)) = c.faults.get_mut(&f.fault) {
                        w.end_ms = Some(us_to_ms(f.at_us));
                        w.detail = f.detail.clone().or(w.detail.take());
                        w.failed |= f.failed;
                        *end = Some(f.at_us);
                    }
                }
            },
            Record::NodeMetrics {
                target, metrics, ..
            } if target == name => c.counters.add(metrics),
            Record::TargetEnd {
                target,
                at_us,
                interrupted: cut,
            } if target == name => {
                c.end_us = Some(*at_us);
                c.interrupted |= *cut;
            }
            _ => {}
        }
    }
    // A history without the target's end was cut by a crash: what it holds is still checked.
    c.interrupted |= c.started && c.end_us.is_none();
    c
}
