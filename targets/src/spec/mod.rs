//! How the reference processes are described: each one's settings as a typed spec that its
//! subcommand parses (`sessionbench node`, `sessionbench lb`) and that the harness writes back
//! as arguments ([`NodeSpec::to_args`], [`LbSpec::to_args`]) when it starts, restarts or
//! redeploys one. A flag has one home: the spec field that both sides use.

mod args;
mod lb;
mod node;

pub use args::*;
pub use lb::LbSpec;
pub use node::{FlushMode, NodeSpec, ReplicationMode, StoreKind, StoreSpec};
