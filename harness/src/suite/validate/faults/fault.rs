//! A fault: when, what it acts on, and what its kind asks of every target; the keys of
//! particular kinds are their own files' (partition and latency, command).

use std::time::Duration;

use super::super::{Validator, join, show};
use crate::suite::locate::Seg;
use crate::suite::raw::{FaultRaw, Read};
use sessionbench_model::plan::{FaultKind, FaultPlan, LbKind, Network, Strategy, TargetPlan};

impl Validator<'_> {
    /// The faults at `path`; one whose `kind` was wrong (reported) is left out once its `at`
    /// is judged.
    pub(in super::super) fn faults(
        &mut self,
        path: &[Seg],
        faults: Option<Vec<Read<FaultRaw>>>,
        duration: Duration,
        targets: &[TargetPlan],
    ) -> Vec<FaultPlan> {
        let mut plans = Vec::new();
        for (i, f) in faults.unwrap_or_default().into_iter().enumerate() {
            let mut p = path.to_vec();
            p.push(Seg::Index(i));
            match f {
                Ok(f) => plans.push(self.fault(&p, f, duration, targets)),
                Err(untyped) => drop(self.fault_at(&p, untyped.at, duration)),
            }
        }
        plans
    }

    fn fault(
        &mut self,
        path: &[Seg],
        mut f: FaultRaw,
        duration: Duration,
        targets: &[TargetPlan],
    ) -> FaultPlan {
        let kind = f.kind();
        let (common, heal_after) = f.common();
        let at = self.fault_at(path, common.at, duration);
        self.kind_fits(path, kind, targets);
        let heal_after = heal_after.map(|text| {
            let d = self.duration(&join(path, "heal-after"), Some(text), None);
            self.positive(&join(path, "heal-after"), d, "heal-after")
        });
        let mut plan = FaultPlan {
            at,
            kind,
            node: common.node.unwrap_or_default(),
            heal_after,
            interval: None,
            link: None,
            latency: None,
            jitter: None,
            command: None,
            may_fail: common.may_fail.unwrap_or(false),
            groups: Vec::new(),
            from: Vec::new(),
            to: Vec::new(),
        };
        let cut = match f {
            FaultRaw::Healed(..) | FaultRaw::Once(..) => false,
            FaultRaw::RollingRestart(r) => {
                let at = join(path, "interval");
                let d = self.duration(&at, r.interval.or(Some("2s".into())), None);
                plan.interval = Some(self.positive(&at, d, "interval"));
                false
            }
            FaultRaw::Partition(p) => self.partition(path, p, &mut plan, targets),
            FaultRaw::Latency(l) => {
                self.latency(path, l, &mut plan, targets);
                false
            }
            FaultRaw::Command(c) => {
                plan.command = Some(self.command(path, c, plan.heal_after.is_some()));
                false
            }
        };
        if !cut {
            self.node(path, &mut plan.node, kind, targets);
        }
        plan
    }

    /// When a fault starts: given, and within the load.
    fn fault_at(&mut self, path: &[Seg], at: Option<String>, duration: Duration) -> Duration {
        if at.is_none() {
            self.err(
                path,
                "a fault needs `at` (when, from the start of the load)",
            );
        }
        let at = self
            .duration(&join(path, "at"), at.or(Some("0s".into())), None)
            .unwrap_or_default();
        if !duration.is_zero() && at >= duration {
            self.err(
                &join(path, "at"),
                format!(
                    "{} is not before the end of the load ({})",
                    show(at),
                    show(duration)
                ),
            );
        }
        at
    }

    /// The node a fault acts on, as `kind` needs it named, in every target.
    fn node(&mut self, path: &[Seg], node: &mut String, kind: FaultKind, targets: &[TargetPlan]) {
        let name = kind.name();
        let at = join(path, "node");
        if let Some(whole) = kind.whole_tier() {
            if node.is_empty() {
                *node = whole.to_string();
            } else if node != whole {
                self.err(&at, format!("`{name}` acts on `{whole}`: leave `node` out"));
            }
            return;
        }
        if node.is_empty() {
            self.err(path, "a fault needs `node` (for example \"node2\")");
            return;
        }
        // A command's node may be any name: the commands get it in SESSIONBENCH_NODE.
        if kind == FaultKind::Command {
            return;
        }
        if kind == FaultKind::AddNode {
            return self.new_node(path, node, targets);
        }
        for t in targets {
            let missing = if kind == FaultKind::LinkDown {
                let names = t.process_names();
                (!names.contains(node))
                    .then(|| format!("process `{node}` (it has {})", names.join(", ")))
            } else if kind.on_store() {
                let stores = t.store_ids();
                (!stores.contains(&node.as_str())).then(|| {
                    let has = if stores.is_empty() {
                        "it has no store process the harness runs".to_string()
                    } else {
                        format!("it has {}", stores.join(", "))
                    };
                    format!("store process `{node}` ({has})")
                })
            } else if t.strategy == Strategy::External {
                // An external target's nodes are its own business (reported in `kind_fits`).
                None
            } else {
                (!t.node_ids().any(|n| n == *node))
                    .then(|| format!("node `{node}` (it has node1 to node{})", t.nodes))
            };
            if let Some(missing) = missing {
                self.err(&at, format!("target `{}` has no {missing}", t.name));
            }
        }
    }

    /// An `add-node`'s node: a new name, in a target with a load balancer to add it to.
    fn new_node(&mut self, path: &[Seg], node: &str, targets: &[TargetPlan]) {
        let at = join(path, "node");
        if !sessionbench_common::names::is_node_id(node) {
            self.err(
                &at,
                format!("`{node}` is not a node id: 1 to 64 of A-Z a-z 0-9 `-` `_`"),
            );
        }
        for t in targets {
            if t.node_ids().any(|n| n == node) {
                self.err(
                    &at,
                    format!(
                        "target `{}` already has a node `{node}`: name the new one",
                        t.name
                    ),
                );
            }
            if t.strategy == Strategy::Direct {
                self.err(
                    &join(path, "kind"),
                    format!(
                        "target `{}` is \"direct\": there is no load balancer to add a node to",
                        t.name
                    ),
                );
            }
            if t.strategy == Strategy::Tomcat && !t.tomcat_members().any(|m| m == node) {
                let spares: Vec<String> = t.tomcat_members().skip(t.nodes as usize).collect();
                self.err(
                    &at,
                    format!(
                        "target `{}` is a Tomcat cluster with static membership: it can add {} (the members it lists from the start)",
                        t.name,
                        spares.join(" or ")
                    ),
                );
            }
        }
    }

    /// What `kind` asks of every target: one the harness started, namespaces or loopback, a
    /// load balancer, one that can change its backends.
    fn kind_fits(&mut self, path: &[Seg], kind: FaultKind, targets: &[TargetPlan]) {
        let name = kind.name();
        let at = join(path, "kind");
        if kind != FaultKind::Command {
            for t in targets.iter().filter(|t| t.strategy == Strategy::External) {
                self.err(
                    &at,
                    format!(
                        "target `{}` is \"external\": the harness cannot {name} what it did not start; use kind = \"command\"",
                        t.name
                    ),
                );
            }
        }
        self.kernel_faults(path, kind, name, targets);
        if kind.needs_lb() {
            self.needs_lb(path, name, targets);
        }
        if kind == FaultKind::Deploy {
            for t in targets.iter().filter(|t| t.strategy == Strategy::Tomcat) {
                self.err(
                    &at,
                    format!(
                        "target `{}` runs Tomcat: a deploy changes a reference node's codec or session schema",
                        t.name
                    ),
                );
            }
        }
        if kind.changes_backends() {
            for t in targets
                .iter()
                .filter(|t| !matches!(t.lb, LbKind::Reference | LbKind::Apache))
            {
                self.err(
                    &at,
                    format!(
                        "target `{}` runs {}: `{name}` changes backends through an admin API (the reference LB's, Apache's balancer-manager), which {} does not have",
                        t.name,
                        t.lb.name(),
                        t.lb.name()
                    ),
                );
            }
        }
    }

    /// What the kernel's network changes: a `link-down` needs namespaces; a `latency` needs
    /// the proxies of loopback (no netem here).
    fn kernel_faults(&mut self, path: &[Seg], kind: FaultKind, name: &str, targets: &[TargetPlan]) {
        let netns = targets.iter().any(|t| t.network == Network::Netns);
        let why = match (kind, netns) {
            (FaultKind::LinkDown, false) => {
                "a link-down takes a namespace's interface down: set network = \"netns\" in [suite]"
            }
            (FaultKind::Latency, true) => {
                "latency is added by the user-space proxies of network = \"loopback\" (this kernel has no netem)"
            }
            _ => return,
        };
        self.err(&join(path, "kind"), format!("`{name}`: {why}"));
    }

    /// A fault that works through the load balancer needs every target to have one.
    pub(super) fn needs_lb(&mut self, path: &[Seg], kind: &str, targets: &[TargetPlan]) {
        for t in targets.iter().filter(|t| t.lb_policy.is_none()) {
            self.err(
                &join(path, "kind"),
                format!(
                    "target `{}` is \"direct\": there is no load balancer for `{kind}`",
                    t.name
                ),
            );
        }
    }
}
