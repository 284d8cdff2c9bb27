//! Targets, one validator per strategy ([`TargetRaw`](crate::suite::raw::TargetRaw)'s
//! variants), over what every target has in common.

mod balanced;
mod direct;
mod external;
mod redis;
mod replicated;
mod target;
mod tomcat;
