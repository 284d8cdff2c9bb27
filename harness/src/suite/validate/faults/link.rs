//! `partition` and `latency`: a node's link (to the load balancer, the store, its peers)
//! blackholed or slowed by a proxy, or, in namespaces, a cut the kernel makes between groups
//! of processes.

use super::super::{Validator, join};
use crate::suite::locate::Seg;
use crate::suite::raw::{LatencyRaw, PartitionRaw};
use sessionbench_model::plan::{FaultPlan, Link, Network, RedisPlan, TargetPlan};

/// A partition the kernel makes: `(groups, from, to)`.
type Cut = (Vec<Vec<String>>, Vec<String>, Vec<String>);

impl Validator<'_> {
    /// A partition's link, or its cut between processes; `true` for a cut (its `node` is then
    /// the cut's label).
    pub(super) fn partition(
        &mut self,
        path: &[Seg],
        p: PartitionRaw,
        plan: &mut FaultPlan,
        targets: &[TargetPlan],
    ) -> bool {
        let Some(cut) = self.cut(path, &p, targets) else {
            plan.link = self.link(path, "partition", p.link, targets);
            return false;
        };
        if !plan.node.is_empty() || p.link.is_some() {
            self.err(
                path,
                "a partition between processes names them in `groups` (or `from` and `to`), not in `node` or `link`",
            );
        }
        plan.node = cut_label(&cut);
        (plan.groups, plan.from, plan.to) = cut;
        true
    }

    /// A latency fault's link, its delay each way and the jitter on it.
    pub(super) fn latency(
        &mut self,
        path: &[Seg],
        l: LatencyRaw,
        plan: &mut FaultPlan,
        targets: &[TargetPlan],
    ) {
        plan.link = self.link(path, "latency", l.link, targets);
        if l.latency.is_none() {
            self.err(
                path,
                "a latency fault needs `latency` (for example \"50ms\")",
            );
        }
        let at = join(path, "latency");
        let latency = self.duration(&at, l.latency.or(Some("1ms".into())), None);
        plan.latency = Some(self.positive(&at, latency, "latency"));
        let jitter = self.duration(&join(path, "jitter"), l.jitter.or(Some("0s".into())), None);
        plan.jitter = Some(jitter.unwrap_or_default());
    }

    /// `link = "lb" | "store" | "peers"` for network faults: which of the node's links the
    /// proxy cuts or slows. A store link needs a standalone Redis the harness runs (a Sentinel or
    /// Cluster client learns real addresses from the servers and would go around a proxy).
    fn link(
        &mut self,
        path: &[Seg],
        kind: &str,
        link: Option<String>,
        targets: &[TargetPlan],
    ) -> Option<Link> {
        let key_path = join(path, "link");
        let name = link.unwrap_or_else(|| "lb".into());
        let link = match self.one_of(&key_path, &name, &["lb", "store", "peers"]) {
            Some("store") => Link::Store,
            Some("peers") => Link::Peers,
            _ => Link::Lb,
        };
        for t in targets {
            let fits = match link {
                Link::Lb => t.lb_policy.is_some(),
                Link::Store => matches!(t.redis, Some(RedisPlan::Standalone { .. })),
                Link::Peers => t.strategy.clustered_store().is_some(),
            };
            if !fits {
                self.err(
                    &key_path,
                    format!(
                        "target `{}` has no {} link for a {kind} (store links need redis = \"standalone\"; peers links delta or backup; lb links a load balancer)",
                        t.name,
                        link.name()
                    ),
                );
            }
        }
        Some(link)
    }

    /// A fault's cut: `groups`, or `from` and `to`, for a `partition` in a netns suite; every
    /// name a process of every target. `Some` when the fault is such a cut (then it has no
    /// `node` or `link` of its own).
    fn cut(&mut self, path: &[Seg], keys: &PartitionRaw, targets: &[TargetPlan]) -> Option<Cut> {
        if keys.groups.is_none() && keys.from.is_none() && keys.to.is_none() {
            return None;
        }
        if targets.is_empty() || targets.iter().any(|t| t.network != Network::Netns) {
            self.err(
                path,
                "a partition between `groups` (or `from` and `to`) is made by the kernel: set network = \"netns\" in [suite]",
            );
        }
        let check = |this: &mut Self, key: &str, names: &[String]| {
            if names.is_empty() {
                this.err(&join(path, key), "names no process");
            }
            for name in names {
                for t in targets {
                    if !t.process_names().contains(name) {
                        this.err(
                            &join(path, key),
                            format!(
                                "target `{}` has no process `{name}` (it has {})",
                                t.name,
                                t.process_names().join(", ")
                            ),
                        );
                    }
                }
            }
        };
        let groups = keys.groups.clone().unwrap_or_default();
        let (from, to) = (
            keys.from.clone().unwrap_or_default(),
            keys.to.clone().unwrap_or_default(),
        );
        if !groups.is_empty() {
            if !from.is_empty() || !to.is_empty() {
                self.err(
                    &join(path, "groups"),
                    "either `groups` (nothing crosses between them) or `from` and `to` (one way)",
                );
            }
            if groups.len() < 2 {
                self.err(&join(path, "groups"), "a split needs at least two groups");
            }
            let all: Vec<&String> = groups.iter().flatten().collect();
            for (i, name) in all.iter().enumerate() {
                if all[..i].contains(name) {
                    self.err(&join(path, "groups"), format!("`{name}` is in two groups"));
                }
            }
            for g in &groups {
                check(self, "groups", g);
            }
        } else {
            check(self, "from", &from);
            check(self, "to", &to);
            if let Some(both) = from.iter().find(|f| to.contains(f)) {
                self.err(
                    &join(path, "to"),
                    format!("`{both}` is on both sides of the cut"),
                );
            }
        }
        Some((groups, from, to))
    }
}

/// How a cut is shown where a fault names its node: `[node1] [node2 redis]`, or
/// `redis -> redis-replica`.
pub(super) fn cut_label(cut: &Cut) -> String {
    let (groups, from, to) = cut;
    if groups.is_empty() {
        format!("{} -> {}", from.join(" "), to.join(" "))
    } else {
        groups
            .iter()
            .map(|g| format!("[{}]", g.join(" ")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
