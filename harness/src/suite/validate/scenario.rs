//! `[[scenarios]]`, `[quick]` and `suite.reference`: a suite that puts every target through
//! several situations, each run apart, and compares the targets.

use std::time::Duration;

use super::{Validator, join, key, show};
use crate::suite::locate::Seg;
use crate::suite::raw::{QuickRaw, ScenarioRaw, WorkloadRaw};
use sessionbench_model::plan::{FaultPlan, Quick, Scenario, Strategy, TargetPlan};

impl Validator<'_> {
    /// `inherited`: the workload keys a scenario's own replace (the suite's, or the defaults
    /// when the suite's are invalid, so a bad key is reported once, where it is).
    pub(super) fn scenarios(
        &mut self,
        raw: Option<Vec<ScenarioRaw>>,
        has_faults: bool,
        inherited: &WorkloadRaw,
        duration: Duration,
        targets: &[TargetPlan],
    ) -> Vec<Scenario> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        if raw.is_empty() {
            self.err(
                &[key("scenarios")],
                "name at least one scenario, or leave the key out",
            );
        }
        if has_faults {
            self.err(
                &[key("faults")],
                "a suite with [[scenarios]] puts its faults in them (`[[scenarios.faults]]`)",
            );
        }
        let mut scenarios: Vec<Scenario> = Vec::new();
        for (i, s) in raw.into_iter().enumerate() {
            let path = [key("scenarios"), Seg::Index(i)];
            let name = s.name.unwrap_or_default();
            if !sessionbench_common::names::is_node_id(&name) {
                self.err(
                    &join(&path, "name"),
                    format!("`{name}` is not a scenario name: 1 to 64 of A-Z a-z 0-9 `-` `_`"),
                );
            } else if scenarios.iter().any(|other| other.name == name) {
                self.err(
                    &join(&path, "name"),
                    format!("scenario name `{name}` is used twice"),
                );
            }
            let workload = self.workload(
                &join(&path, "workload"),
                s.workload.unwrap_or_default(),
                inherited.clone(),
            );
            // A situation for some targets only (a split between processes only they have).
            let only = s.targets.unwrap_or_default();
            let known: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            self.all_known(&join(&path, "targets"), &only, &known, "target");
            let theirs: Vec<TargetPlan> = targets
                .iter()
                .filter(|t| only.is_empty() || only.contains(&t.name))
                .cloned()
                .collect();
            let faults = self.faults(&join(&path, "faults"), s.faults, duration, &theirs);
            scenarios.push(Scenario {
                name,
                targets: only,
                workload,
                faults,
            });
        }
        scenarios
    }

    /// The target the comparison is relative to: as named, or the first sticky one (the
    /// cheapest strategy that keeps sessions while nothing fails), or the first.
    pub(super) fn reference(
        &mut self,
        given: Option<String>,
        scenarios: &[Scenario],
        targets: &[TargetPlan],
    ) -> Option<String> {
        if let Some(name) = given {
            if !targets.iter().any(|t| t.name == name) && !self.unjudged.contains(&name) {
                self.err(
                    &[key("suite"), key("reference")],
                    format!("there is no target `{name}` to compare with"),
                );
            }
            return Some(name);
        }
        if scenarios.is_empty() {
            return None;
        }
        targets
            .iter()
            .find(|t| t.strategy == Strategy::Sticky)
            .or(targets.first())
            .map(|t| t.name.clone())
    }

    /// Reports each of `names` (at `path[i]`) that is not one of `known`.
    fn all_known(&mut self, path: &[Seg], names: &[String], known: &[&str], what: &str) {
        for (i, name) in names.iter().enumerate() {
            // A target whose strategy was wrong is reported at its own line.
            let unjudged = what == "target" && self.unjudged.contains(name);
            if !known.contains(&name.as_str()) && !unjudged {
                let mut at = path.to_vec();
                at.push(Seg::Index(i));
                self.err(&at, format!("there is no {what} `{name}`"));
            }
        }
    }

    pub(super) fn quick(
        &mut self,
        q: QuickRaw,
        scenarios: &[Scenario],
        faults: &[FaultPlan],
        targets: &[TargetPlan],
        warm_up: Duration,
    ) -> Quick {
        let base = [key("quick")];
        let duration = self.duration(&join(&base, "duration"), q.duration, None);
        let duration = self.positive(&join(&base, "duration"), duration, "the quick duration");
        let names = q.scenarios.unwrap_or_default();
        let scenario_names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        self.all_known(
            &join(&base, "scenarios"),
            &names,
            &scenario_names,
            "scenario",
        );
        let target_names = q.targets.unwrap_or_default();
        let known_targets: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        self.all_known(
            &join(&base, "targets"),
            &target_names,
            &known_targets,
            "target",
        );
        if !duration.is_zero() && duration <= warm_up {
            self.err(
                &join(&base, "duration"),
                format!(
                    "{} is not longer than the warm-up ({})",
                    show(duration),
                    show(warm_up)
                ),
            );
        }
        let kept = scenarios
            .iter()
            .filter(|s| names.is_empty() || names.contains(&s.name))
            .flat_map(|s| s.faults.iter().map(move |f| (Some(&s.name), f)));
        let late = faults
            .iter()
            .map(|f| (None, f))
            .chain(kept)
            .find(|(_, f)| !duration.is_zero() && f.at >= duration);
        if let Some((scenario, f)) = late {
            let place = scenario.map_or(String::new(), |s| format!(" of scenario `{s}`"));
            self.err(
                &join(&base, "duration"),
                format!(
                    "{} ends before the {} fault{place} at {}: it would never happen",
                    show(duration),
                    f.kind.name(),
                    show(f.at)
                ),
            );
        }
        let report_window = self.report_window(&base, q.report_window, duration);
        Quick {
            duration,
            scenarios: names,
            targets: target_names,
            report_window,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::suite::parse;
    use sessionbench_model::plan::LoadModel;

    const SUITE: &str = r#"
[suite]
name = "s"
duration = "10s"

[quick]
duration = "4s"
scenarios = ["failure"]
targets = ["b"]

[workload]
virtual-users = 7
think-time = "20ms"

[[targets]]
name = "a"
strategy = "round-robin"

[[targets]]
name = "b"
strategy = "sticky"

[[scenarios]]
name = "capacity"

[scenarios.workload]
think-time = "0ms"

[[scenarios]]
name = "failure"

[[scenarios.faults]]
at = "2s"
kind = "kill"
node = "node2"
"#;

    #[test]
    fn every_target_runs_in_every_scenario_with_its_workload_and_faults() {
        let plan = parse(SUITE, "s.toml").expect("valid");
        let runs = plan.runs();
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["a/capacity", "a/failure", "b/capacity", "b/failure"]
        );
        // A scenario's own keys replace the suite's; the rest are the suite's.
        let capacity = runs[0].workload;
        assert!(capacity.think_time.is_zero());
        assert_eq!(capacity.model, LoadModel::Closed { virtual_users: 7 });
        assert_eq!(runs[1].workload.think_time.as_millis(), 20);
        assert!(runs[0].faults.is_empty());
        assert_eq!(runs[1].faults.len(), 1);
        // The first sticky target is the reference when none is named.
        assert_eq!(plan.reference.as_deref(), Some("b"));
    }

    #[test]
    fn quick_keeps_what_it_names_at_its_duration() {
        let plan = parse(SUITE, "s.toml").expect("valid");
        let quick = plan.quick().expect("the suite has [quick]");
        let names: Vec<String> = quick.runs().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["b/failure"]);
        assert_eq!(quick.duration.as_secs(), 4);
        assert!(quick.quick.is_none());
        let without = parse(
            "[suite]\nname = \"x\"\n\n[[targets]]\nname = \"t\"\nstrategy = \"sticky\"\n",
            "x.toml",
        )
        .expect("valid");
        assert!(without.quick().is_none());
    }
}
