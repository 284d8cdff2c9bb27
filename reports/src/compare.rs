//! Baselines: is a run faster or slower than an earlier one, beyond noise? Per run present in
//! both, throughput and latency are compared on their per-second samples (after the
//! warm-up). A change counts only when it is both significant (the
//! bootstrap confidence interval of the relative change excludes zero) and larger than the
//! noise threshold, as criterion's change detection does.

use std::fmt::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use sessionbench_model::results::{Results, Second, TargetResult};

/// How a comparison judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// Changes smaller than this (a fraction: 0.05 is 5%) are no change, however certain.
    pub noise: f64,
    /// Of the confidence interval (0.95: from the 2.5th to the 97.5th percentile).
    pub confidence: f64,
    /// Latency changes smaller than this many milliseconds are no change: below the
    /// scheduling noise of a shared machine, whatever the percentage.
    pub latency_floor_ms: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            noise: 0.05,
            confidence: 0.95,
            latency_floor_ms: 1.0,
            resamples: 2_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Improved,
    Regressed,
    NoChange,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Self::Improved => "improved",
            Self::Regressed => "regressed",
            Self::NoChange => "no change",
        }
    }
}

/// One metric of one run, base against new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MetricChange {
    pub run: String,
    /// `throughput` (ops/s), `latency-p50` or `latency-p99` (ms, the mean of the seconds').
    pub metric: String,
    pub base: f64,
    pub new: f64,
    /// (new - base) / base, and its confidence interval.
    pub change: f64,
    pub low: f64,
    pub high: f64,
    pub verdict: Change,
}

/// Every metric of every run in both, plus the runs only one of them has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Comparison {
    pub noise: f64,
    pub confidence: f64,
    #[serde(default)]
    pub latency_floor_ms: f64,
    pub metrics: Vec<MetricChange>,
    /// Runs without enough samples on one side (fewer than two measured seconds).
    pub unmeasured: Vec<String>,
    pub only_in_base: Vec<String>,
    pub only_in_new: Vec<String>,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.metrics.iter().any(|m| m.verdict == Change::Regressed)
    }
}

/// Compares `new` with `base`, run by run (matched by name).
pub fn compare(base: &Results, new: &Results, opts: CompareOptions) -> Comparison {
    let mut c = Comparison {
        noise: opts.noise,
        confidence: opts.confidence,
        latency_floor_ms: opts.latency_floor_ms,
        metrics: Vec::new(),
        unmeasured: Vec::new(),
        only_in_base: Vec::new(),
        only_in_new: Vec::new(),
    };
    // One seeded generator, drawn from in a fixed order: the same two files always give the
    // same intervals.
    let mut rng = StdRng::seed_from_u64(0x5e55_1011);
    for b in &base.targets {
        let Some(n) = new.targets.iter().find(|n| n.name == b.name) else {
            c.only_in_base.push(b.name.clone());
            continue;
        };
        let (bs, ns) = (samples(b, base.warm_up_ms), samples(n, new.warm_up_ms));
        if bs.len() < 2 || ns.len() < 2 {
            c.unmeasured.push(b.name.clone());
            continue;
        }
        type Pick = fn(&Second) -> Option<f64>;
        let metrics: [(&str, Pick, bool); 3] = [
            ("throughput", |s| Some(s.ok as f64), true),
            ("latency-p50", |s| s.p50_ms, false),
            ("latency-p99", |s| s.p99_ms, false),
        ];
        for (metric, pick, higher_is_better) in metrics {
            let bv: Vec<f64> = bs.iter().filter_map(pick).collect();
            let nv: Vec<f64> = ns.iter().filter_map(pick).collect();
            let Some((change, low, high)) = change(&bv, &nv, opts, &mut rng) else {
                continue;
            };
            let (base_mean, new_mean) = (mean(&bv), mean(&nv));
            let significant = low > 0.0 || high < 0.0;
            let below_floor =
                !higher_is_better && (new_mean - base_mean).abs() < opts.latency_floor_ms;
            let verdict = if !significant || change.abs() < opts.noise || below_floor {
                Change::NoChange
            } else if (change > 0.0) == higher_is_better {
                Change::Improved
            } else {
                Change::Regressed
            };
            c.metrics.push(MetricChange {
                run: b.name.clone(),
                metric: metric.into(),
                base: base_mean,
                new: new_mean,
                change,
                low,
                high,
                verdict,
            });
        }
    }
    c.only_in_new = new
        .targets
        .iter()
        .filter(|n| !base.targets.iter().any(|b| b.name == n.name))
        .map(|n| n.name.clone())
        .collect();
    c
}

/// The seconds after the warm-up (the timeline holds whole seconds only).
fn samples(t: &TargetResult, warm_up_ms: f64) -> Vec<Second> {
    let first = (warm_up_ms / 1000.0).ceil() as u32;
    t.timeline
        .iter()
        .filter(|s| s.t >= first)
        .copied()
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The relative change of the means and its bootstrap confidence interval; `None` without
/// samples on a side or with a zero base.
fn change(
    base: &[f64],
    new: &[f64],
    opts: CompareOptions,
    rng: &mut StdRng,
) -> Option<(f64, f64, f64)> {
    if base.is_empty() || new.is_empty() || mean(base) == 0.0 {
        return None;
    }
    let point = mean(new) / mean(base) - 1.0;
    let mut resample = |v: &[f64]| {
        let sum: f64 = (0..v.len()).map(|_| v[rng.random_range(0..v.len())]).sum();
        sum / v.len() as f64
    };
    let mut changes: Vec<f64> = (0..opts.resamples)
        .filter_map(|_| {
            let b = resample(base);
            let n = resample(new);
            (b != 0.0).then(|| n / b - 1.0)
        })
        .collect();
    if changes.is_empty() {
        return None;
    }
    changes.sort_by(f64::total_cmp);
    let tail = (1.0 - opts.confidence) / 2.0;
    let at = |q: f64| changes[((changes.len() - 1) as f64 * q).round() as usize];
    Some((point, at(tail), at(1.0 - tail)))
}

/// The comparison as Markdown (a table of every metric, then what could not be compared).
pub fn compare_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let regressions = c
        .metrics
        .iter()
        .filter(|m| m.verdict == Change::Regressed)
        .count();
    let _ = writeln!(
        out,
        "### Against the baseline: {}\n",
        if c.metrics.is_empty() {
            "nothing compared (no run in common was measured on both sides)".to_string()
        } else if regressions == 0 {
            "no regression".to_string()
        } else {
            format!("{regressions} regressed")
        }
    );
    let _ = writeln!(
        out,
        "A change counts when its {:.0}% confidence interval (bootstrap over per-second \
         samples) excludes zero and it exceeds the {:.0}% noise threshold (and, for latency, \
         {} ms).\n",
        c.confidence * 100.0,
        c.noise * 100.0,
        c.latency_floor_ms
    );
    let _ = writeln!(
        out,
        "| run | metric | base | new | change | {:.0}% CI | verdict |",
        c.confidence * 100.0
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for m in &c.metrics {
        let unit = if m.metric == "throughput" {
            "ops/s"
        } else {
            "ms"
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} {unit} | {:.2} {unit} | {:+.1}% | {:+.1}% .. {:+.1}% | {} |",
            m.run,
            m.metric,
            m.base,
            m.new,
            m.change * 100.0,
            m.low * 100.0,
            m.high * 100.0,
            m.verdict.name()
        );
    }
    for (what, runs) in [
        ("too few measured seconds to compare", &c.unmeasured),
        ("only in the baseline", &c.only_in_base),
        ("only in the new run", &c.only_in_new),
    ] {
        if !runs.is_empty() {
            let _ = writeln!(out, "\n{}: {}", capitalise(what), runs.join(", "));
        }
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{results, run};

    /// A run whose seconds serve `ok` (± a little) at p99 `p99` ms (± a little).
    fn steady(name: &str, ok: u64, p99: f64) -> TargetResult {
        let mut r = run(name, "capacity", None, (0, 0, 0), (ok as f64, p99));
        r.timeline = (0..30)
            .map(|t| Second {
                t,
                ok: ok + u64::from(t * 7 % 5),
                errors: 0,
                p50_ms: Some(p99 / 4.0),
                p99_ms: Some(p99 + f64::from(t * 3 % 4) / 10.0),
                ..Second::default()
            })
            .collect();
        r
    }

    fn verdicts(c: &Comparison) -> Vec<(&str, Change)> {
        c.metrics
            .iter()
            .map(|m| (m.metric.as_str(), m.verdict))
            .collect()
    }

    #[test]
    fn the_same_run_is_no_change() {
        let a = results(vec![steady("a", 1_000, 4.0)]);
        let c = compare(&a, &a, CompareOptions::default());
        assert!(
            c.metrics
                .iter()
                .all(|m| m.verdict == Change::NoChange && m.change == 0.0)
        );
        assert!(!c.regressed());
    }

    #[test]
    fn slower_beyond_noise_is_a_regression_and_faster_an_improvement() {
        let base = results(vec![steady("a", 1_000, 4.0)]);
        let slower = results(vec![steady("a", 800, 8.0)]);
        let c = compare(&base, &slower, CompareOptions::default());
        assert_eq!(
            verdicts(&c),
            [
                ("throughput", Change::Regressed),
                ("latency-p50", Change::Regressed),
                ("latency-p99", Change::Regressed)
            ]
        );
        assert!(c.regressed());
        let back = compare(&slower, &base, CompareOptions::default());
        assert!(back.metrics.iter().all(|m| m.verdict == Change::Improved));
    }

    #[test]
    fn a_certain_change_below_the_noise_threshold_is_no_change() {
        let base = results(vec![steady("a", 1_000, 4.0)]);
        let new = results(vec![steady("a", 1_030, 4.0)]);
        let c = compare(&base, &new, CompareOptions::default());
        let t = &c.metrics[0];
        assert!(t.low > 0.0, "significant: {t:?}");
        assert_eq!(t.verdict, Change::NoChange);
        let strict = compare(
            &base,
            &new,
            CompareOptions {
                noise: 0.01,
                ..CompareOptions::default()
            },
        );
        assert_eq!(strict.metrics[0].verdict, Change::Improved);
    }

    #[test]
    fn latency_changes_under_the_floor_are_no_change() {
        let base = results(vec![steady("a", 1_000, 0.8)]);
        let new = results(vec![steady("a", 1_000, 1.2)]);
        let c = compare(&base, &new, CompareOptions::default());
        assert_eq!(c.metrics[2].metric, "latency-p99");
        assert!(c.metrics[2].change > 0.4, "{:?}", c.metrics[2]);
        assert_eq!(c.metrics[2].verdict, Change::NoChange);
    }

    #[test]
    fn runs_missing_on_either_side_are_named() {
        let base = results(vec![steady("a", 1_000, 4.0), steady("b", 1_000, 4.0)]);
        let new = results(vec![steady("a", 1_000, 4.0), steady("c", 1_000, 4.0)]);
        let c = compare(&base, &new, CompareOptions::default());
        assert_eq!(c.only_in_base, ["b/capacity"]);
        assert_eq!(c.only_in_new, ["c/capacity"]);
        insta::assert_snapshot!(compare_markdown(&c));
    }
}
