//! `redis`: stateless nodes sharing sessions in Redis, laid out as Spring Session's
//! `RedisSessionRepository` does: one hash per session with its metadata and one field per
//! attribute, and a key that expires after the session's idle limit (every access renews it).
//! A save writes only the fields the request changed.
//!
//! Each operation is one Lua script, so that "does the session still exist" and the write are
//! one atomic step: a save or an access never recreates a session that expired or logged out
//! (a plain `HSET` would, which is the resurrection Spring guards against with its
//! `isNew`/exists checks). Every key carries the session id as its hash tag, so a script's
//! keys always live in one cluster slot. Login rotates the id by creating a new session and
//! deleting the old one, never by `RENAME`, which fails across slots.

mod connection;
mod layout;
mod store;
#[cfg(test)]
mod tests;

pub use store::*;
