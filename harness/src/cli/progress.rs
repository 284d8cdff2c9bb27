//! The live view of a run on a terminal: one status line, redrawn, on stderr. It is one
//! consumer of the driver's records; the history writer is the other.

use std::io::{IsTerminal, Write};

use tokio::time::Instant;

use crate::history::{Outcome, Record};

#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    target: String,
    started: Option<Instant>,
    ops: u64,
    failed: u64,
    unknown: u64,
    lost: u64,
    faults: u64,
}

impl Progress {
    /// Draws only when stderr is a terminal and the user did not ask for quiet.
    pub fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            target: String::new(),
            started: None,
            ops: 0,
            failed: 0,
            unknown: 0,
            lost: 0,
            faults: 0,
        }
    }

    pub fn observe(&mut self, record: &Record) {
        match record {
            Record::TargetStart { target, .. } => {
                self.finish_line();
                *self = Self {
                    enabled: self.enabled,
                    target: target.clone(),
                    started: Some(Instant::now()),
                    ..Self::new(true)
                };
            }
            Record::Op(op) => {
                self.ops += 1;
                match op.outcome {
                    Outcome::Ok => {}
                    Outcome::Fail => self.failed += 1,
                    Outcome::Indeterminate => self.unknown += 1,
                }
                self.lost += u64::from(op.error.as_deref() == Some("no-session"));
            }
            Record::Fault(_) => self.faults += 1,
            Record::TargetEnd { .. } => {
                self.draw();
                self.finish_line();
            }
            Record::Header { .. } => {}
        }
    }

    pub fn draw(&self) {
        if !self.enabled || self.target.is_empty() {
            return;
        }
        let elapsed = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{}: {elapsed:5.1}s  ops {}  failed {}  indeterminate {}  401s {}  fault events {}",
            self.target, self.ops, self.failed, self.unknown, self.lost, self.faults
        );
        let _ = err.flush();
    }

    fn finish_line(&self) {
        if self.enabled && !self.target.is_empty() {
            eprintln!();
        }
    }
}
