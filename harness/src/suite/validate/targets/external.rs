//! `strategy = "external"`: a stack the harness did not build, reached by URL (on loopback
//! unless the suite says `remote = true`), over HTTP or HTTPS, and started and stopped by the
//! suite's own commands. It speaks sessionbench's node protocol, or the API its `requests`
//! describe; its faults are `command` faults.

use std::path::{Path, PathBuf};

use super::super::api::ApiRaw;
use super::super::{Validator, join};
use super::target::Template;
use crate::suite::locate::Seg;
use crate::suite::raw::ExternalRaw;
use sessionbench_model::plan::{
    ClientAddress, ExternalPlan, Strategy, TargetPlan, TargetUrl, TlsPlan,
};

impl Validator<'_> {
    pub(super) fn external_target(
        &mut self,
        path: &[Seg],
        mut t: ExternalRaw,
        d: &Template,
    ) -> TargetPlan {
        // The session cookie a login must set, as the target gives it (not the default), and
        // what the API must show for the checks the target expects.
        let cookie = t.cookie.clone();
        let expect = t.expect.clone().unwrap_or_default();
        let mut plan = self.plan_of(path, Strategy::External, t.common(), d);
        let remote = t.remote == Some(true) || self.allow_remote;
        let url = match t.url.as_deref() {
            None => {
                self.err(
                    path,
                    "an \"external\" target needs `url` (where it serves, e.g. \"http://127.0.0.1:8080\")",
                );
                None
            }
            Some(url) => TargetUrl::parse_with(url, remote, !self.unresolved)
                .map_err(|e| self.err(&join(path, "url"), e))
                .ok(),
        };
        let base_path = url.as_ref().map_or_else(|| "/".into(), |u| u.path.clone());
        let https = t.url.as_deref().is_some_and(|u| u.starts_with("https://"));
        let tls = self.tls(path, &t, https);
        if let Some(http) = &t.http {
            let why = match http.as_str() {
                "1.1" => None,
                "2" => Some(
                    "HTTP/2 is not spoken yet: the driver speaks HTTP/1.1, over TLS too (ALPN offers http/1.1); leave `http` out",
                ),
                _ => Some("the driver speaks HTTP/1.1 (`http = \"1.1\"`)"),
            };
            if let Some(why) = why {
                self.err(&join(path, "http"), why);
            }
        }
        let client_address = match t.client_address.as_deref() {
            None => ClientAddress::Source,
            Some(name) => self
                .one_of(&join(path, "client-address"), name, &ClientAddress::NAMES)
                .and_then(ClientAddress::from_name)
                .unwrap_or_default(),
        };
        let timeout = self.duration(
            &join(path, "timeout"),
            t.timeout.or(Some("30s".into())),
            None,
        );
        let timeout = self.positive(&join(path, "timeout"), timeout, "the timeout");
        let ready = self.probe(path, t.ready_url, t.ready_status, remote);
        for (key, command) in [("start", &t.start), ("stop", &t.stop)] {
            if command.as_ref().is_some_and(|c| c.trim().is_empty()) {
                self.err(&join(path, key), "an empty command");
            }
        }
        // Checked whether or not the URL is, so every mistake is reported at once.
        let api = self.api(
            path,
            ApiRaw {
                requests: t.requests,
                logged_out: t.logged_out,
                served_by: t.served_by,
                cookie,
                base_path,
            },
            &expect,
        );
        plan.external = url.map(|url| ExternalPlan {
            url,
            remote,
            tls,
            client_address,
            start: t.start,
            stop: t.stop,
            ready,
            timeout,
            api,
        });
        plan
    }

    /// `ca-file`, `insecure-skip-verify`, `client-cert` and `client-key`: for `https://`
    /// only; files are read now, so a wrong path is an error at its line.
    fn tls(&mut self, path: &[Seg], t: &ExternalRaw, https: bool) -> Option<TlsPlan> {
        let given = [
            ("ca-file", t.ca_file.is_some()),
            ("insecure-skip-verify", t.insecure_skip_verify.is_some()),
            ("client-cert", t.client_cert.is_some()),
            ("client-key", t.client_key.is_some()),
        ];
        if !https {
            self.refuse(path, &given, "only for an https:// `url`");
            return None;
        }
        let insecure = t.insecure_skip_verify == Some(true);
        if insecure && t.ca_file.is_some() {
            self.err(
                &join(path, "insecure-skip-verify"),
                "give `ca-file` (the certificate is checked against it) or `insecure-skip-verify` (it is not checked), not both",
            );
        }
        let key = |p: &Path| {
            std::fs::metadata(p)
                .map(drop)
                .map_err(|e| format!("{}: {e}", p.display()))
        };
        let ca_file = self.suite_file(&join(path, "ca-file"), t.ca_file.as_deref(), certificates);
        let client_cert = self.suite_file(
            &join(path, "client-cert"),
            t.client_cert.as_deref(),
            certificates,
        );
        let client_key = self.suite_file(&join(path, "client-key"), t.client_key.as_deref(), key);
        if t.client_cert.is_some() != t.client_key.is_some() {
            let missing = if t.client_cert.is_some() {
                "client-key"
            } else {
                "client-cert"
            };
            self.err(
                path,
                format!("a client certificate needs both `client-cert` and `client-key`: add `{missing}`"),
            );
        }
        Some(TlsPlan {
            ca_file,
            insecure_skip_verify: insecure,
            client_cert,
            client_key,
        })
    }

    /// A file the suite names at `at`, relative to the suite file, read now by `read` so a
    /// wrong path or content is an error at its line.
    pub(super) fn suite_file(
        &mut self,
        at: &[Seg],
        value: Option<&str>,
        read: fn(&Path) -> Result<(), String>,
    ) -> Option<PathBuf> {
        let full = self.suite_dir.join(value?);
        read(&full).map_err(|e| self.err(at, e)).ok()?;
        Some(full)
    }
}

/// PEM certificates, one at least (`ca-file`, `client-cert`).
pub(super) fn certificates(path: &Path) -> Result<(), String> {
    crate::pem::certificates(path).map(drop)
}
