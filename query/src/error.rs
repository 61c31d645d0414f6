//! Query errors: what kind of failure, where (line and column of the statement text), what
//! went wrong, and the error it came from.
//!
//! The kind ([`ErrorKind`], the workspace's one list) travels from where the error is
//! raised — the lexer, the parser, the executor, the engine, a plug-in (a function, the
//! model host, COPY's formats) — to the program, so that the shell, the Python package and
//! the HTTP server (which maps kinds to statuses) never read an error's text to know what
//! it is.

use std::fmt;
use std::sync::Arc;

pub use tensormap_engine::{CallError, ErrorKind};

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

/// An error of a TensorQL statement: its kind, the position where it was detected, the
/// message, and the error it came from (an engine or plug-in error), if any.
///
/// Two errors are equal when their kind, position and message are (the source is not
/// compared), so tests can compare whole errors.
#[derive(Debug, Clone)]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Where it was detected.
    pub pos: Pos,
    /// What was wrong.
    pub message: String,
    /// The error it came from.
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` at `pos`.
    pub fn new(kind: ErrorKind, pos: Pos, message: impl Into<String>) -> Self {
        Error {
            kind,
            pos,
            message: message.into(),
            source: None,
        }
    }

    /// A syntax error at `pos` (the text does not parse).
    pub fn syntax(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax, pos, message)
    }

    /// At `pos`, a name that does not exist (map, model, column, function).
    pub fn not_found(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, pos, message)
    }

    /// At `pos`, a clash with what exists or with the session's state.
    pub fn conflict(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, pos, message)
    }

    /// At `pos`, a value that breaks a rule (type, range, setting, argument).
    pub fn invalid(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidValue, pos, message)
    }

    /// At `pos`, a file the statement names that cannot be read or written.
    pub fn io(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, pos, message)
    }

    /// At `pos`, a limit exceeded.
    pub fn limit(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Limit, pos, message)
    }

    /// At `pos`, a broken invariant of this crate (a bug).
    pub fn internal(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, pos, message)
    }

    /// The same error with the error it came from.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// An engine error raised by the statement at `pos`: its kind, its text, and itself as
    /// the source.
    pub fn engine(pos: Pos, e: tensormap_engine::Error) -> Self {
        Error::new(e.kind(), pos, e.to_string()).with_source(e)
    }

    /// A plug-in's error (a function, the model host, COPY's formats) raised by the
    /// statement at `pos`, its message after `context: ` when a context is given.
    pub fn call(pos: Pos, context: Option<&str>, e: CallError) -> Self {
        let message = match context {
            Some(c) => format!("{c}: {}", e.message),
            None => e.message.clone(),
        };
        Error {
            kind: e.kind,
            pos,
            message,
            source: Some(Arc::new(e)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error at {}: {}", self.pos, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Kind, position and message; not the source.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.pos == other.pos && self.message == other.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_kind_and_source() {
        let pos = Pos { line: 2, col: 5 };
        let e = Error::engine(pos, tensormap_engine::Error::MapNotFound("m".into()));
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.to_string(), "error at 2:5: no map named 'm'");
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("no map named 'm'"));
        // Equality ignores the source.
        assert_eq!(e, Error::not_found(pos, "no map named 'm'"));
        assert_ne!(e, Error::invalid(pos, "no map named 'm'"));
    }

    #[test]
    fn plugin_errors_keep_their_kind_under_a_context() {
        let pos = Pos { line: 1, col: 1 };
        let e = Error::call(
            pos,
            Some("m_embed"),
            CallError::new(ErrorKind::Model, "weights unreadable"),
        );
        assert_eq!(e.kind, ErrorKind::Model);
        assert_eq!(e.message, "m_embed: weights unreadable");
    }
}
