//! A share of a run's load, for load from many machines: `run --shard I/N` drives the users
//! (or the arrivals) that fall to shard I, every shard starting each target at the same
//! wall-clock instant, and `merge` makes one run of the shards' directories. One process
//! (shard 0, or a `--faults-only` one) runs the fault schedule and the targets' commands.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Plan, Run};

/// Between one target's stop command and the next target's window.
const GAP: Duration = Duration::from_secs(1);

/// What this process of a sharded run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Shard {
    /// This shard's index, 0 to `count - 1` (0 for a faults-only process, which has no share).
    pub index: u32,
    /// How many shards load; 0 for a faults-only process (it learns nothing of the others).
    pub count: u32,
    /// It drives its share of the load.
    pub load: bool,
    /// It runs the fault schedule and the targets' start and stop commands.
    pub faults: bool,
    /// The agreed instant every shard's first window opens, in ms since the Unix epoch.
    pub start_at_unix_ms: u64,
}

impl Shard {
    /// Whether virtual user `vu` (or arrival number `vu`) is this shard's.
    pub fn owns(&self, vu: u64) -> bool {
        self.load && vu % u64::from(self.count.max(1)) == u64::from(self.index)
    }

    /// The agreed start.
    pub fn start_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.start_at_unix_ms)
    }
}

/// When run number `k` of `plan` opens its window and when its load starts, the same on
/// every shard: the commands' process starts the target when the window opens, and every
/// shard starts loading one `timeout` (the target's budget for its start command and its
/// readiness) later. The next window opens after the load, one more `timeout` for the stop
/// command, and a second.
pub fn window(plan: &Plan, shard: &Shard, k: usize) -> (SystemTime, SystemTime) {
    let mut open = shard.start_at();
    for (i, run) in plan.runs().iter().enumerate() {
        let budget = start_budget(run);
        if i == k {
            return (open, open + budget);
        }
        open += budget + plan.duration + budget + GAP;
    }
    (open, open)
}

/// How long a target may take to be ready: an external target's `timeout`.
fn start_budget(run: &Run<'_>) -> Duration {
    run.target
        .external
        .as_ref()
        .map_or(Duration::ZERO, |e| e.timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_take_every_nth_user_and_nothing_twice() {
        let shards: Vec<Shard> = (0..3)
            .map(|index| Shard {
                index,
                count: 3,
                load: true,
                faults: index == 0,
                start_at_unix_ms: 0,
            })
            .collect();
        for vu in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.owns(vu)).count(), 1, "{vu}");
        }
        let faults_only = Shard {
            index: 0,
            count: 0,
            load: false,
            faults: true,
            start_at_unix_ms: 0,
        };
        assert!((0..10).all(|vu| !faults_only.owns(vu)));
    }
}
