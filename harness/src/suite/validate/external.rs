//! `strategy = "external"`: a stack the harness did not build, reached by URL (on loopback)
//! and started and stopped by the suite's own commands. It speaks sessionbench's node
//! protocol, or the API its `requests` describe; its faults are `command` faults.

use std::time::Duration;

use super::api::ApiRaw;
use super::{Check, join};
use crate::plan::{ExternalPlan, LbKind, Strategy, TargetPlan};
use crate::suite::locate::Seg;
use crate::suite::raw::TargetRaw;

impl Check<'_> {
    pub(super) fn external_target(
        &mut self,
        path: &[Seg],
        t: TargetRaw,
        d: &TargetRaw,
    ) -> TargetPlan {
        let given = [
            ("nodes", t.nodes.is_some()),
            ("lb-policy", t.lb_policy.is_some()),
            ("lb", t.lb.is_some()),
            ("replication", t.replication.is_some()),
            ("replication-delay", t.replication_delay.is_some()),
            ("redis", t.redis.is_some()),
            ("redis-appendonly", t.redis_appendonly.is_some()),
            ("redis-flush", t.redis_flush.is_some()),
            (
                "redis-access-renews-ttl",
                t.redis_access_renews_ttl.is_some(),
            ),
            ("codec", t.codec.is_some()),
            ("padding-bytes", t.padding_bytes.is_some()),
            ("max-inactive", t.max_inactive.is_some()),
        ];
        self.refuse(
            path,
            &given,
            "an \"external\" target is configured by its own stack, not by the suite",
        );
        let name = self.target_name(path, t.name);
        let mut base_path = String::from("/");
        let url = match t.url {
            None => {
                self.err(
                    path,
                    "an \"external\" target needs `url` (where it serves, e.g. \"http://127.0.0.1:8080\")",
                );
                None
            }
            Some(url) => match crate::plan::loopback_url(&url) {
                Ok((addr, path)) => {
                    base_path = path;
                    Some(addr)
                }
                Err(e) => {
                    self.err(&join(path, "url"), e);
                    None
                }
            },
        };
        let timeout = self.duration(
            &join(path, "timeout"),
            t.timeout.or(Some("30s".into())),
            None,
        );
        let timeout = self.positive(&join(path, "timeout"), timeout, "the timeout");
        let ready = self.probe(path, t.ready_url, t.ready_status);
        for (key, command) in [("start", &t.start), ("stop", &t.stop)] {
            if command.as_ref().is_some_and(|c| c.trim().is_empty()) {
                self.err(&join(path, key), "an empty command");
            }
        }
        let expect_raw = t.expect.unwrap_or_default();
        let api = self.api(
            path,
            ApiRaw {
                requests: t.requests,
                logged_out: t.logged_out,
                served_by: t.served_by,
                cookie: t.cookie.clone(),
                base_path,
            },
            &expect_raw,
        );
        let expect = self.expect(
            &join(path, "expect"),
            expect_raw,
            d.expect.clone().unwrap_or_default(),
        );
        let thresholds = self.thresholds(&join(path, "thresholds"), t.thresholds);
        TargetPlan {
            name,
            strategy: Strategy::External,
            nodes: 0,
            lb_policy: None,
            lb: LbKind::Reference,
            cookie: t.cookie.or_else(|| d.cookie.clone()).unwrap_or_default(),
            route_suffix: false,
            replication: None,
            redis: None,
            redis_flush: None,
            redis_access_renews_ttl: true,
            replication_delay: Duration::ZERO,
            max_inactive: Duration::ZERO,
            proxied_links: false,
            padding_bytes: 0,
            codec: None,
            expect,
            thresholds,
            external: url.map(|url| ExternalPlan {
                url,
                start: t.start,
                stop: t.stop,
                ready,
                timeout,
                api,
            }),
        }
    }
}
