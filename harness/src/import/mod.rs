//! `sessionbench import har`: a suite for an external target from a browser's recording
//! (HAR 1.2). What a suite needs is inferred from what the browser sent and was answered:
//! the session cookie, the login and its token steps, the reads, writes, counter and logout,
//! where answers show the user, the counter and a written value, and what "signed out"
//! looks like. Credentials become variables; nothing recorded as one is written.

mod find;
mod imported;
mod login;
mod ops;
mod recording;
mod request;
mod write;

pub use imported::{Imported, har};
