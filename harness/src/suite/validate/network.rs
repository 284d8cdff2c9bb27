//! `network = "loopback" | "netns"`: targets whose every process the harness runs in a
//! namespace (reference nodes and LB, Redis), and nothing else.

use super::{Validator, join};
use crate::suite::locate::Seg;
use sessionbench_model::plan::{LbKind, Network, RedisPlan, Strategy, TargetPlan};

impl Validator<'_> {
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
                    &join(&self.target_at(i), "name"),
                    format!(
                        "target `{}`: network = \"netns\" places the harness's own processes (reference nodes and LB, Redis) in namespaces; {why}",
                        t.name
                    ),
                );
            }
        }
        network
    }
}
