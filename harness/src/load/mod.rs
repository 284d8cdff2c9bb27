//! Session-aware load: virtual users with their own connection, cookie jar and loopback
//! source address, each driving sessions through login, a mix of operations and logout.

mod client;
mod session;

pub use client::{Client, source_address};
pub use session::{LoadContext, run_load};
