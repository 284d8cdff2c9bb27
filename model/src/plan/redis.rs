//! Where a `redis` target keeps its sessions: a Redis the harness runs (and how it persists)
//! or one given by URL, with where its password is read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// When a Redis the harness runs with an append-only file writes and syncs it (its own
/// `appendfsync`). With `everysec`, while the last second's fsync is still running Redis may
/// answer writes it has not yet handed to the kernel (for up to 2 s), so even a process kill
/// can lose acknowledged writes when the disk is busy; `always` writes and syncs before it
/// answers; `no` writes before it answers and leaves syncing to the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppendFsync {
    #[default]
    Everysec,
    Always,
    No,
}

impl AppendFsync {
    pub const NAMES: [&'static str; 3] = ["everysec", "always", "no"];

    /// Redis's own word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everysec => "everysec",
            Self::Always => "always",
            Self::No => "no",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Everysec, Self::Always, Self::No]
            .into_iter()
            .find(|f| f.as_str() == s)
    }

    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Where a `redis` target keeps its sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum RedisPlan {
    /// One redis-server the harness starts, persisting only with `appendonly`.
    Standalone {
        appendonly: bool,
        #[serde(default, skip_serializing_if = "AppendFsync::is_default")]
        appendfsync: AppendFsync,
    },
    /// A primary (`redis`), its replica and three sentinels; nodes ask the sentinels.
    Sentinel {
        appendonly: bool,
        #[serde(default, skip_serializing_if = "AppendFsync::is_default")]
        appendfsync: AppendFsync,
    },
    /// Three masters (`redis`, `redis2`, `redis3`) and three replicas (`redis4` to `redis6`).
    Cluster {
        appendonly: bool,
        #[serde(default, skip_serializing_if = "AppendFsync::is_default")]
        appendfsync: AppendFsync,
    },
    /// A Redis the harness does not own, as a URL (`rediss://` over TLS, trusting `ca-file`
    /// if given).
    External {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_file: Option<std::path::PathBuf>,
        /// Where its password is read when the run starts (never the password itself).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<PasswordSource>,
    },
}

impl RedisPlan {
    /// How a Redis the harness runs persists: `None` without an append-only file (and for a
    /// Redis given by URL, whose persistence is its own).
    pub fn append_only(&self) -> Option<AppendFsync> {
        match *self {
            Self::Standalone {
                appendonly,
                appendfsync,
            }
            | Self::Sentinel {
                appendonly,
                appendfsync,
            }
            | Self::Cluster {
                appendonly,
                appendfsync,
            } => appendonly.then_some(appendfsync),
            Self::External { .. } => None,
        }
    }
}

/// Where a password is: a file (its first line) or an environment variable of the harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PasswordSource {
    File(std::path::PathBuf),
    Env(String),
}

impl PasswordSource {
    /// The password, read now.
    pub fn read(&self) -> Result<sessionbench_common::secret::Secret, String> {
        use sessionbench_common::secret::Secret;
        match self {
            Self::File(file) => Secret::from_file(file, "redis-password-file"),
            Self::Env(name) => Secret::from_env(name)
                .ok_or_else(|| format!("redis-password-env: ${name} is not set or empty")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_from_before_appendfsync_loads_as_redis_default_and_the_default_is_left_out() {
        let old: RedisPlan =
            serde_json::from_str(r#"{"mode":"standalone","appendonly":true}"#).expect("old plan");
        assert_eq!(old.append_only(), Some(AppendFsync::Everysec));
        assert_eq!(
            serde_json::to_string(&old).expect("json"),
            r#"{"mode":"standalone","appendonly":true}"#
        );
        let always: RedisPlan =
            serde_json::from_str(r#"{"mode":"cluster","appendonly":true,"appendfsync":"always"}"#)
                .expect("plan");
        assert_eq!(always.append_only(), Some(AppendFsync::Always));
        let off: RedisPlan =
            serde_json::from_str(r#"{"mode":"sentinel","appendonly":false,"appendfsync":"no"}"#)
                .expect("plan");
        assert_eq!(off.append_only(), None, "no file, whatever its sync");
    }
}
