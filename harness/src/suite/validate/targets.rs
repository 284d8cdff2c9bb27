//! Targets: strategy, nodes, load balancer, store, codec, and what each must survive.

use std::time::Duration;

use super::external::certificates;
use super::{Check, join};
use crate::plan::{PasswordSource, RedisPlan, Strategy, TargetPlan};
use crate::suite::locate::Seg;
use crate::suite::raw::TargetRaw;

impl Check<'_> {
    pub(super) fn target(&mut self, path: &[Seg], t: TargetRaw, d: &TargetRaw) -> TargetPlan {
        if t.strategy.as_deref() == Some("external") {
            return self.external_target(path, t, d);
        }
        let given = [
            ("url", t.url.is_some()),
            ("insecure-skip-verify", t.insecure_skip_verify.is_some()),
            ("client-cert", t.client_cert.is_some()),
            ("client-key", t.client_key.is_some()),
            ("http", t.http.is_some()),
            ("client-address", t.client_address.is_some()),
            ("start", t.start.is_some()),
            ("stop", t.stop.is_some()),
            ("ready-url", t.ready_url.is_some()),
            ("ready-status", t.ready_status.is_some()),
            ("timeout", t.timeout.is_some()),
            ("requests", t.requests.is_some()),
            ("logged-out", t.logged_out.is_some()),
            ("served-by", t.served_by.is_some()),
        ];
        self.refuse(
            path,
            &given,
            "only an \"external\" target is reached by URL, started by commands and described by requests",
        );
        let name = self.target_name(path, t.name);
        let strategy_name = t.strategy.unwrap_or_default();
        // "external" targets were taken above; here it is only a name in the list.
        let strategy = self
            .one_of(&join(path, "strategy"), &strategy_name, &Strategy::names())
            .and_then(Strategy::from_name)
            .filter(|s| *s != Strategy::External)
            .unwrap_or(Strategy::RoundRobin);
        let nodes = t.nodes.or(d.nodes).unwrap_or(0);
        if !(1..=64).contains(&nodes) {
            self.err(
                &join(path, "nodes"),
                format!("{nodes} nodes: a target has 1 to 64"),
            );
        }
        if strategy == Strategy::Direct && nodes != 1 && t.nodes.is_some() {
            self.err(
                &join(path, "nodes"),
                "a \"direct\" target has exactly one node (there is no load balancer)",
            );
        }
        let nodes = if strategy == Strategy::Direct {
            1
        } else {
            nodes
        };
        let lb = self.lb_kind(path, strategy, t.lb.or_else(|| d.lb.clone()));
        let lb_policy = match strategy {
            Strategy::Direct | Strategy::External => {
                if t.lb_policy.is_some() {
                    self.err(
                        &join(path, "lb-policy"),
                        "a \"direct\" target has no load balancer",
                    );
                }
                None
            }
            Strategy::RoundRobin => {
                if let Some(p) = t.lb_policy.as_deref().filter(|p| *p != "round-robin") {
                    self.err(
                        &join(path, "lb-policy"),
                        format!("`{p}` contradicts strategy \"round-robin\""),
                    );
                }
                Some("round-robin".to_string())
            }
            Strategy::Sticky => {
                let p = t
                    .lb_policy
                    .or_else(|| d.lb_policy.clone())
                    .unwrap_or_default();
                self.policy(&join(path, "lb-policy"), &p, lb, true);
                Some(p)
            }
            Strategy::Delta | Strategy::Backup | Strategy::Redis | Strategy::Tomcat => {
                // Shared or replicated sessions let any node serve any session: round robin
                // by default.
                let p = t.lb_policy.unwrap_or_else(|| "round-robin".into());
                self.policy(&join(path, "lb-policy"), &p, lb, false);
                Some(p)
            }
        };
        let manager = self.manager(path, strategy, t.manager);
        let jvm_route_binder = t.jvm_route_binder.unwrap_or(false);
        if jvm_route_binder {
            if !matches!(manager.as_deref(), Some("delta" | "backup")) {
                self.err(
                    &join(path, "jvm-route-binder"),
                    "JvmRouteBinderValve is part of a Tomcat cluster: it needs manager = \"delta\" or \"backup\"",
                );
            } else if lb_policy.as_deref() != Some("cookie-route") {
                self.err(
                    &join(path, "jvm-route-binder"),
                    "JvmRouteBinderValve moves a session's route (its jvmRoute suffix): it needs lb-policy = \"cookie-route\"",
                );
            }
        }
        let replication = match (strategy, t.replication) {
            // Tomcat's DeltaManager replicates as the reference delta does.
            (Strategy::Delta | Strategy::Tomcat, r)
                if strategy == Strategy::Delta || manager.as_deref() == Some("delta") =>
            {
                let r = r.unwrap_or_else(|| "async".into());
                self.one_of(&join(path, "replication"), &r, &["async", "sync"]);
                Some(r)
            }
            (Strategy::Tomcat, Some(_)) => {
                self.err(
                    &join(path, "replication"),
                    "only a Tomcat DeltaManager (manager = \"delta\") is asynchronous or synchronous here",
                );
                None
            }
            (Strategy::Backup, Some(_)) => {
                self.err(
                    &join(path, "replication"),
                    "a \"backup\" target always writes to the backup before answering; `replication` is for \"delta\"",
                );
                None
            }
            (_, Some(_)) => {
                self.err(
                    &join(path, "replication"),
                    "only a \"delta\" target replicates",
                );
                None
            }
            (_, None) => None,
        };
        let replication_delay = match t.replication_delay {
            None => Duration::ZERO,
            Some(_) if replication.as_deref() != Some("async") => {
                self.err(
                    &join(path, "replication-delay"),
                    "only a \"delta\" target with replication = \"async\" delays its changes",
                );
                Duration::ZERO
            }
            text => self
                .duration(&join(path, "replication-delay"), text, None)
                .unwrap_or_default(),
        };
        let redis = self.redis(path, strategy, t.redis, t.redis_appendonly);
        let redis = self.redis_url_rules(path, redis, t.remote, t.ca_file);
        let redis = self.redis_password(path, redis, t.redis_password_file, t.redis_password_env);
        let redis_min_replicas = t.redis_min_replicas.unwrap_or(0);
        let replicated = matches!(
            redis,
            Some(RedisPlan::Sentinel { .. } | RedisPlan::Cluster { .. })
        );
        if redis_min_replicas > 0 && !replicated {
            self.err(
                &join(path, "redis-min-replicas"),
                "only a Redis the harness runs with replicas (redis = \"sentinel\" or \"cluster\") has replicas to wait for",
            );
        }
        let cluster_encrypt = t.cluster_encrypt.unwrap_or(false);
        if t.cluster_encrypt.is_some() && strategy.clustered_store().is_none() {
            self.err(
                &join(path, "cluster-encrypt"),
                "only a \"delta\" or \"backup\" target replicates between nodes",
            );
        }
        let redis_flush = match t.redis_flush {
            Some(_) if strategy != Strategy::Redis => {
                self.err(
                    &join(path, "redis-flush"),
                    "only a \"redis\" target has a Redis",
                );
                None
            }
            Some(flush) => {
                self.one_of(
                    &join(path, "redis-flush"),
                    &flush,
                    &["on-save", "immediate"],
                );
                Some(flush)
            }
            None => None,
        };
        if t.redis_access_renews_ttl.is_some() && strategy != Strategy::Redis {
            self.err(
                &join(path, "redis-access-renews-ttl"),
                "only a \"redis\" target has a Redis",
            );
        }
        let cookie = t
            .cookie
            .or_else(|| (strategy == Strategy::Tomcat).then(|| "JSESSIONID".to_string()))
            .or_else(|| d.cookie.clone())
            .unwrap_or_default();
        if cookie.is_empty()
            || !cookie
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.err(
                &join(path, "cookie"),
                format!("`{cookie}` is not a cookie name (A-Z a-z 0-9 `-` `_`)"),
            );
        }
        let max_inactive = self.duration(
            &join(path, "max-inactive"),
            t.max_inactive,
            d.max_inactive.clone(),
        );
        let max_inactive = self.positive(&join(path, "max-inactive"), max_inactive, "max-inactive");
        let padding_bytes = t.padding_bytes.or(d.padding_bytes).unwrap_or(0);
        if padding_bytes > 16 * 1024 * 1024 {
            self.err(&join(path, "padding-bytes"), "at most 16 MiB");
        }
        let codec = self.codec(path, strategy, t.codec);
        let save = self.save(path, strategy, t.save);
        let expect = self.expect(
            &join(path, "expect"),
            t.expect.unwrap_or_default(),
            d.expect.clone().unwrap_or_default(),
        );
        let thresholds = self.thresholds(&join(path, "thresholds"), t.thresholds);
        TargetPlan {
            route_suffix: lb_policy.as_deref() == Some("cookie-route"),
            replication,
            replication_delay,
            redis,
            redis_flush,
            redis_access_renews_ttl: t.redis_access_renews_ttl.unwrap_or(true),
            cluster_encrypt,
            manager,
            jvm_route_binder,
            model: t.model,
            name,
            strategy,
            nodes,
            lb_policy,
            lb,
            cookie,
            max_inactive,
            proxied_links: false,
            padding_bytes,
            codec,
            save,
            expect,
            thresholds,
            external: None,
            network: crate::plan::Network::Loopback,
            redis_min_replicas,
        }
    }

    pub(super) fn target_name(&mut self, path: &[Seg], name: Option<String>) -> String {
        let name = name.unwrap_or_default();
        if !sessionbench_targets::names::is_node_id(&name) {
            self.err(
                &join(path, "name"),
                format!("`{name}` is not a target name: 1 to 64 of A-Z a-z 0-9 `-` `_`"),
            );
        }
        name
    }

    /// `save`: how nodes save a changed session. `whole` and `whole-locked` are a store's
    /// ways (Redis, or a node's own memory); replication sends changes.
    fn save(&mut self, path: &[Seg], strategy: Strategy, given: Option<String>) -> Option<String> {
        let save = given?;
        let at = join(path, "save");
        match strategy {
            Strategy::RoundRobin | Strategy::Sticky | Strategy::Direct | Strategy::Redis => {
                self.one_of(&at, &save, &["delta", "whole", "whole-locked"]);
            }
            Strategy::Delta | Strategy::Backup => {
                self.one_of(&at, &save, &["delta"]);
            }
            _ => self.err(
                &at,
                "`save` is the reference nodes' (a Tomcat or an external application saves as it does)",
            ),
        }
        Some(save)
    }

    /// `manager` of a `tomcat` target: `delta` (the default), `backup` or `standard`.
    fn manager(
        &mut self,
        path: &[Seg],
        strategy: Strategy,
        given: Option<String>,
    ) -> Option<String> {
        if strategy != Strategy::Tomcat {
            if given.is_some() {
                self.err(
                    &join(path, "manager"),
                    "only a \"tomcat\" target has a Tomcat session manager",
                );
            }
            return None;
        }
        let manager = given.unwrap_or_else(|| "delta".into());
        self.one_of(
            &join(path, "manager"),
            &manager,
            &["delta", "backup", "standard"],
        );
        Some(manager)
    }

    /// `codec = "format[+compression]"` for the strategies that serialize sessions (default
    /// `json`); local-memory strategies keep objects and take none.
    pub(super) fn codec(
        &mut self,
        path: &[Seg],
        strategy: Strategy,
        codec: Option<String>,
    ) -> Option<String> {
        if strategy.clustered_store().is_none() && strategy != Strategy::Redis {
            if codec.is_some() {
                let what = if strategy == Strategy::Tomcat {
                    "replicates sessions with Java serialization"
                } else {
                    "keeps sessions in memory and serializes nothing"
                };
                self.err(
                    &join(path, "codec"),
                    format!(
                        "a \"{}\" target {what}; `codec` is for delta, backup and redis",
                        strategy.name()
                    ),
                );
            }
            return None;
        }
        let codec = codec.unwrap_or_else(|| "json".into());
        if let Err(e) = codec.parse::<sessionbench_targets::codec::FormatCodec>() {
            self.err(&join(path, "codec"), e);
        }
        Some(codec)
    }

    /// `redis = "standalone"` (the default: the harness starts one redis-server),
    /// `"sentinel"` (a primary, a replica, three sentinels), `"cluster"` (three masters, three
    /// replicas) or a `redis://` URL of a Redis the harness does not own.
    pub(super) fn redis(
        &mut self,
        path: &[Seg],
        strategy: Strategy,
        mode: Option<String>,
        appendonly: Option<bool>,
    ) -> Option<RedisPlan> {
        if strategy != Strategy::Redis {
            for (key, given) in [
                ("redis", mode.is_some()),
                ("redis-appendonly", appendonly.is_some()),
            ] {
                if given {
                    self.err(&join(path, key), "only a \"redis\" target has a Redis");
                }
            }
            return None;
        }
        let mode = mode.unwrap_or_else(|| "standalone".into());
        if mode.starts_with("redis://") || mode.starts_with("rediss://") {
            if appendonly.is_some() {
                self.err(
                    &join(path, "redis-appendonly"),
                    "the harness does not run a Redis given by URL: configure persistence there",
                );
            }
            return Some(RedisPlan::External {
                url: mode,
                ca_file: None,
                password: None,
            });
        }
        let appendonly = appendonly.unwrap_or(false);
        match mode.as_str() {
            "sentinel" => Some(RedisPlan::Sentinel { appendonly }),
            "cluster" => Some(RedisPlan::Cluster { appendonly }),
            "standalone" => Some(RedisPlan::Standalone { appendonly }),
            _ => {
                self.err(
                    &join(path, "redis"),
                    format!(
                        "`{mode}` is not \"standalone\", \"sentinel\", \"cluster\" or a redis:// (or rediss://) URL"
                    ),
                );
                Some(RedisPlan::Standalone { appendonly })
            }
        }
    }

    /// A Redis given by URL: on loopback unless `remote = true` (or `--allow-remote`), and for
    /// `rediss://` the CA in `ca-file` if not the system's. Every other target refuses both.
    fn redis_url_rules(
        &mut self,
        path: &[Seg],
        redis: Option<RedisPlan>,
        remote: Option<bool>,
        ca_file: Option<String>,
    ) -> Option<RedisPlan> {
        let Some(RedisPlan::External { url, password, .. }) = redis else {
            self.refuse(
                path,
                &[("remote", remote.is_some()), ("ca-file", ca_file.is_some())],
                "only an \"external\" target, or a \"redis\" target with a Redis URL, is reached over the network",
            );
            return redis;
        };
        if let Err(e) = redis_host(&url, remote == Some(true) || self.allow_remote) {
            self.err(&join(path, "redis"), e);
        }
        if sessionbench_targets::secret::url_has_password(&url) {
            self.err(
                &join(path, "redis"),
                "the URL holds a password: give it in `redis-password-file` or `redis-password-env` instead (a suite is copied into every run directory and shown in its report, and a URL travels on command lines)",
            );
        }
        let ca_file = match ca_file {
            Some(_) if !url.starts_with("rediss://") => {
                self.err(
                    &join(path, "ca-file"),
                    "only for a rediss:// (TLS) Redis URL",
                );
                None
            }
            file => self.suite_file(&join(path, "ca-file"), file.as_deref(), certificates),
        };
        Some(RedisPlan::External {
            url,
            ca_file,
            password,
        })
    }

    /// The password of a Redis given by URL: where it is read at the start of the run, which
    /// is checked now. Only one place, and only for such a Redis.
    fn redis_password(
        &mut self,
        path: &[Seg],
        redis: Option<RedisPlan>,
        file: Option<String>,
        env: Option<String>,
    ) -> Option<RedisPlan> {
        let Some(RedisPlan::External {
            url,
            ca_file,
            password: None,
        }) = redis
        else {
            self.refuse(
                path,
                &[
                    ("redis-password-file", file.is_some()),
                    ("redis-password-env", env.is_some()),
                ],
                "only a \"redis\" target with a Redis URL signs in with a password",
            );
            return redis;
        };
        let password = match (file, env) {
            (Some(_), Some(_)) => {
                self.err(
                    &join(path, "redis-password-env"),
                    "give the password in one place: `redis-password-file` or `redis-password-env`",
                );
                None
            }
            (Some(file), None) => self
                .suite_file(&join(path, "redis-password-file"), Some(&file), |f| {
                    PasswordSource::File(f.to_path_buf()).read().map(drop)
                })
                .map(PasswordSource::File),
            (None, Some(name)) => {
                let source = PasswordSource::Env(name);
                match source.read() {
                    Ok(_) => Some(source),
                    Err(e) => {
                        self.err(&join(path, "redis-password-env"), e);
                        None
                    }
                }
            }
            (None, None) => None,
        };
        Some(RedisPlan::External {
            url,
            ca_file,
            password,
        })
    }
}

/// The host of a `redis://` or `rediss://` URL must be on loopback unless `remote`; a name
/// is not looked up to find out (the query would leave the machine). The password, if the
/// URL has one, is not repeated in the error.
fn redis_host(url: &str, remote: bool) -> Result<(), String> {
    let host = sessionbench_targets::names::url_host(url);
    if remote || sessionbench_targets::names::loopback_host(host) {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not on loopback; a Redis on another host needs `remote = true` on the target (or `--allow-remote`)"
        ))
    }
}
