//! `redis`: reference nodes that keep sessions in a Redis (Spring Session's way): one the
//! harness starts (standalone, Sentinel or Cluster) or one given by URL.

use super::super::{Validator, join};
use super::external::certificates;
use super::target::Template;
use crate::suite::locate::Seg;
use crate::suite::raw::RedisRaw;
use sessionbench_model::plan::{AppendFsync, PasswordSource, RedisPlan, Strategy, TargetPlan};

impl Validator<'_> {
    pub(super) fn redis_target(
        &mut self,
        path: &[Seg],
        mut t: RedisRaw,
        d: &Template,
    ) -> TargetPlan {
        let mut plan = self.lab_target(path, Strategy::Redis, (t.common(), t.lab()), d);
        self.shared_balance(path, &mut plan, (t.lb, t.lb_policy));
        plan.codec = self.codec(path, t.codec);
        plan.save = self.save(path, t.save, &super::balanced::LOCAL_SAVES);
        let redis = self.redis(path, t.redis, (t.redis_appendonly, t.redis_appendfsync));
        let redis = self.redis_url_rules(path, redis, t.remote, t.ca_file);
        let redis = self.redis_password(path, redis, t.redis_password_file, t.redis_password_env);
        let min_replicas = t.redis_min_replicas.unwrap_or(0);
        if min_replicas > 0
            && !matches!(
                redis,
                Some(RedisPlan::Sentinel { .. } | RedisPlan::Cluster { .. })
            )
        {
            self.err(
                &join(path, "redis-min-replicas"),
                "only a Redis the harness runs with replicas (redis = \"sentinel\" or \"cluster\") has replicas to wait for",
            );
        }
        if let Some(flush) = &t.redis_flush {
            self.one_of(&join(path, "redis-flush"), flush, &["on-save", "immediate"]);
        }
        plan.redis = redis;
        plan.redis_min_replicas = min_replicas;
        plan.redis_flush = t.redis_flush;
        plan.redis_access_renews_ttl = t.redis_access_renews_ttl.unwrap_or(true);
        plan
    }

    /// `redis = "standalone"` (the default: the harness starts one redis-server),
    /// `"sentinel"` (a primary, a replica, three sentinels), `"cluster"` (three masters, three
    /// replicas) or a `redis://` URL of a Redis the harness does not own.
    fn redis(
        &mut self,
        path: &[Seg],
        mode: Option<String>,
        (appendonly, appendfsync): (Option<bool>, Option<String>),
    ) -> Option<RedisPlan> {
        let mode = mode.unwrap_or_else(|| "standalone".into());
        if mode.starts_with("redis://") || mode.starts_with("rediss://") {
            self.refuse(
                path,
                &[
                    ("redis-appendonly", appendonly.is_some()),
                    ("redis-appendfsync", appendfsync.is_some()),
                ],
                "the harness does not run a Redis given by URL: configure persistence there",
            );
            return Some(RedisPlan::External {
                url: mode,
                ca_file: None,
                password: None,
            });
        }
        let (appendonly, appendfsync) = self.persistence(path, appendonly, appendfsync);
        match mode.as_str() {
            "sentinel" => Some(RedisPlan::Sentinel {
                appendonly,
                appendfsync,
            }),
            "cluster" => Some(RedisPlan::Cluster {
                appendonly,
                appendfsync,
            }),
            "standalone" => Some(RedisPlan::Standalone {
                appendonly,
                appendfsync,
            }),
            _ => {
                self.err(
                    &join(path, "redis"),
                    format!(
                        "`{mode}` is not \"standalone\", \"sentinel\", \"cluster\" or a redis:// (or rediss://) URL"
                    ),
                );
                Some(RedisPlan::Standalone {
                    appendonly,
                    appendfsync,
                })
            }
        }
    }

    /// `redis-appendonly` and `redis-appendfsync` (which needs it) of a Redis the harness runs.
    fn persistence(
        &mut self,
        path: &[Seg],
        appendonly: Option<bool>,
        appendfsync: Option<String>,
    ) -> (bool, AppendFsync) {
        let fsync = appendfsync.and_then(|f| {
            let key = join(path, "redis-appendfsync");
            let found = self.one_of(&key, &f, &AppendFsync::NAMES);
            if found.is_some() && appendonly != Some(true) {
                self.err(
                    &key,
                    "it says how an append-only file is synced: set `redis-appendonly = true` too",
                );
            }
            found.and_then(AppendFsync::parse)
        });
        (appendonly.unwrap_or(false), fsync.unwrap_or_default())
    }

    /// A Redis given by URL: on loopback unless `remote = true` (or `--allow-remote`), and for
    /// `rediss://` the CA in `ca-file` if not the system's. A Redis the harness runs takes neither.
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
        if sessionbench_common::secret::url_has_password(&url) {
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
    let host = sessionbench_common::names::url_host(url);
    if remote || sessionbench_common::names::loopback_host(host) {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not on loopback; a Redis on another host needs `remote = true` on the target (or `--allow-remote`)"
        ))
    }
}
