//! Session-aware load: virtual users with their own connection (plain or TLS), cookie jar and
//! address, each driving sessions through login, a mix of operations and logout.

mod client;
mod jar;
mod join;
mod session;
mod tls;
mod users;

pub use client::{Client, ClientRange, Endpoint, SendFailure, forwarded_address, source_address};
pub use jar::Jar;
pub use session::LoadContext;
pub use users::run_load;
