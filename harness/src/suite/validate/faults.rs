//! Faults: each kind's rules (from [`FaultKind`]) checked against every target of the suite.

use std::time::Duration;

use super::network::{CutKeys, cut_label};
use super::{Check, command, join, show};
use crate::plan::{FaultKind, FaultPlan, LbKind, Link, Network, RedisPlan, Strategy, TargetPlan};
use crate::suite::locate::Seg;
use crate::suite::raw::FaultRaw;

impl Check<'_> {
    pub(super) fn faults(
        &mut self,
        path: &[Seg],
        faults: Option<Vec<FaultRaw>>,
        duration: Duration,
        targets: &[TargetPlan],
    ) -> Vec<FaultPlan> {
        faults
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let mut p = path.to_vec();
                p.push(Seg::Index(i));
                self.fault(&p, f, duration, targets)
            })
            .collect()
    }

    pub(super) fn fault(
        &mut self,
        path: &[Seg],
        f: FaultRaw,
        duration: Duration,
        targets: &[TargetPlan],
    ) -> FaultPlan {
        let keys = command::CommandKeys {
            inject: f.inject.clone(),
            heal: f.heal.clone(),
            timeout: f.timeout.clone(),
            ready_url: f.ready_url.clone(),
            ready_status: f.ready_status,
        };
        let at_text = f.at.clone();
        if at_text.is_none() {
            self.err(
                path,
                "a fault needs `at` (when, from the start of the load)",
            );
        }
        let at = self
            .duration(&join(path, "at"), at_text.or(Some("0s".into())), None)
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
        let kind_name = f.kind.unwrap_or_default();
        let kind = self
            .one_of(&join(path, "kind"), &kind_name, &FaultKind::names())
            .and_then(FaultKind::from_name)
            .unwrap_or(FaultKind::Kill);
        if kind != FaultKind::Command {
            for t in targets.iter().filter(|t| t.strategy == Strategy::External) {
                self.err(
                    &join(path, "kind"),
                    format!(
                        "target `{}` is \"external\": the harness cannot {kind_name} what it did not start; use kind = \"command\"",
                        t.name
                    ),
                );
            }
        }
        let cut_keys = CutKeys {
            groups: f.groups,
            from: f.from,
            to: f.to,
        };
        let cut = self.cut(path, kind, cut_keys, targets);
        self.kernel_faults(path, kind, &kind_name, targets);
        let whole = kind.whole_tier();
        let mut node = f.node.unwrap_or_default();
        if let Some(cut) = &cut {
            if !node.is_empty() || f.link.is_some() {
                self.err(
                    path,
                    "a partition between processes names them in `groups` (or `from` and `to`), not in `node` or `link`",
                );
            }
            node = cut_label(cut);
        } else if let Some(whole) = whole {
            if node.is_empty() {
                node = whole.to_string();
            } else if node != whole {
                self.err(
                    &join(path, "node"),
                    format!("`{kind_name}` acts on `{whole}`: leave `node` out"),
                );
            }
        } else if node.is_empty() {
            self.err(path, "a fault needs `node` (for example \"node2\")");
        } else if kind == FaultKind::Command {
            // Any name: the commands get it in SESSIONBENCH_NODE.
        } else if kind == FaultKind::AddNode {
            if !sessionbench_targets::names::is_node_id(&node) {
                self.err(
                    &join(path, "node"),
                    format!("`{node}` is not a node id: 1 to 64 of A-Z a-z 0-9 `-` `_`"),
                );
            }
            for t in targets {
                if t.node_ids().any(|n| n == node) {
                    self.err(
                        &join(path, "node"),
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
                if t.strategy == Strategy::Tomcat && !t.tomcat_members().any(|m| m == node.as_str())
                {
                    let spares: Vec<String> = t.tomcat_members().skip(t.nodes as usize).collect();
                    self.err(
                        &join(path, "node"),
                        format!(
                            "target `{}` is a Tomcat cluster with static membership: it can add {} (the members it lists from the start)",
                            t.name,
                            spares.join(" or ")
                        ),
                    );
                }
            }
        } else if kind == FaultKind::LinkDown {
            for t in targets {
                if !t.process_names().contains(&node) {
                    self.err(
                        &join(path, "node"),
                        format!(
                            "target `{}` has no process `{node}` (it has {})",
                            t.name,
                            t.process_names().join(", ")
                        ),
                    );
                }
            }
        } else if kind.on_store() {
            for t in targets {
                let stores = t.store_ids();
                if !stores.contains(&node.as_str()) {
                    let has = if stores.is_empty() {
                        "it has no store process the harness runs".to_string()
                    } else {
                        format!("it has {}", stores.join(", "))
                    };
                    self.err(
                        &join(path, "node"),
                        format!("target `{}` has no store process `{node}` ({has})", t.name),
                    );
                }
            }
        } else {
            // An external target's nodes are its own business (reported above).
            let ours = targets.iter().filter(|t| t.strategy != Strategy::External);
            for t in ours {
                if !t.node_ids().any(|n| n == node) {
                    self.err(
                        &join(path, "node"),
                        format!(
                            "target `{}` has no node `{node}` (it has node1 to node{})",
                            t.name, t.nodes
                        ),
                    );
                }
            }
        }
        let heal_after = match f.heal_after {
            Some(text) => {
                let d = self.duration(&join(path, "heal-after"), Some(text), None);
                let d = self.positive(&join(path, "heal-after"), d, "heal-after");
                if kind.heals_itself() {
                    let why = if kind.on_store() {
                        "a store-restart or store-flush has no heal: it is over once done"
                    } else {
                        "a restart, deploy or add-node has no heal: it ends when the node is serving"
                    };
                    self.err(&join(path, "heal-after"), why);
                }
                Some(d)
            }
            None => None,
        };
        let interval = match (kind, f.interval) {
            (FaultKind::RollingRestart, text) => {
                let d = self.duration(&join(path, "interval"), text.or(Some("2s".into())), None);
                Some(self.positive(&join(path, "interval"), d, "interval"))
            }
            (_, Some(_)) => {
                self.err(
                    &join(path, "interval"),
                    "only a rolling-restart waits between nodes",
                );
                None
            }
            (_, None) => None,
        };
        if kind.needs_lb() {
            self.needs_lb(path, &kind_name, targets);
        }
        if kind == FaultKind::Deploy {
            for t in targets.iter().filter(|t| t.strategy == Strategy::Tomcat) {
                self.err(
                    &join(path, "kind"),
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
                    &join(path, "kind"),
                    format!(
                        "target `{}` runs {}: `{kind_name}` changes backends through an admin API (the reference LB's, Apache's balancer-manager), which {} does not have",
                        t.name,
                        t.lb.name(),
                        t.lb.name()
                    ),
                );
            }
        }
        let on_link = kind.on_link() && cut.is_none();
        let link = self.link(path, &kind_name, on_link, f.link, targets);
        let (latency, jitter) = if kind == FaultKind::Latency {
            if f.latency.is_none() {
                self.err(
                    path,
                    "a latency fault needs `latency` (for example \"50ms\")",
                );
            }
            let latency = self.duration(
                &join(path, "latency"),
                f.latency.or(Some("1ms".into())),
                None,
            );
            let latency = self.positive(&join(path, "latency"), latency, "latency");
            let jitter = self
                .duration(&join(path, "jitter"), f.jitter.or(Some("0s".into())), None)
                .unwrap_or_default();
            (Some(latency), Some(jitter))
        } else {
            for (key, given) in [
                ("latency", f.latency.is_some()),
                ("jitter", f.jitter.is_some()),
            ] {
                if given {
                    self.err(&join(path, key), "only a `latency` fault adds latency");
                }
            }
            (None, None)
        };
        let command = self.command(path, kind, keys, heal_after.is_some());
        FaultPlan {
            at,
            kind,
            node,
            heal_after,
            interval,
            link,
            latency,
            jitter,
            command,
            may_fail: f.may_fail.unwrap_or(false),
            groups: cut.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
            from: cut.as_ref().map(|c| c.1.clone()).unwrap_or_default(),
            to: cut.map(|c| c.2).unwrap_or_default(),
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

    /// `link = "lb" | "store" | "peers"` for network faults: which of the node's links the
    /// proxy cuts or slows. A store link needs a standalone Redis the harness runs (a Sentinel or
    /// Cluster client learns real addresses from the servers and would go around a proxy).
    pub(super) fn link(
        &mut self,
        path: &[Seg],
        kind: &str,
        network: bool,
        link: Option<String>,
        targets: &[TargetPlan],
    ) -> Option<Link> {
        let key_path = join(path, "link");
        if !network {
            if link.is_some() {
                self.err(&key_path, "only `partition` and `latency` act on a link");
            }
            return None;
        }
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
