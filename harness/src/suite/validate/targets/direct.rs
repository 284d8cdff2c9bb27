//! `direct`: one reference node and no load balancer, the baseline every other strategy's
//! cost is measured against.

use super::super::{Validator, join};
use super::balanced::LOCAL_SAVES;
use super::target::Template;
use crate::suite::locate::Seg;
use crate::suite::raw::DirectRaw;
use sessionbench_model::plan::{Strategy, TargetPlan};

impl Validator<'_> {
    pub(super) fn direct(&mut self, path: &[Seg], mut t: DirectRaw, d: &Template) -> TargetPlan {
        let lab = t.lab();
        if lab.nodes.is_some_and(|n| n != 1) {
            self.err(
                &join(path, "nodes"),
                "a \"direct\" target has exactly one node (there is no load balancer)",
            );
        }
        let mut plan = self.lab_target(path, Strategy::Direct, (t.common(), lab), d);
        plan.nodes = 1;
        plan.save = self.save(path, t.save, &LOCAL_SAVES);
        plan
    }
}
