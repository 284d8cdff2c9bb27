//! The serde layer: exactly the keys a suite file may contain, all optional, none resolved.
//! A target's keys are its strategy's and a fault's its kind's ([`Tagged`]).

mod api;
mod expect;
mod faults;
mod suite;
mod tagged;
mod targets;

pub use api::*;
pub use expect::*;
pub use faults::*;
pub use suite::*;
pub use tagged::*;
pub use targets::*;
