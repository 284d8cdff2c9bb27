//! The reference load balancer: a reverse proxy on hyper with pooled keep-alive upstream
//! connections, the stickiness policies of nginx and HAProxy, health checks, redispatch, and a
//! loopback admin API that adds and removes backends at run time (scale-out faults).

mod admin;
mod backends;
mod config;
mod health;
mod policy;
mod pool;
mod proxy;
mod serve;

pub use crate::names::{NamedAddr, ParseNamedAddrError};
pub use backends::{Backend, BackendView, Backends};
pub use config::LbConfig;
pub use policy::{Policy, ip_hash_backend};
pub use serve::run;
