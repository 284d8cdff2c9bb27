//! `kind = "command"` faults: the shell commands, their timeout and the readiness probe.

use super::{Check, join};
use crate::plan::{CommandPlan, FaultKind, Probe, TargetUrl};
use crate::suite::locate::Seg;

/// The command keys of a fault, as written.
pub(super) struct CommandKeys {
    pub inject: Option<String>,
    pub heal: Option<String>,
    pub timeout: Option<String>,
    pub ready_url: Option<String>,
    pub ready_status: Option<u16>,
}

impl Check<'_> {
    /// `ready-url` (on loopback unless `remote`) and `ready-status` (default 200), if a URL is
    /// given.
    pub(super) fn probe(
        &mut self,
        path: &[Seg],
        url: Option<String>,
        status: Option<u16>,
        remote: bool,
    ) -> Option<Probe> {
        match (url, status) {
            (Some(url), status) => match TargetUrl::parse_with(&url, remote, !self.unresolved) {
                Ok(url) => Some(Probe {
                    url,
                    status: status.unwrap_or(200),
                }),
                Err(e) => {
                    self.err(&join(path, "ready-url"), e);
                    None
                }
            },
            (None, Some(_)) => {
                self.err(
                    &join(path, "ready-status"),
                    "there is no `ready-url` to probe",
                );
                None
            }
            (None, None) => None,
        }
    }

    /// Reports each key in `given` that is set: it does not apply here, for `why`.
    pub(super) fn refuse(&mut self, path: &[Seg], given: &[(&str, bool)], why: &str) {
        for (key, set) in given {
            if *set {
                self.err(&join(path, key), why);
            }
        }
    }

    /// The command plan of a `command` fault; for any other kind, an error per command key.
    pub(super) fn command(
        &mut self,
        path: &[Seg],
        kind: FaultKind,
        k: CommandKeys,
        heal_after: bool,
    ) -> Option<CommandPlan> {
        if kind != FaultKind::Command {
            let given = [
                ("inject", k.inject.is_some()),
                ("heal", k.heal.is_some()),
                ("timeout", k.timeout.is_some()),
                ("ready-url", k.ready_url.is_some()),
                ("ready-status", k.ready_status.is_some()),
            ];
            self.refuse(path, &given, "only a `command` fault runs commands");
            return None;
        }
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
        Some(CommandPlan {
            inject,
            heal: k.heal,
            timeout,
            ready,
        })
    }
}
