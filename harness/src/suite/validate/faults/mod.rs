//! Faults: what every fault has and its kind asks of the targets ([`fault`]), and the keys of
//! the kinds that have their own ([`link`] for partition and latency, [`command`]).

mod command;
mod fault;
mod link;
