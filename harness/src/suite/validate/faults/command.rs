//! `kind = "command"` faults: the shell commands, their timeout and the readiness probe.

use super::super::{Validator, join};
use crate::suite::locate::Seg;
use crate::suite::raw::CommandRaw;
use sessionbench_model::plan::CommandPlan;

impl Validator<'_> {
    /// The command plan of a `command` fault.
    pub(super) fn command(&mut self, path: &[Seg], k: CommandRaw, heal_after: bool) -> CommandPlan {
        let inject = k.inject.unwrap_or_default();
        if inject.trim().is_empty() {
            self.err(
                path,
                "a command fault needs `inject` (a shell command, e.g. \"docker kill web2\")",
            );
        }
        if let Some(heal) = k.heal.as_ref().filter(|h| h.trim().is_empty()) {
            self.err(&join(path, "heal"), format!("`{heal}` is an empty command"));
        }
        match (k.heal.is_some(), heal_after) {
            (true, false) => self.err(
                &join(path, "heal"),
                "a heal command needs `heal-after` (when to run it)",
            ),
            (false, true) => self.err(
                &join(path, "heal-after"),
                "there is no `heal` command to run then",
            ),
            _ => {}
        }
        let timeout = self.duration(
            &join(path, "timeout"),
            k.timeout.or(Some("30s".into())),
            None,
        );
        let timeout = self.positive(&join(path, "timeout"), timeout, "the timeout");
        let ready = self.probe(path, k.ready_url, k.ready_status, self.any_remote);
        CommandPlan {
            inject,
            heal: k.heal,
            timeout,
            ready,
        }
    }
}
