//! Suite files: TOML in, a validated [`Plan`](sessionbench_model::plan::Plan) out.
//!
//! Two layers, as nextest's config does: [`raw`] is the serde shape (unknown keys are errors),
//! `validate` resolves defaults from the embedded default suite and checks meaning, `vars`
//! fills the `${NAME}` variables of its strings first, and `locate` points every error at a
//! file, line, column and key path.

mod locate;
pub mod raw;
mod validate;
mod vars;

pub use validate::{
    DEFAULT_SUITE, FIRST_RUN, MAX_DURATION, Options, SuiteError, SuiteErrors, load, load_with,
    parse, parse_with,
};
pub use vars::parse_var;
