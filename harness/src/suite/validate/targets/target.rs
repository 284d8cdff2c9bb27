//! A target: its strategy's validator, and what every target, or every target whose nodes the
//! harness runs, has in common (a name, a cookie, nodes, a load balancer, expectations).

use std::time::Duration;

use super::super::{Validator, join, key};
use crate::suite::locate::Seg;
use crate::suite::raw::{BalancedRaw, CommonKeys, LabKeys, Read, TargetRaw};
use sessionbench_model::plan::{LbKind, Network, Strategy, TargetPlan};

/// Why `replication-delay` is refused where replication is not asynchronous.
pub(super) const ONLY_ASYNC_DELAYS: &str =
    "only a \"delta\" target with replication = \"async\" delays its changes";

/// Where every target takes the keys it leaves out: the default suite's target.
pub(in super::super) type Template = BalancedRaw;

impl Validator<'_> {
    /// Every target the file lists; one whose strategy is wrong (reported) is left out but
    /// for its name, and [`Validator::places`] says where each is.
    pub(in super::super) fn targets(
        &mut self,
        raw: Vec<Read<TargetRaw>>,
        d: &Template,
    ) -> Vec<TargetPlan> {
        let mut targets: Vec<TargetPlan> = Vec::new();
        for (i, t) in raw.into_iter().enumerate() {
            let path = [key("targets"), Seg::Index(i)];
            let name = match t {
                Ok(t) => {
                    let target = self.target(&path, t, d);
                    let name = target.name.clone();
                    targets.push(target);
                    self.places.push(i);
                    name
                }
                Err(untyped) => {
                    let name = untyped.name.unwrap_or_default();
                    self.unjudged.push(name.clone());
                    name
                }
            };
            let all = targets.iter().map(|t| &t.name).chain(&self.unjudged);
            // A missing name is reported as such, not as a name used twice.
            if !name.is_empty() && all.filter(|n| **n == name).count() > 1 {
                self.err(
                    &join(&path, "name"),
                    format!("target name `{name}` is used twice"),
                );
            }
        }
        for (i, t) in targets.iter().enumerate() {
            let Some(model) = &t.model else { continue };
            let known =
                targets.iter().any(|other| &other.name == model) || self.unjudged.contains(model);
            if model == &t.name || !known {
                self.err(
                    &join(&self.target_at(i), "model"),
                    format!("`{model}` is not another target of this suite"),
                );
            }
        }
        targets
    }

    /// The path of the plan's `i`th target in the file.
    pub(in super::super) fn target_at(&self, i: usize) -> Vec<Seg> {
        vec![key("targets"), Seg::Index(self.places[i])]
    }

    fn target(&mut self, path: &[Seg], t: TargetRaw, d: &Template) -> TargetPlan {
        match t {
            TargetRaw::RoundRobin(t) => self.balanced(path, Strategy::RoundRobin, t, d),
            TargetRaw::Sticky(t) => self.balanced(path, Strategy::Sticky, t, d),
            TargetRaw::Direct(t) => self.direct(path, t, d),
            TargetRaw::Delta(t) => self.delta(path, t, d),
            TargetRaw::Backup(t) => self.backup(path, t, d),
            TargetRaw::Redis(t) => self.redis_target(path, t, d),
            TargetRaw::Tomcat(t) => self.tomcat(path, t, d),
            TargetRaw::External(t) => self.external_target(path, *t, d),
        }
    }

    /// The plan of a target with the keys every target has; the rest left empty for its
    /// strategy's validator to fill.
    pub(super) fn plan_of(
        &mut self,
        path: &[Seg],
        strategy: Strategy,
        common: CommonKeys,
        d: &Template,
    ) -> TargetPlan {
        let name = common.name.unwrap_or_default();
        if !sessionbench_common::names::is_node_id(&name) {
            self.err(
                &join(path, "name"),
                format!("`{name}` is not a target name: 1 to 64 of A-Z a-z 0-9 `-` `_`"),
            );
        }
        let cookie = common
            .cookie
            .or_else(|| (strategy == Strategy::Tomcat).then(|| "JSESSIONID".to_string()))
            .or_else(|| d.cookie.clone())
            .unwrap_or_default();
        // The nodes the harness runs set this cookie; an external stack names its own.
        let ours = strategy != Strategy::External;
        if ours
            && (cookie.is_empty()
                || !cookie
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            self.err(
                &join(path, "cookie"),
                format!("`{cookie}` is not a cookie name (A-Z a-z 0-9 `-` `_`)"),
            );
        }
        let expect = self.expect(
            &join(path, "expect"),
            common.expect.unwrap_or_default(),
            d.expect.clone().unwrap_or_default(),
        );
        let thresholds = self.thresholds(&join(path, "thresholds"), common.thresholds);
        TargetPlan {
            name,
            strategy,
            nodes: 0,
            lb_policy: None,
            lb: LbKind::Reference,
            cookie,
            route_suffix: false,
            replication: None,
            model: None,
            manager: None,
            jvm_route_binder: false,
            redis: None,
            cluster_encrypt: false,
            redis_flush: None,
            redis_access_renews_ttl: true,
            replication_delay: Duration::ZERO,
            max_inactive: Duration::ZERO,
            proxied_links: false,
            padding_bytes: 0,
            codec: None,
            save: None,
            expect,
            thresholds,
            external: None,
            network: Network::Loopback,
            redis_min_replicas: 0,
        }
    }

    /// A target whose nodes the harness runs: its nodes, their session timeout and padding,
    /// and the target it models.
    pub(super) fn lab_target(
        &mut self,
        path: &[Seg],
        strategy: Strategy,
        (common, lab): (CommonKeys, LabKeys),
        d: &Template,
    ) -> TargetPlan {
        let mut plan = self.plan_of(path, strategy, common, d);
        let nodes = lab.nodes.or(d.nodes).unwrap_or(0);
        if !(1..=64).contains(&nodes) {
            self.err(
                &join(path, "nodes"),
                format!("{nodes} nodes: a target has 1 to 64"),
            );
        }
        let max_inactive = self.duration(
            &join(path, "max-inactive"),
            lab.max_inactive,
            d.max_inactive.clone(),
        );
        let padding_bytes = lab.padding_bytes.or(d.padding_bytes).unwrap_or(0);
        if padding_bytes > 16 * 1024 * 1024 {
            self.err(&join(path, "padding-bytes"), "at most 16 MiB");
        }
        plan.nodes = nodes;
        plan.max_inactive =
            self.positive(&join(path, "max-inactive"), max_inactive, "max-inactive");
        plan.padding_bytes = padding_bytes;
        plan.model = lab.model;
        plan
    }

    /// The load balancer in front of `plan`'s nodes and its policy: `sticky` needs a sticky
    /// policy; `default_policy` is the policy when none is given.
    pub(super) fn balance(
        &mut self,
        path: &[Seg],
        plan: &mut TargetPlan,
        (lb, policy): (Option<String>, Option<String>),
        default_policy: Option<String>,
        sticky: bool,
    ) {
        plan.lb = self.lb_kind(path, lb);
        let policy = policy.or(default_policy).unwrap_or_default();
        self.policy(&join(path, "lb-policy"), &policy, plan.lb, sticky);
        plan.route_suffix = policy == "cookie-route";
        plan.lb_policy = Some(policy);
    }

    /// The load balancer in front of nodes that share their sessions (any node serves any):
    /// round robin unless the suite names a policy.
    pub(super) fn shared_balance(
        &mut self,
        path: &[Seg],
        plan: &mut TargetPlan,
        lb: (Option<String>, Option<String>),
    ) {
        self.balance(path, plan, lb, Some("round-robin".into()), false);
    }

    /// `save`: how reference nodes save a changed session, one of `allowed`.
    pub(super) fn save(
        &mut self,
        path: &[Seg],
        given: Option<String>,
        allowed: &[&str],
    ) -> Option<String> {
        let save = given?;
        self.one_of(&join(path, "save"), &save, allowed);
        Some(save)
    }

    /// `codec = "format[+compression]"` of a target that serializes sessions (default `json`).
    pub(super) fn codec(&mut self, path: &[Seg], codec: Option<String>) -> Option<String> {
        let codec = codec.unwrap_or_else(|| "json".into());
        if let Err(e) = codec.parse::<sessionbench_targets::codec::FormatCodec>() {
            self.err(&join(path, "codec"), e);
        }
        Some(codec)
    }

    /// `replication` (`async` by default, or `sync`) and, for `async`, `replication-delay`.
    pub(super) fn replication(
        &mut self,
        path: &[Seg],
        plan: &mut TargetPlan,
        given: Option<String>,
        delay: Option<String>,
    ) {
        let replication = given.unwrap_or_else(|| "async".into());
        self.one_of(&join(path, "replication"), &replication, &["async", "sync"]);
        let at = join(path, "replication-delay");
        plan.replication_delay = match delay {
            None => Duration::ZERO,
            Some(_) if replication != "async" => {
                self.err(&at, ONLY_ASYNC_DELAYS);
                Duration::ZERO
            }
            text => self.duration(&at, text, None).unwrap_or_default(),
        };
        plan.replication = Some(replication);
    }
}
