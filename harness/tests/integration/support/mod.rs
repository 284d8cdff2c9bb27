//! What the integration tests share: real processes of this binary and of the stacks they
//! drive (`stack`), suites built from a few values (`suite`), harness runs to their end
//! (`runs`) and runs as processes a test kills or interrupts (`processes`).

mod processes;
mod runs;
mod schema;
mod stack;
mod suite;

pub use processes::*;
pub use runs::*;
pub use schema::*;
pub use stack::*;
pub use suite::*;
