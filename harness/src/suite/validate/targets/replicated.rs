//! `delta` and `backup`: reference nodes that replicate sessions between them, every change
//! to every node (Tomcat's DeltaManager) or each session to one backup (BackupManager).

use super::super::Validator;
use super::target::Template;
use crate::suite::locate::Seg;
use crate::suite::raw::{BackupRaw, DeltaRaw};
use sessionbench_model::plan::{Strategy, TargetPlan};

impl Validator<'_> {
    pub(super) fn delta(&mut self, path: &[Seg], mut t: DeltaRaw, d: &Template) -> TargetPlan {
        let mut plan = self.lab_target(path, Strategy::Delta, (t.common(), t.lab()), d);
        self.replicated(path, &mut plan, (t.lb, t.lb_policy), t.codec, t.save);
        self.replication(path, &mut plan, t.replication, t.replication_delay);
        plan.cluster_encrypt = t.cluster_encrypt.unwrap_or(false);
        plan
    }

    pub(super) fn backup(&mut self, path: &[Seg], mut t: BackupRaw, d: &Template) -> TargetPlan {
        let mut plan = self.lab_target(path, Strategy::Backup, (t.common(), t.lab()), d);
        self.replicated(path, &mut plan, (t.lb, t.lb_policy), t.codec, t.save);
        plan.cluster_encrypt = t.cluster_encrypt.unwrap_or(false);
        plan
    }

    /// Any node serves any session (round robin by default); the codec replication sends; a
    /// save sends the change (`delta`, the only one).
    fn replicated(
        &mut self,
        path: &[Seg],
        plan: &mut TargetPlan,
        lb: (Option<String>, Option<String>),
        codec: Option<String>,
        save: Option<String>,
    ) {
        self.shared_balance(path, plan, lb);
        plan.codec = self.codec(path, codec);
        plan.save = self.save(path, save, &["delta"]);
    }
}
