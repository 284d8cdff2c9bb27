//! A `[[faults]]` table as written, typed by its `kind`: the keys of that kind, and no others.

use serde::{Deserialize, Deserializer};

use super::Tagged;
use sessionbench_model::plan::FaultKind;

/// Declares a fault type: the keys every fault has, then its own.
macro_rules! fault {
    ($(#[$m:meta])* $name:ident { $($o:ident: $ot:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name {
            pub at: Option<String>,
            pub kind: String,
            pub node: Option<String>,
            pub may_fail: Option<bool>,
            $(pub $o: $ot,)*
        }

        impl $name {
            /// Takes out the keys every fault has.
            pub fn common(&mut self) -> FaultCommon {
                FaultCommon {
                    at: self.at.take(),
                    node: self.node.take(),
                    may_fail: self.may_fail.take(),
                }
            }
        }
    };
}

/// The keys every fault has.
#[derive(Debug, Clone, Default)]
pub struct FaultCommon {
    pub at: Option<String>,
    pub node: Option<String>,
    pub may_fail: Option<bool>,
}

fault! {
    /// A fault on a node or store process that lasts until its heal (or the end).
    HealedRaw { heal_after: Option<String> }
}

fault! {
    /// A fault that is over once done: a restart, deploy, scale-out or flush.
    OnceRaw {}
}

fault! {
    /// `rolling-restart`: every node in turn, `interval` apart.
    RollingRaw { interval: Option<String> }
}

fault! {
    /// `partition`: a node's link blackholed, or (in namespaces) a cut between processes.
    PartitionRaw {
        heal_after: Option<String>,
        link: Option<String>,
        groups: Option<Vec<Vec<String>>>,
        from: Option<Vec<String>>,
        to: Option<Vec<String>>,
    }
}

fault! {
    /// `latency`: delay added each way on a node's link.
    LatencyRaw {
        heal_after: Option<String>,
        link: Option<String>,
        latency: Option<String>,
        jitter: Option<String>,
    }
}

fault! {
    /// `command`: the suite's own shell commands, for stacks the harness did not start.
    CommandRaw {
        heal_after: Option<String>,
        inject: Option<String>,
        heal: Option<String>,
        timeout: Option<String>,
        ready_url: Option<String>,
        ready_status: Option<u16>,
    }
}

/// A fault as written, by the keys its kind has.
#[derive(Debug, Clone)]
pub enum FaultRaw {
    Healed(FaultKind, HealedRaw),
    Once(FaultKind, OnceRaw),
    RollingRestart(RollingRaw),
    Partition(PartitionRaw),
    Latency(LatencyRaw),
    Command(CommandRaw),
}

impl FaultRaw {
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::Healed(kind, _) | Self::Once(kind, _) => *kind,
            Self::RollingRestart(_) => FaultKind::RollingRestart,
            Self::Partition(_) => FaultKind::Partition,
            Self::Latency(_) => FaultKind::Latency,
            Self::Command(_) => FaultKind::Command,
        }
    }

    /// Takes out the keys every fault has, and `heal-after` where the kind has one.
    pub fn common(&mut self) -> (FaultCommon, Option<String>) {
        match self {
            Self::Healed(_, f) => (f.common(), f.heal_after.take()),
            Self::Once(_, f) => (f.common(), None),
            Self::RollingRestart(f) => (f.common(), None),
            Self::Partition(f) => (f.common(), f.heal_after.take()),
            Self::Latency(f) => (f.common(), f.heal_after.take()),
            Self::Command(f) => (f.common(), f.heal_after.take()),
        }
    }
}

impl Tagged for FaultRaw {
    const TAG: &'static str = "kind";
    const WHAT: &'static str = "fault";

    fn tags() -> Vec<&'static str> {
        FaultKind::names()
    }

    fn from_tag<'de, D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        let Some(kind) = FaultKind::from_name(tag) else {
            return Err(serde::de::Error::custom(format!("no fault kind `{tag}`")));
        };
        Ok(match kind {
            FaultKind::RollingRestart => Self::RollingRestart(RollingRaw::deserialize(d)?),
            FaultKind::Partition => Self::Partition(PartitionRaw::deserialize(d)?),
            FaultKind::Latency => Self::Latency(LatencyRaw::deserialize(d)?),
            FaultKind::Command => Self::Command(CommandRaw::deserialize(d)?),
            kind if kind.heals_itself() => Self::Once(kind, OnceRaw::deserialize(d)?),
            kind => Self::Healed(kind, HealedRaw::deserialize(d)?),
        })
    }

    fn note(tag: &str) -> Option<&'static str> {
        let kind = FaultKind::from_name(tag)?;
        Some(match kind {
            FaultKind::StoreRestart | FaultKind::StoreFlush => "it is over once done",
            FaultKind::LbRestart => "it ends when the load balancer is serving",
            FaultKind::RollingRestart => "it ends when the last node is serving",
            k if k.heals_itself() => "it ends when the node is serving",
            _ => return None,
        })
    }
}
