//! `round-robin` and `sticky`: reference nodes that keep sessions in their own memory, behind
//! a load balancer that spreads requests (the negative control) or keeps each session on one.

use super::super::{Validator, join};
use super::target::Template;
use crate::suite::locate::Seg;
use crate::suite::raw::BalancedRaw;
use sessionbench_model::plan::{Strategy, TargetPlan};

/// How a node with sessions in its own memory saves a changed one.
pub(super) const LOCAL_SAVES: [&str; 3] = ["delta", "whole", "whole-locked"];

impl Validator<'_> {
    pub(super) fn balanced(
        &mut self,
        path: &[Seg],
        strategy: Strategy,
        mut t: BalancedRaw,
        d: &Template,
    ) -> TargetPlan {
        let mut plan = self.lab_target(path, strategy, (t.common(), t.lab()), d);
        if strategy == Strategy::Sticky {
            let keys = (t.lb, t.lb_policy);
            self.balance(path, &mut plan, keys, d.lb_policy.clone(), true);
        } else {
            plan.lb = self.lb_kind(path, t.lb);
            if let Some(p) = t.lb_policy.filter(|p| p != "round-robin") {
                self.err(
                    &join(path, "lb-policy"),
                    format!("`{p}` contradicts strategy \"round-robin\""),
                );
            }
            plan.lb_policy = Some("round-robin".into());
        }
        plan.save = self.save(path, t.save, &LOCAL_SAVES);
        plan
    }
}
