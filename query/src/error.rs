//! Query errors: what went wrong and where (line and column of the statement text).

use std::fmt;

/// A position in the statement text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column (in characters), from 1.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of a TensorQL statement, with the position where it was detected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("error at {pos}: {message}")]
pub struct Error {
    /// Where it was detected.
    pub pos: Pos,
    /// What was wrong.
    pub message: String,
}

impl Error {
    /// An error at `pos`.
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        Error {
            pos,
            message: message.into(),
        }
    }

    /// An engine error raised by the statement at `pos`.
    pub fn engine(pos: Pos, e: tensormap_engine::Error) -> Self {
        Error::new(pos, e.to_string())
    }
}
