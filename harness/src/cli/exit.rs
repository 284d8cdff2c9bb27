//! The documented exit codes (docs/reports.md) and the errors that map to them.

/// What the process tells its caller; CI scripts branch on these numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// All checks and thresholds passed.
    Ok = 0,
    /// Internal error: a bug, or the machine refused something (a port, a process).
    Internal = 1,
    /// Bad usage or an invalid suite.
    Usage = 2,
    /// A continuity expectation failed, or could not be judged (verdict fail or unknown).
    CheckFailed = 3,
    /// A performance threshold was missed, or a metric regressed against the baseline.
    ThresholdMissed = 4,
    /// Interrupted (Ctrl-C): what ran is kept and checked, but is not a verdict.
    Interrupted = 130,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code as u8)
    }
}

/// An error the CLI expects and reports without a backtrace.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The arguments parse but do not make sense together.
    #[error("{0}")]
    Usage(String),
    /// The suite file is invalid: every problem, located.
    #[error("invalid suite:\n{0}")]
    Suite(#[from] crate::suite::SuiteErrors),
    /// A stored run could not be read.
    #[error("{0}")]
    BadRun(String),
    /// The run could not go on (a process would not start, a directory not be made).
    #[error("{0}")]
    Driver(#[from] crate::driver::DriverError),
    /// A run's files could not be written, or a stored run read.
    #[error("{0}")]
    RunDir(#[from] crate::run_dir::RunDirError),
    /// Binding, spawning or serving failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_)
            | Self::Suite(_)
            | Self::BadRun(_)
            | Self::RunDir(
                crate::run_dir::RunDirError::Unreadable(_)
                | crate::run_dir::RunDirError::Occupied(_),
            ) => ExitCode::Usage,
            Self::RunDir(crate::run_dir::RunDirError::Io { .. }) => ExitCode::Internal,
            Self::Io { .. } | Self::Driver(_) => ExitCode::Internal,
        }
    }
}
