//! How an operation becomes a request and its answer an outcome: sessionbench's own node
//! protocol (every answer shows the whole session), or an application's API described by the
//! suite's request templates. Pure translation, no I/O: the load driver sends what this
//! makes, and suite validation compiles a suite's templates with it.

mod api;
mod exchange;
mod extract;
mod step;
pub mod template;
mod translate;

pub use api::Api;
pub use exchange::{Call, Cookies, Reply};
pub use step::{Reading, Step, outcome_of};
pub use translate::*;
