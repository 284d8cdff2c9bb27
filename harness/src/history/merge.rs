//! One history of a sharded run's histories: target by target, their records interleaved in
//! time (each shard's own order kept, so a session's records stay in the order they
//! happened), every time moved onto the clock of the shard that ran the faults. Each shard
//! counts its time from the wall-clock instant its load started; the shards agreed on that
//! instant, and how far apart they actually started is measured, corrected, and bounded.

use std::time::Duration;

use super::{Record, Records};

/// Shards whose loads started further apart than this are refused: their clocks disagree,
/// or one of them was late.
pub const MAX_SKEW: Duration = Duration::from_millis(50);

/// One shard's history being merged.
pub struct Input {
    /// As errors name it (its run directory).
    pub name: String,
    pub records: Records,
    /// Its machine's records (the driver's CPU and memory, the nodes' metrics) are kept: the
    /// records of one process, since their counters are per process.
    pub primary: bool,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("primary", &self.primary)
            .finish_non_exhaustive()
    }
}

/// What the merge did, for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Operations per input, in the inputs' order.
    pub ops: Vec<u64>,
    /// The largest start-time correction applied, in µs.
    pub max_skew_us: u64,
}

struct Stream {
    name: String,
    records: Records,
    primary: bool,
    /// The next record of the current target (`None` once its `TargetEnd` was read).
    head: Option<Record>,
    /// µs added to this shard's times.
    shift: i64,
    /// The time of the last record taken, for records that carry none.
    last_us: u64,
    ops: u64,
}

impl Stream {
    fn next(&mut self) -> Result<Option<Record>, String> {
        self.records
            .next()
            .transpose()
            .map_err(|e| format!("{}: {e}", self.name))
    }
}

/// Merges `inputs` into `out`, the first one's header first.
pub fn merge(
    inputs: Vec<Input>,
    mut out: impl FnMut(Record) -> Result<(), String>,
) -> Result<Merged, String> {
    let mut streams: Vec<Stream> = inputs
        .into_iter()
        .map(|i| Stream {
            name: i.name,
            records: i.records,
            primary: i.primary,
            head: None,
            shift: 0,
            last_us: 0,
            ops: 0,
        })
        .collect();
    let mut merged = Merged::default();
    let mut header = None;
    for s in &mut streams {
        match s.next()? {
            Some(h @ Record::Header { .. }) => {
                header.get_or_insert(h);
            }
            _ => return Err(format!("{}: the history has no header", s.name)),
        }
    }
    out(header.expect("at least one input"))?;
    loop {
        // Every shard's next target, or the end of every history.
        let mut starts = Vec::new();
        for s in &mut streams {
            starts.push(s.next()?);
        }
        if starts.iter().all(Option::is_none) {
            break;
        }
        let (target, unix) = target_starts(&streams, &starts)?;
        let reference = streams.iter().position(|s| s.primary).unwrap_or(0);
        let reference_name = streams[reference].name.clone();
        for (s, at) in streams.iter_mut().zip(&unix) {
            s.shift = i64::try_from(*at).unwrap_or(i64::MAX)
                - i64::try_from(unix[reference]).unwrap_or(i64::MAX);
            merged.max_skew_us = merged.max_skew_us.max(s.shift.unsigned_abs());
            if s.shift.unsigned_abs() > MAX_SKEW.as_micros() as u64 {
                return Err(format!(
                    "{} started `{target}` {} ms from {}: more than {} ms apart (one of them started late)",
                    s.name,
                    s.shift as f64 / 1000.0,
                    reference_name,
                    MAX_SKEW.as_millis()
                ));
            }
        }
        out(starts.swap_remove(reference).expect("checked"))?;
        interleave(&mut streams, &target, &mut out)?;
    }
    merged.ops = streams.iter().map(|s| s.ops).collect();
    Ok(merged)
}

/// The target every shard starts next, and when each started it (µs since the epoch).
fn target_starts(
    streams: &[Stream],
    starts: &[Option<Record>],
) -> Result<(String, Vec<u64>), String> {
    let mut target = None;
    let mut unix = Vec::new();
    for (s, start) in streams.iter().zip(starts) {
        let Some(Record::TargetStart {
            target: t,
            started_unix_us,
            ..
        }) = start
        else {
            return Err(format!(
                "{}: its history ends, or goes on with something other than a target's start, where the other shards start {}",
                s.name,
                target
                    .as_deref()
                    .map_or("a target".to_string(), |t| format!("`{t}`"))
            ));
        };
        match &target {
            None => target = Some(t.clone()),
            Some(first) if first != t => {
                return Err(format!(
                    "{}: starts `{t}` where another shard starts `{first}`",
                    s.name
                ));
            }
            Some(_) => {}
        }
        unix.push(started_unix_us.ok_or_else(|| {
            format!(
                "{}: its history does not say when `{t}` started on the wall clock (not a shard's run)",
                s.name
            )
        })?);
    }
    Ok((target.expect("some shard"), unix))
}

/// The records of one target, from every shard, in time order, up to every shard's end of
/// it; then one end for all (the latest; interrupted if any was).
fn interleave(
    streams: &mut [Stream],
    target: &str,
    out: &mut impl FnMut(Record) -> Result<(), String>,
) -> Result<(), String> {
    let mut end_us = 0;
    let mut interrupted = false;
    let mut open = streams.len();
    for s in streams.iter_mut() {
        s.head = s.next()?;
    }
    while open > 0 {
        // The shard whose next record is earliest (ties: the first).
        let Some(i) = (0..streams.len())
            .filter(|&i| streams[i].head.is_some())
            .min_by_key(|&i| time_of(streams[i].head.as_ref().expect("filtered"), &streams[i]))
        else {
            break;
        };
        let s = &mut streams[i];
        let mut record = s.head.take().expect("filtered");
        s.last_us = time_of(&record, s);
        shift(&mut record, s.shift);
        match record {
            Record::TargetEnd {
                at_us,
                interrupted: cut,
                ..
            } => {
                end_us = end_us.max(at_us);
                interrupted |= cut;
                open -= 1;
                continue;
            }
            Record::DriverSample { .. } | Record::Resources { .. } | Record::NodeMetrics { .. }
                if !s.primary => {}
            Record::Op(_) => {
                s.ops += 1;
                out(record)?;
            }
            other => out(other)?,
        }
        s.head = s.next()?;
        if s.head.is_none() {
            return Err(format!("{}: its history ends inside `{target}`", s.name));
        }
    }
    out(Record::TargetEnd {
        target: target.into(),
        at_us: end_us,
        interrupted,
    })
}

/// When a record happened on its shard's clock (an operation: when it ended, as the records
/// were written); one without a time keeps its place after the one before it.
fn time_of(record: &Record, s: &Stream) -> u64 {
    let local = match record {
        Record::Op(op) => op.end_us,
        Record::Fault(f) => f.at_us,
        Record::DriverSample { at_us, .. }
        | Record::Resources { at_us, .. }
        | Record::SessionEnd { at_us, .. }
        | Record::SessionCookie { at_us, .. }
        | Record::TargetEnd { at_us, .. } => *at_us,
        Record::Header { .. } | Record::TargetStart { .. } | Record::NodeMetrics { .. } => {
            return s.last_us;
        }
    };
    moved(local, s.shift)
}

fn moved(us: u64, by: i64) -> u64 {
    us.saturating_add_signed(by)
}

/// Moves every time of `record` by `by` µs.
fn shift(record: &mut Record, by: i64) {
    match record {
        Record::Op(op) => {
            // An operation intended before the primary's time 0 moves only to 0, all of it:
            // its times clamped one by one would shorten its latency.
            let floor = i64::try_from(op.intended_us).unwrap_or(i64::MAX);
            let by = by.max(-floor);
            op.intended_us = moved(op.intended_us, by);
            op.start_us = moved(op.start_us, by);
            op.end_us = moved(op.end_us, by);
        }
        Record::Fault(f) => f.at_us = moved(f.at_us, by),
        Record::DriverSample { at_us, .. }
        | Record::Resources { at_us, .. }
        | Record::SessionEnd { at_us, .. }
        | Record::SessionCookie { at_us, .. }
        | Record::TargetEnd { at_us, .. } => *at_us = moved(*at_us, by),
        Record::Header { .. } | Record::TargetStart { .. } | Record::NodeMetrics { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{Record, shift};

    /// A shard that started before the primary: its first operation moves to time 0 whole,
    /// its latency kept (each time clamped at 0 alone made it 300 µs shorter).
    #[test]
    fn an_operation_moved_before_time_zero_keeps_its_latency() {
        let mut r = Record::Op(crate::history::test_read(
            "v1",
            (100, 150, 1_100),
            crate::history::Outcome::Ok,
        ));
        shift(&mut r, -300);
        let Record::Op(op) = r else { panic!("an op") };
        assert_eq!((op.intended_us, op.start_us, op.end_us), (0, 50, 1_000));
    }
}
