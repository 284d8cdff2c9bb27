//! Checks and argument lists the specs share.

pub use crate::durations::duration;
pub(super) use crate::durations::show;
use crate::names::is_node_id;

/// A node id, as a clap value parser.
pub fn node_id(s: &str) -> Result<String, String> {
    if is_node_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` must be 1 to 64 of A-Z a-z 0-9 `-` `_`"))
    }
}

/// Cookie names: an RFC 6265 token, kept to the characters every stack accepts.
pub fn cookie_name(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a cookie name (1 to 64 of A-Z a-z 0-9 `-` `_`)"
        ))
    }
}

/// The name clap gives a value of a `ValueEnum`.
pub(super) fn value_name(v: &impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Arguments as they are built: `flag value` pairs in order.
#[derive(Debug, Default)]
pub(super) struct Argv(pub(super) Vec<String>);

impl Argv {
    pub(super) fn new(subcommand: &str) -> Self {
        Self(vec![subcommand.to_string()])
    }

    pub(super) fn pair(&mut self, flag: &str, value: impl ToString) -> &mut Self {
        self.0.extend([flag.to_string(), value.to_string()]);
        self
    }

    pub(super) fn opt(&mut self, flag: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(v) = value {
            self.pair(flag, v);
        }
        self
    }

    pub(super) fn each<T: std::fmt::Display>(&mut self, flag: &str, values: &[T]) -> &mut Self {
        for v in values {
            self.pair(flag, v);
        }
        self
    }

    pub(super) fn switch(&mut self, flag: &str, on: bool) -> &mut Self {
        if on {
            self.0.push(flag.to_string());
        }
        self
    }
}
