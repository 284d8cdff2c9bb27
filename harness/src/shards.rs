//! A run in shards, for load from many machines: the `--shard` and `--start-at` flags, and
//! the one run that `merge` makes of the shards' plans. What a shard owns, and when each
//! target's window opens, is the plan's ([`sessionbench_model::plan::Shard`]).

use std::time::SystemTime;

use sessionbench_model::plan::{Plan, Shard};

/// The run the shards' plans (`(name, plan)`, a name per run directory) make together: the
/// plan of the one that ran the faults, no longer a shard's; and which of them that is. They
/// must be one suite with one seed and one start, every share loaded once and the faults run
/// by exactly one.
pub fn whole(plans: &[(String, Plan)]) -> Result<(Plan, usize), String> {
    let mut shards = Vec::new();
    for (name, plan) in plans {
        let shard = plan.shard.ok_or_else(|| {
            format!("{name}: not a shard's run (it was not run with --shard or --faults-only)")
        })?;
        shards.push(shard);
    }
    let (first_name, first) = &plans[0];
    for ((name, plan), shard) in plans.iter().zip(&shards).skip(1) {
        let differ = |what: &str, theirs: String, ours: String| {
            Err(format!(
                "{name} has {what} {theirs} where {first_name} has {ours}: shards of one run share the suite, its seed and --start-at"
            ))
        };
        if plan.name != first.name {
            return differ("suite", plan.name.clone(), first.name.clone());
        }
        if plan.seed != first.seed {
            return differ("seed", plan.seed.to_string(), first.seed.to_string());
        }
        if plan.duration != first.duration {
            let show = |d| humantime::format_duration(d).to_string();
            return differ("duration", show(plan.duration), show(first.duration));
        }
        let runs = |p: &Plan| p.runs().iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        if runs(plan) != runs(first) {
            return differ("runs", runs(plan).join(", "), runs(first).join(", "));
        }
        if shard.start_at_unix_ms != shards[0].start_at_unix_ms {
            return differ(
                "--start-at",
                shard.start_at_unix_ms.to_string(),
                shards[0].start_at_unix_ms.to_string(),
            );
        }
    }
    let loading: Vec<(usize, &Shard)> = shards.iter().enumerate().filter(|(_, s)| s.load).collect();
    let Some(count) = loading.first().map(|(_, s)| s.count) else {
        return Err("none of them loaded: give the --shard directories".into());
    };
    for (i, s) in &loading {
        if s.count != count {
            return Err(format!(
                "{} is shard {} of {} where {} is of {count}",
                plans[*i].0, s.index, s.count, plans[loading[0].0].0
            ));
        }
    }
    for index in 0..count {
        let with: Vec<&str> = loading
            .iter()
            .filter(|(_, s)| s.index == index)
            .map(|(i, _)| plans[*i].0.as_str())
            .collect();
        match with.len() {
            0 => return Err(format!("shard {index} of {count} is missing")),
            1 => {}
            _ => {
                return Err(format!(
                    "shard {index} of {count} is given twice: {}",
                    with.join(" and ")
                ));
            }
        }
    }
    let faults: Vec<usize> = shards
        .iter()
        .enumerate()
        .filter(|(_, s)| s.faults)
        .map(|(i, _)| i)
        .collect();
    match faults.as_slice() {
        [one] => {
            let mut plan = plans[*one].1.clone();
            plan.shard = None;
            // Written again by this build, in its shape.
            plan.format_version = sessionbench_model::plan::FORMAT_VERSION;
            Ok((plan, *one))
        }
        [] => Err(
            "none of them ran the faults and commands (shard 0 without --load-only, or a --faults-only run): its directory is missing".into(),
        ),
        many => Err(format!(
            "more than one ran the faults: {}",
            many.iter()
                .map(|i| plans[*i].0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Parses `--shard I/N`.
pub fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let err = || format!("`{text}` is not I/N (shard I of N, 0 <= I < N), e.g. 0/3");
    let (i, n) = text.split_once('/').ok_or_else(err)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| err())?,
        n.trim().parse().map_err(|_| err())?,
    );
    if n == 0 || i >= n {
        return Err(err());
    }
    Ok((i, n))
}

/// Parses `--start-at`: an RFC 3339 time (`2026-12-01T10:00:00Z`), or `+DURATION` from now.
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    if let Some(after) = text.strip_prefix('+') {
        let d = sessionbench_common::durations::duration(after)
            .map_err(|e| format!("`{text}`: {e}"))?;
        return Ok(SystemTime::now() + d);
    }
    humantime::parse_rfc3339_weak(text).map_err(|e| {
        format!("`{text}` is neither an RFC 3339 time (2026-12-01T10:00:00Z) nor +DURATION: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionbench_model::plan::{Shard, window};
    use std::time::{Duration, UNIX_EPOCH};

    fn plan(shard: Shard) -> (String, Plan) {
        let mut plan = crate::suite::parse(
            "[suite]\nname = \"s\"\nduration = \"5s\"\n\n[[targets]]\nname = \"t\"\nstrategy = \"external\"\nurl = \"http://127.0.0.1:9\"\n",
            "s.toml",
        )
        .expect("suite");
        plan.shard = Some(shard);
        let role = if shard.load { "load" } else { "faults" };
        (format!("{role}-{}", shard.index), plan)
    }

    fn shard(index: u32, count: u32, load: bool, faults: bool) -> Shard {
        Shard {
            index,
            count,
            load,
            faults,
            start_at_unix_ms: 1000,
        }
    }

    #[test]
    fn the_shards_of_one_run_make_it_whole_and_anything_else_is_refused() {
        // Shard 0 with the faults, or every shard loading only beside a faults-only run.
        let with_zero: Vec<_> = (0..3).map(|i| plan(shard(i, 3, true, i == 0))).collect();
        assert_eq!(whole(&with_zero).expect("whole").1, 0);
        let mut apart: Vec<_> = (0..3).map(|i| plan(shard(i, 3, true, false))).collect();
        apart.push(plan(shard(0, 0, false, true)));
        let (merged, faults) = whole(&apart).expect("whole");
        assert_eq!((faults, merged.shard), (3, None));

        let refused = |plans: &[(String, Plan)]| whole(plans).expect_err("refused");
        assert!(refused(&with_zero[..2]).contains("shard 2 of 3 is missing"));
        let mut twice = with_zero.clone();
        twice[2] = plan(shard(1, 3, true, false));
        assert!(refused(&twice).contains("shard 1 of 3 is given twice"));
        assert!(refused(&apart[..3]).contains("none of them ran the faults"));
        let mut two = apart.clone();
        two[0] = plan(shard(0, 3, true, true));
        assert!(refused(&two).contains("more than one ran the faults"));
        let mut counts = with_zero.clone();
        counts[1] = plan(shard(1, 4, true, false));
        assert!(refused(&counts).contains("is shard 1 of 4"));
        let mut late = with_zero.clone();
        late[1].1.shard.as_mut().expect("shard").start_at_unix_ms = 2000;
        assert!(refused(&late).contains("--start-at"));
        let mut alone = with_zero.clone();
        alone[1].1.shard = None;
        assert!(refused(&alone).contains("not a shard's run"));
    }

    #[test]
    fn every_shard_agrees_on_each_target_s_window() {
        let (_, p) = plan(shard(0, 2, true, true));
        let s = p.shard.expect("shard");
        let (open, load) = window(&p, &s, 0);
        assert_eq!(open, s.start_at());
        // One `timeout` (the validated default) to be ready.
        let budget = p.targets[0].external.as_ref().expect("external").timeout;
        assert_eq!(load.duration_since(open).expect("after"), budget);
    }

    #[test]
    fn shard_and_start_at_are_parsed_or_refused_with_the_form() {
        assert_eq!(parse_shard("2/3"), Ok((2, 3)));
        for bad in ["3/3", "1/0", "1", "a/3", "-1/3"] {
            assert!(parse_shard(bad).expect_err(bad).contains("I/N"), "{bad}");
        }
        let t = parse_start_at("2026-12-01T10:00:00Z").expect("RFC 3339");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).expect("after").as_secs(),
            1_796_119_200
        );
        let soon = parse_start_at("+30s").expect("relative");
        assert!(soon > SystemTime::now() + Duration::from_secs(29));
        assert!(
            parse_start_at("tomorrow")
                .expect_err("a word")
                .contains("RFC 3339")
        );
    }
}
