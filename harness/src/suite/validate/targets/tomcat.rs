//! `tomcat`: real Tomcats behind a load balancer, with a session manager of their own:
//! `delta` (the default), `backup`, or `standard` (no cluster).

use super::super::{Validator, join};
use super::target::{ONLY_ASYNC_DELAYS, Template};
use crate::suite::locate::Seg;
use crate::suite::raw::TomcatRaw;
use sessionbench_model::plan::{Strategy, TargetPlan};

impl Validator<'_> {
    pub(super) fn tomcat(&mut self, path: &[Seg], mut t: TomcatRaw, d: &Template) -> TargetPlan {
        let mut plan = self.lab_target(path, Strategy::Tomcat, (t.common(), t.lab()), d);
        self.shared_balance(path, &mut plan, (t.lb, t.lb_policy));
        let manager = t.manager.unwrap_or_else(|| "delta".into());
        self.one_of(
            &join(path, "manager"),
            &manager,
            &["delta", "backup", "standard"],
        );
        // A DeltaManager replicates as the reference delta does.
        if manager == "delta" {
            self.replication(path, &mut plan, t.replication, t.replication_delay);
        } else {
            if t.replication.is_some() {
                self.err(
                    &join(path, "replication"),
                    "only a Tomcat DeltaManager (manager = \"delta\") is asynchronous or synchronous here",
                );
            }
            if t.replication_delay.is_some() {
                self.err(&join(path, "replication-delay"), ONLY_ASYNC_DELAYS);
            }
        }
        let binder = t.jvm_route_binder.unwrap_or(false);
        if binder && !matches!(manager.as_str(), "delta" | "backup") {
            self.err(
                &join(path, "jvm-route-binder"),
                "JvmRouteBinderValve is part of a Tomcat cluster: it needs manager = \"delta\" or \"backup\"",
            );
        } else if binder && !plan.route_suffix {
            self.err(
                &join(path, "jvm-route-binder"),
                "JvmRouteBinderValve moves a session's route (its jvmRoute suffix): it needs lb-policy = \"cookie-route\"",
            );
        }
        plan.jvm_route_binder = binder;
        plan.manager = Some(manager);
        plan
    }
}
