//! The live view of a run on stderr: on a terminal one status line, redrawn; in a log (CI) the
//! same line every few seconds. It is one consumer of the driver's records; the history writer
//! is the other.

use std::io::{IsTerminal, Write};

use std::time::Duration;

use tokio::time::Instant;

/// How often a log (not a terminal) gets a progress line.
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Terminal,
    Log,
}

use crate::history::{Outcome, Record};

#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    last_line: Option<Instant>,
    target: String,
    started: Option<Instant>,
    ops: u64,
    failed: u64,
    unknown: u64,
    lost: u64,
    faults: u64,
    /// The driver's last CPU sample (µs since start, CPU µs) and its share of the cores in
    /// the second before it.
    last_sample: Option<(u64, u64)>,
    driver_cpu: Option<f64>,
}

impl Progress {
    /// Silent with `quiet`; otherwise a redrawn line on a terminal, periodic lines elsewhere.
    pub fn new(quiet: bool) -> Self {
        let mode = match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Mode::Off,
            (false, true) => Mode::Terminal,
            (false, false) => Mode::Log,
        };
        Self {
            mode,
            last_line: None,
            target: String::new(),
            started: None,
            ops: 0,
            failed: 0,
            unknown: 0,
            lost: 0,
            faults: 0,
            last_sample: None,
            driver_cpu: None,
        }
    }

    pub fn observe(&mut self, record: &Record) {
        match record {
            Record::TargetStart { target, .. } => {
                self.finish_line();
                *self = Self {
                    mode: self.mode,
                    target: target.clone(),
                    started: Some(Instant::now()),
                    ..Self::new(true)
                };
            }
            // Probes are checks meant to fail, as in the result tables.
            Record::Op(op) if op.kind.is_check() => {}
            Record::Op(op) => {
                self.ops += 1;
                match op.outcome {
                    Outcome::Ok => {}
                    Outcome::Fail => self.failed += 1,
                    Outcome::Indeterminate => self.unknown += 1,
                }
                self.lost += u64::from(op.no_session());
            }
            Record::Fault(_) => self.faults += 1,
            Record::TargetEnd { .. } => {
                self.last_line = None;
                self.draw();
                self.finish_line();
            }
            Record::DriverSample {
                at_us,
                cpu_us,
                cores,
                ..
            } => {
                // A short last stretch (the end of the load) would read as noise.
                if let Some((at, cpu)) = self.last_sample.filter(|(at, _)| *at_us >= at + 500_000) {
                    let wall = (at_us - at) as f64 * f64::from((*cores).max(1));
                    self.driver_cpu = Some(cpu_us.saturating_sub(cpu) as f64 * 100.0 / wall);
                }
                self.last_sample = Some((*at_us, *cpu_us));
            }
            Record::Header { .. }
            | Record::NodeMetrics { .. }
            | Record::SessionEnd { .. }
            | Record::SessionCookie { .. }
            | Record::Resources { .. } => {}
        }
    }

    /// Called often; on a terminal it redraws, in a log it writes a line every few seconds.
    pub fn draw(&mut self) {
        if self.mode == Mode::Off || self.target.is_empty() {
            return;
        }
        if self.mode == Mode::Log && self.last_line.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        self.last_line = Some(Instant::now());
        let elapsed = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let mut line = format!(
            "{}: {elapsed:5.1}s  ops {}  failed {}  indeterminate {}  401s {}  fault events {}",
            self.target, self.ops, self.failed, self.unknown, self.lost, self.faults
        );
        if let Some(cpu) = self.driver_cpu {
            line.push_str(&format!("  driver cpu {cpu:.0}%"));
        }
        let mut err = std::io::stderr().lock();
        let _ = match self.mode {
            Mode::Terminal => write!(err, "\r\x1b[2K{line}"),
            _ => writeln!(err, "{line}"),
        };
        let _ = err.flush();
    }

    fn finish_line(&self) {
        if self.mode == Mode::Terminal && !self.target.is_empty() {
            eprintln!();
        }
    }
}
