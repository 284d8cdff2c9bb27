//! A `[[targets]]` table as written, typed by its `strategy`: each strategy's keys, and no
//! others (a Redis key on a round-robin target is an unknown key, said as such).

use serde::{Deserialize, Deserializer};

use super::{ExpectRaw, ExtractRaw, LoggedOutRaw, RequestsRaw, Tagged, ThresholdsRaw};
use sessionbench_model::plan::Strategy;

/// Declares a target type: the keys every target has, the groups it names (`lab`: nodes the
/// harness runs; `lb`: a load balancer in front of them), then its own keys.
macro_rules! target {
    ($(#[$m:meta])* $name:ident [$($group:ident)*] { $($own:tt)* }) => {
        target!(@group $(#[$m])* $name [$($group)*] [
            name: Option<String>,
            strategy: String,
            cookie: Option<String>,
            expect: Option<ExpectRaw>,
            thresholds: Option<ThresholdsRaw>,
        ] { $($own)* });
        impl $name {
            /// Takes out the keys every target has.
            pub fn common(&mut self) -> CommonKeys {
                CommonKeys {
                    name: self.name.take(),
                    cookie: self.cookie.take(),
                    expect: self.expect.take(),
                    thresholds: self.thresholds.take(),
                }
            }
        }
    };
    (@group $(#[$m:meta])* $name:ident [lab $($rest:ident)*] [$($acc:tt)*] { $($own:tt)* }) => {
        target!(@group $(#[$m])* $name [$($rest)*] [$($acc)*
            nodes: Option<u32>,
            model: Option<String>,
            max_inactive: Option<String>,
            padding_bytes: Option<usize>,
        ] { $($own)* });
        impl $name {
            /// Takes out the keys of nodes the harness runs.
            pub fn lab(&mut self) -> LabKeys {
                LabKeys {
                    nodes: self.nodes.take(),
                    model: self.model.take(),
                    max_inactive: self.max_inactive.take(),
                    padding_bytes: self.padding_bytes.take(),
                }
            }
        }
    };
    (@group $(#[$m:meta])* $name:ident [lb $($rest:ident)*] [$($acc:tt)*] { $($own:tt)* }) => {
        target!(@group $(#[$m])* $name [$($rest)*] [$($acc)*
            lb: Option<String>,
            lb_policy: Option<String>,
        ] { $($own)* });
    };
    (@group $(#[$m:meta])* $name:ident [] [$($f:ident: $t:ty,)*] { $($o:ident: $ot:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name {
            $(pub $f: $t,)*
            $(pub $o: $ot,)*
        }
    };
}

/// The keys every target has.
#[derive(Debug, Clone, Default)]
pub struct CommonKeys {
    pub name: Option<String>,
    pub cookie: Option<String>,
    pub expect: Option<ExpectRaw>,
    pub thresholds: Option<ThresholdsRaw>,
}

/// The keys of a target whose nodes the harness runs.
#[derive(Debug, Clone, Default)]
pub struct LabKeys {
    pub nodes: Option<u32>,
    pub model: Option<String>,
    pub max_inactive: Option<String>,
    pub padding_bytes: Option<usize>,
}

target! {
    /// `round-robin` or `sticky`: reference nodes that keep sessions in their own memory,
    /// behind a load balancer.
    BalancedRaw [lab lb] { save: Option<String> }
}

target! {
    /// `direct`: one reference node, no load balancer.
    DirectRaw [lab] { save: Option<String> }
}

target! {
    /// `delta`: every change replicated to every node (Tomcat's DeltaManager).
    DeltaRaw [lab lb] {
        save: Option<String>,
        codec: Option<String>,
        cluster_encrypt: Option<bool>,
        replication: Option<String>,
        replication_delay: Option<String>,
    }
}

target! {
    /// `backup`: a primary and one backup node per session (Tomcat's BackupManager).
    BackupRaw [lab lb] {
        save: Option<String>,
        codec: Option<String>,
        cluster_encrypt: Option<bool>,
    }
}

target! {
    /// `redis`: sessions in a Redis (Spring Session), one the harness starts or one by URL.
    RedisRaw [lab lb] {
        save: Option<String>,
        codec: Option<String>,
        redis: Option<String>,
        redis_appendonly: Option<bool>,
        redis_appendfsync: Option<String>,
        redis_min_replicas: Option<u32>,
        redis_flush: Option<String>,
        redis_access_renews_ttl: Option<bool>,
        redis_password_file: Option<String>,
        redis_password_env: Option<String>,
        remote: Option<bool>,
        ca_file: Option<String>,
    }
}

target! {
    /// `tomcat`: real Tomcats with a session manager of their own.
    TomcatRaw [lab lb] {
        manager: Option<String>,
        jvm_route_binder: Option<bool>,
        replication: Option<String>,
        replication_delay: Option<String>,
    }
}

target! {
    /// `external`: a stack the harness did not build, reached by URL and started by commands.
    ExternalRaw [] {
        url: Option<String>,
        remote: Option<bool>,
        ca_file: Option<String>,
        insecure_skip_verify: Option<bool>,
        client_cert: Option<String>,
        client_key: Option<String>,
        http: Option<String>,
        client_address: Option<String>,
        start: Option<String>,
        stop: Option<String>,
        ready_url: Option<String>,
        ready_status: Option<u16>,
        timeout: Option<String>,
        requests: Option<RequestsRaw>,
        logged_out: Option<LoggedOutRaw>,
        served_by: Option<ExtractRaw>,
    }
}

/// A target as written, by strategy.
#[derive(Debug, Clone)]
pub enum TargetRaw {
    RoundRobin(BalancedRaw),
    Sticky(BalancedRaw),
    Direct(DirectRaw),
    Delta(DeltaRaw),
    Backup(BackupRaw),
    Redis(RedisRaw),
    Tomcat(TomcatRaw),
    External(Box<ExternalRaw>),
}

impl Tagged for TargetRaw {
    const TAG: &'static str = "strategy";
    const WHAT: &'static str = "target";

    fn tags() -> Vec<&'static str> {
        Strategy::names()
    }

    fn from_tag<'de, D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        let Some(strategy) = Strategy::from_name(tag) else {
            return Err(serde::de::Error::custom(format!("no strategy `{tag}`")));
        };
        Ok(match strategy {
            Strategy::RoundRobin => Self::RoundRobin(BalancedRaw::deserialize(d)?),
            Strategy::Sticky => Self::Sticky(BalancedRaw::deserialize(d)?),
            Strategy::Direct => Self::Direct(DirectRaw::deserialize(d)?),
            Strategy::Delta => Self::Delta(DeltaRaw::deserialize(d)?),
            Strategy::Backup => Self::Backup(BackupRaw::deserialize(d)?),
            Strategy::Redis => Self::Redis(RedisRaw::deserialize(d)?),
            Strategy::Tomcat => Self::Tomcat(TomcatRaw::deserialize(d)?),
            Strategy::External => Self::External(Box::new(ExternalRaw::deserialize(d)?)),
        })
    }

    fn note(tag: &str) -> Option<&'static str> {
        match tag {
            "external" => Some("it is configured by its own stack, not by the suite"),
            "direct" => Some("one node, and no load balancer"),
            _ => None,
        }
    }
}

impl TargetRaw {
    /// Whether the suite lets this target be on another host (`remote = true`).
    pub fn remote(&self) -> bool {
        match self {
            Self::Redis(t) => t.remote == Some(true),
            Self::External(t) => t.remote == Some(true),
            _ => false,
        }
    }

    /// Whether it is an application driven through its own API (`requests`).
    pub fn has_requests(&self) -> bool {
        matches!(self, Self::External(t) if t.requests.is_some())
    }
}
