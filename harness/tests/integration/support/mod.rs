//! What the integration tests share: real processes of this binary and of the stacks they
//! drive (`stack`), harness runs to their end (`runs`) and runs as processes a test kills
//! or interrupts (`processes`).

mod processes;
mod runs;
mod stack;

pub use processes::*;
pub use runs::*;
pub use stack::*;
