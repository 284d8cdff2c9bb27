//! Continuity checks over one session's history: session lost, read-your-writes (stale read),
//! monotonic reads, monotonic writes, lost updates, resurrection after logout, and idle
//! expiry against the target's limit. A `Checker` takes a session's operations one at a
//! time as they arrive (in the order they ended), so a run is checked while it goes and a
//! session is forgotten once it ends.
//!
//! A session's operations may overlap (a page's parallel requests): order is known only
//! between operations that did not, so every rule compares an answer with what had been
//! acknowledged before its request started, and a write is older than another only if it
//! ended before the other started. Operations one after another are the special case where
//! everything earlier is known.
//!
//! The rule that keeps them honest: an indeterminate operation (timeout, broken connection)
//! may or may not have been applied, at any later time, so it only ever widens what a later
//! read may show. It never produces a failure itself.

mod answers;
mod checker;
mod counter;
mod coverage;
#[cfg(test)]
mod equivalence;
mod expiry;
mod finding;
mod memory;
#[cfg(test)]
mod naive;
mod record;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
mod writes;

pub(crate) use checker::Checker;
#[cfg(test)]
pub use checker::check_session;
pub use coverage::Fed;
pub use expiry::OUTLIVED_GRACE;
pub use finding::{Finding, Kind, Mark, SessionCheck};
#[cfg(test)]
use memory::{Bounded, Memory};
