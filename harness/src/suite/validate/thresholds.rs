//! `[targets.thresholds]`: performance bounds, apart from the continuity expectations
//! because missing one is a different failure (exit 4, not 3).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Validator, join};
use crate::suite::locate::Seg;
use crate::suite::raw::{LatencyBoundRaw, ThresholdsRaw};
use sessionbench_model::history::OpKind;
use sessionbench_model::plan::Thresholds;

impl Validator<'_> {
    pub(super) fn thresholds(&mut self, path: &[Seg], t: Option<ThresholdsRaw>) -> Thresholds {
        let Some(t) = t else {
            return Thresholds::default();
        };
        let at = join(path, "p99-latency");
        let (all, by_kind) = match t.p99_latency {
            None => (None, BTreeMap::new()),
            Some(LatencyBoundRaw::All(text)) => (Some((at.clone(), text)), BTreeMap::new()),
            Some(LatencyBoundRaw::ByKind(mut by_kind)) => {
                let all = by_kind.remove("all").map(|text| (join(&at, "all"), text));
                (all, by_kind)
            }
        };
        let p99_latency = all.and_then(|(at, text)| self.p99_bound(&at, text));
        let mut p99_latency_ms_by_kind = BTreeMap::new();
        for (kind, text) in by_kind {
            if !OpKind::WORKLOAD.iter().any(|k| k.name() == kind) {
                let kinds: Vec<&str> = OpKind::WORKLOAD.iter().map(|k| k.name()).collect();
                self.err(
                    &join(&at, &kind),
                    format!("`{kind}` is not a request kind: all, {}", kinds.join(", ")),
                );
            } else if let Some(d) = self.p99_bound(&join(&at, &kind), text) {
                if d.subsec_nanos() % 1_000_000 != 0 {
                    let whole = format!("{d:?} is not a whole number of milliseconds");
                    self.err(&join(&at, &kind), format!("{whole}, as a bound is kept"));
                }
                let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                p99_latency_ms_by_kind.insert(kind, ms);
            }
        }
        if let Some(r) = t.max_error_rate.filter(|r| !(0.0..=100.0).contains(r)) {
            self.err(
                &join(path, "max-error-rate"),
                format!("{r} is not a percentage from 0 to 100"),
            );
        }
        if let Some(m) = t.min_throughput.filter(|m| !(m.is_finite() && *m > 0.0)) {
            self.err(
                &join(path, "min-throughput"),
                format!("{m} is not a positive number of operations per second"),
            );
        }
        Thresholds {
            p99_latency,
            p99_latency_ms_by_kind,
            max_error_rate: t.max_error_rate,
            min_throughput: t.min_throughput,
            max_sessions_lost: t.max_sessions_lost,
        }
    }

    /// A p99 bound: a duration above zero.
    fn p99_bound(&mut self, at: &[Seg], text: String) -> Option<Duration> {
        let d = self.duration(at, Some(text), None)?;
        Some(self.positive(at, Some(d), "a p99 latency bound"))
    }
}

#[cfg(test)]
mod tests {
    use crate::suite::parse;

    fn suite(bound: &str) -> String {
        format!(
            "[suite]\nname = \"t\"\nduration = \"5s\"\n\n[[targets]]\nname = \"a\"\nstrategy = \"sticky\"\n\n[targets.thresholds]\n{bound}\n"
        )
    }

    #[test]
    fn a_p99_bound_names_a_request_kind_or_every_operation() {
        let plan = parse(
            &suite("p99-latency = { all = \"50ms\", login = \"300ms\" }"),
            "t.toml",
        )
        .expect("valid");
        let t = &plan.targets[0].thresholds;
        assert_eq!(t.p99_latency, Some(std::time::Duration::from_millis(50)));
        assert_eq!(t.p99_latency_ms_by_kind.get("login"), Some(&300));
        let dotted = parse(&suite("p99-latency.read = \"20ms\""), "t.toml").expect("dotted");
        assert_eq!(dotted.targets[0].thresholds.p99_latency, None);
        assert_eq!(
            dotted.targets[0]
                .thresholds
                .p99_latency_ms_by_kind
                .get("read"),
            Some(&20)
        );
        let errors = |bound: &str| {
            parse(&suite(bound), "t.toml")
                .expect_err(bound)
                .0
                .iter()
                .map(|e| format!("{}:{}: {}: {}", e.line, e.column, e.key, e.message))
                .collect::<Vec<_>>()
        };
        let wrong = errors("p99-latency = { lgin = \"1s\", read = \"500us\", write = 5 }");
        assert_eq!(wrong.len(), 3, "{wrong:?}");
        assert!(wrong[0].contains("targets[0].thresholds.p99-latency.lgin: `lgin` is not a request kind: all, login, read, write, counter, logout"), "{wrong:?}");
        assert!(
            wrong[1].contains("p99-latency.read: 500µs is not a whole number of milliseconds"),
            "{wrong:?}"
        );
        assert!(
            wrong[2].contains("p99-latency.write: invalid type: integer `5`, expected a string"),
            "{wrong:?}"
        );
        let five = errors("p99-latency = 5");
        assert!(
            five[0].contains("expected a duration, or a table of durations by request kind"),
            "{five:?}"
        );
    }
}
