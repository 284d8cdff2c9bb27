//! Session-aware load: virtual users with their own connection, cookie jar and loopback
//! source address, each driving sessions through login, a mix of operations and logout.

mod api;
mod client;
mod extract;
mod protocol;
mod session;
pub mod template;

pub use api::Api;
pub use client::{Client, Reply, source_address};
pub use protocol::Protocol;
pub use session::{LoadContext, run_load};
