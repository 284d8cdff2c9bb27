//! `network = "loopback" | "netns"` and what the kernel's cuts need: targets whose every
//! process the harness runs in a namespace (reference nodes and LB, Redis), and partitions by
//! groups of those processes or one way between two sets.

use super::{Check, join};
use crate::plan::{FaultKind, LbKind, Network, RedisPlan, Strategy, TargetPlan};
use crate::suite::locate::Seg;

/// A partition's `groups`, `from` and `to` as the suite gave them.
pub(super) struct CutKeys {
    pub groups: Option<Vec<Vec<String>>>,
    pub from: Option<Vec<String>>,
    pub to: Option<Vec<String>>,
}

/// A partition the kernel makes: `(groups, from, to)`.
pub(super) type Cut = (Vec<Vec<String>>, Vec<String>, Vec<String>);

impl Check<'_> {
    /// `[suite] network`, and every target refused that cannot live in namespaces.
    pub(super) fn network(
        &mut self,
        base: &[Seg],
        text: Option<String>,
        targets: &mut [TargetPlan],
    ) -> Network {
        let path = join(base, "network");
        let network = match text.as_deref() {
            None => Network::Loopback,
            Some(t) => match self.one_of(&path, t, &["loopback", "netns"]) {
                Some("netns") => Network::Netns,
                _ => Network::Loopback,
            },
        };
        if network == Network::Loopback {
            return network;
        }
        for (i, t) in targets.iter_mut().enumerate() {
            t.network = network;
            let why = if t.strategy == Strategy::External {
                Some("an \"external\" target runs where its own commands put it".to_string())
            } else if t.strategy == Strategy::Tomcat {
                Some("Tomcat runs on loopback only here".into())
            } else if t.lb_policy.is_some() && t.lb != LbKind::Reference {
                Some(format!("{} runs on loopback only here", t.lb.name()))
            } else if matches!(t.redis, Some(RedisPlan::External { .. })) {
                Some("a Redis given by URL is not the harness's to place".into())
            } else {
                None
            };
            if let Some(why) = why {
                self.err(
                    &[Seg::Key("targets".into()), Seg::Index(i), Seg::Key("name".into())],
                    format!(
                        "target `{}`: network = \"netns\" places the harness's own processes (reference nodes and LB, Redis) in namespaces; {why}",
                        t.name
                    ),
                );
            }
        }
        network
    }

    /// A fault's cut: `groups`, or `from` and `to`, for a `partition` in a netns suite; every
    /// name a process of every target. `Some` when the fault is such a cut (then it has no
    /// `node` or `link` of its own).
    pub(super) fn cut(
        &mut self,
        path: &[Seg],
        kind: FaultKind,
        keys: CutKeys,
        targets: &[TargetPlan],
    ) -> Option<Cut> {
        if keys.groups.is_none() && keys.from.is_none() && keys.to.is_none() {
            return None;
        }
        if kind != FaultKind::Partition {
            for (key, set) in [
                ("groups", keys.groups.is_some()),
                ("from", keys.from.is_some()),
                ("to", keys.to.is_some()),
            ] {
                if set {
                    self.err(
                        &join(path, key),
                        "only a `partition` cuts between processes",
                    );
                }
            }
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
        let groups = keys.groups.unwrap_or_default();
        let (from, to) = (keys.from.unwrap_or_default(), keys.to.unwrap_or_default());
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
