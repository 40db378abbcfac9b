//! Typed errors and the exit codes they map to.

/// Exit codes, documented in the README and in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Input was read (possibly with warnings) and nothing reached `--fail-on`.
    Ok = 0,
    /// `hunt`/`report`: a finding reached `--fail-on`.
    Findings = 1,
    /// Bad usage or an error while running (a query that fails, an output that cannot be written).
    Error = 2,
    /// An input path does not exist.
    PathNotFound = 3,
    /// Nothing could be read: every input file was skipped or failed, or no event was found.
    NothingRead = 4,
    /// `--strict` and some input was bad.
    Strict = 5,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such file or folder: {}", .0.join(", "))]
    PathNotFound(Vec<String>),
    #[error("nothing could be read: {0}")]
    NothingRead(String),
    #[error("--strict: {0}")]
    Strict(String),
    #[error("{0}")]
    Usage(String),
    #[error("query failed: {0}")]
    Query(String),
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::PathNotFound(_) => Exit::PathNotFound,
            Error::NothingRead(_) => Exit::NothingRead,
            Error::Strict(_) => Exit::Strict,
            _ => Exit::Error,
        }
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::Other(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
