//! `ready-url` and `ready-status`: the probe that says a started stack or a healed fault
//! serves again.

use super::{Validator, join};
use crate::suite::locate::Seg;
use sessionbench_model::plan::{Probe, TargetUrl};

impl Validator<'_> {
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
}
