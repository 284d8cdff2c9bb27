//! `sessionbench proxy`: a TCP fault proxy in the manner of Toxiproxy. It forwards every
//! connection to one upstream and, when told through its admin API, delays, throttles,
//! blackholes, resets or refuses traffic, per direction. Placed on a link (LB to node, node to
//! node, node to store) it makes partitions and slow links that no process fault can.

mod admin;
mod faults;
mod pump;
mod server;
#[cfg(test)]
mod tests;

pub use faults::{Direction, Faults};
pub use server::*;
