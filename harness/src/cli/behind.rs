//! How old an operation's record is when the checks take it: its end on its target's clock,
//! against the wall clock (the record is sent as the operation ends). What `checks-behind` in
//! results.json reports, and what stops a run whose checks cannot keep up before the records
//! waiting for them fill the memory. Other records are not timed: a target's end, for one, is
//! sent after the nodes' last counters are read, which a paused node makes wait seconds.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::history::Record;

/// Records that may wait for the checks before the run stops (a few hundred bytes each: some
/// hundreds of MB in all).
pub(super) const QUEUED_LIMIT: usize = 1_000_000;

/// Operations between two stamps: the clock is read for one in so many.
const EVERY: u64 = 16;

#[derive(Debug, Default)]
pub(super) struct Ages {
    /// By target: its time 0, in µs since the Unix epoch.
    starts: HashMap<String, u64>,
    ops: u64,
}

impl Ages {
    /// How long ago `record`'s operation ended, in µs, for the operations timed.
    pub fn age_us(&mut self, record: &Record) -> Option<u64> {
        let (target, at_us) = match record {
            Record::TargetStart {
                target,
                started_unix_us: Some(t0),
                ..
            } => {
                self.starts.insert(target.clone(), *t0);
                return None;
            }
            Record::Op(op) => {
                self.ops += 1;
                if self.ops % EVERY != 0 {
                    return None;
                }
                (&op.target, op.end_us)
            }
            _ => return None,
        };
        let t0 = *self.starts.get(target)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        let now = u64::try_from(now.as_micros()).ok()?;
        Some(now.saturating_sub(t0.saturating_add(at_us)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn an_operation_is_as_old_as_the_wall_clock_says_since_it_ended() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        let now = u64::try_from(now.as_micros()).expect("µs");
        let mut ages = Ages::default();
        // Time 0 three seconds ago; operations that ended one second in: two seconds old.
        let start = Record::TargetStart {
            target: "t".into(),
            nodes: Default::default(),
            lb: None,
            started_unix_us: Some(now - 3_000_000),
        };
        assert_eq!(ages.age_us(&start), None);
        let op = Record::Op(crate::history::test_read(
            "s",
            (0, 0, 1_000_000),
            Outcome::Ok,
        ));
        // One operation in EVERY is timed.
        let timed: Vec<u64> = (0..EVERY).filter_map(|_| ages.age_us(&op)).collect();
        assert_eq!(timed.len(), 1);
        assert!((2_000_000..2_500_000).contains(&timed[0]), "{timed:?}");
        // Another target's clock is not this one's; a target's end is not timed.
        let mut other = crate::history::test_read("s", (0, 0, 1_000_000), Outcome::Ok);
        other.target = "u".into();
        assert!((0..EVERY).all(|_| ages.age_us(&Record::Op(other.clone())).is_none()));
        let end = Record::TargetEnd {
            target: "t".into(),
            at_us: 1_000_000,
            interrupted: false,
        };
        assert_eq!(ages.age_us(&end), None);
    }
}
