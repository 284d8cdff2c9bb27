//! `lb = "reference" | "nginx" | "haproxy" | "apache"` and the policies each one runs.

use super::{Validator, join};
use crate::suite::locate::Seg;
use sessionbench_model::plan::LbKind;

impl Validator<'_> {
    pub(super) fn lb_kind(&mut self, path: &[Seg], given: Option<String>) -> LbKind {
        let at = join(path, "lb");
        let Some(name) = given else {
            return LbKind::Reference;
        };
        match self.one_of(&at, &name, &["reference", "nginx", "haproxy", "apache"]) {
            Some("nginx") => LbKind::Nginx,
            Some("haproxy") => LbKind::Haproxy,
            Some("apache") => LbKind::Apache,
            _ => LbKind::Reference,
        }
    }

    /// `policy` must be one that `lb` runs for this kind of target.
    pub(super) fn policy(&mut self, path: &[Seg], policy: &str, lb: LbKind, sticky: bool) {
        let allowed = lb.policies(sticky);
        if allowed.contains(&policy) {
            return;
        }
        let message = match (lb, policy) {
            (LbKind::Nginx, "sticky") => "nginx's `sticky` directive is open source only from \
                nginx 1.29.6 (commercial before), and sessionbench does not configure it yet: \
                use `ip-hash` or `cookie-hash` (hash $cookie_<name> consistent)"
                .to_string(),
            (LbKind::Reference, "cookie-hash") => {
                "`cookie-hash` is nginx's policy (lb = \"nginx\"); the reference LB routes by \
                 cookie with `cookie-route` or `cookie-insert`"
                    .to_string()
            }
            (LbKind::Reference, _) => {
                format!("`{policy}` is not one of: {}", allowed.join(", "))
            }
            _ => format!(
                "`{policy}` is not a policy of the {} load balancer here: one of {}",
                lb.name(),
                allowed.join(", ")
            ),
        };
        self.err(path, message);
    }
}
