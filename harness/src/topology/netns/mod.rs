//! `network = "netns"`: every process of a target in a network namespace of its own, joined
//! by a bridge this run made, each with its own address in a private /24 (10.213.S.0/24).
//! The kernel then cuts links (nftables drop rules in the namespaces) that no user-space proxy
//! could sit in: Sentinel and Cluster links, whose clients learn real addresses from the
//! servers, and splits into any groups.
//!
//! The /24: the bridge is .1, the processes .2 to .127 (a /25 each side of the bridge), and
//! .128 to .254 are the clients' addresses, local to this host through a route over the
//! bridge, so the driver's users reach the LB from distinct addresses (ip-hash tells them
//! apart). Names carry this harness's pid, so a later run (or `sessionbench clean`) can tell
//! the leftovers of a killed harness from those of a running one.

mod command;
mod leftovers;
mod lock;
mod net;
mod rules;

pub use command::Script;
pub use command::{NetError, privileges};
pub use leftovers::{Swept, sweep};
pub use net::*;
pub use rules::Cut;
