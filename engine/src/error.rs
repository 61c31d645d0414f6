//! The engine's error type.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the engine can refuse or fail with. A call that returns an error has changed
/// nothing: not the transaction, not the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage layer failed or found corruption.
    #[error(transparent)]
    Storage(#[from] tensormap_storage::Error),
    /// A snapshot file could not be written or read (damaged, unsupported, I/O).
    #[error(transparent)]
    Snapshot(#[from] tensormap_storage::SnapshotError),
    /// No map of that name.
    #[error("no map named '{0}'")]
    MapNotFound(String),
    /// A map of that name exists already.
    #[error("a map named '{0}' exists already")]
    MapExists(String),
    /// No model of that name.
    #[error("no model named '{0}'")]
    ModelNotFound(String),
    /// A model of that name exists already.
    #[error("a model named '{0}' exists already")]
    ModelExists(String),
    /// A map name that cannot be used.
    #[error("invalid map name '{name}': {reason}")]
    InvalidMapName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// Inserting an id that is already in the map.
    #[error("map '{map}' already has an object with id '{id}'")]
    DuplicateId {
        /// The map.
        map: String,
        /// The id.
        id: String,
    },
    /// Updating or deleting an id that is not in the map.
    #[error("map '{map}' has no object with id '{id}'")]
    ObjectNotFound {
        /// The map.
        map: String,
        /// The id.
        id: String,
    },
    /// An object that breaks a rule of the map (bounds, channels, confidence...).
    #[error("object '{id}': {reason}")]
    InvalidObject {
        /// The object's id.
        id: String,
        /// The rule it breaks.
        reason: String,
    },
    /// An invalid query argument (a NaN centre, a negative radius, a wrong-length vector...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A map's field could not be read from the store (it is read on first use after an
    /// open); every later use reports the same error.
    #[error(transparent)]
    Field(std::sync::Arc<Error>),
    /// The caller's commit gate ([`crate::with_commit_gate`]) refused the commit — its
    /// deadline was answered before the commit began — so the transaction was rolled back.
    #[error(
        "the commit was refused: its caller's deadline passed before it began; nothing was changed"
    )]
    CommitRefused,
}

/// What kind of failure an error is: what a caller may do about it, and how a server
/// answers it. One list for the whole workspace: the engine's errors, TensorQL's
/// (`tensormap_query::Error`) and the calls' ([`CallError`]) all carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The statement is not well formed: its text does not parse, or it uses a form where
    /// the language does not allow it (an aggregate in WHERE, `SELECT *` without FROM, an
    /// ORDER BY term out of range).
    Syntax,
    /// What the request names does not exist: a map, model, object, column or function.
    NotFound,
    /// It clashes with what exists: a name or id taken, a transaction already open (or none
    /// open), a database another process holds.
    Conflict,
    /// A value breaks a rule: a wrong type, a number out of range, an object outside its
    /// map's bounds, an invalid setting or argument.
    InvalidValue,
    /// A file the statement names could not be read or written (COPY, SNAPSHOT, RESTORE,
    /// RENDER ... TO, LOAD and SAVE MODEL): missing, unreadable, or a failed write.
    Io,
    /// A file the statement reads is not what it should be: damaged, truncated, or of a
    /// format or version this build cannot read.
    FileFormat,
    /// The database's own store failed (an I/O error, corruption, a failed flush): not the
    /// request's fault.
    Storage,
    /// A model could not run: its stored weights cannot be decoded, or a run failed
    /// (training diverged, an internal error of the model code).
    Model,
    /// A limit was exceeded: a value too large to encode, nesting too deep, too much data.
    Limit,
    /// A bug: an invariant of the program did not hold.
    Internal,
}

impl ErrorKind {
    /// Its name in snake case (`not_found`, `storage`, ...): stable, for programs (the
    /// Python package's `Error.kind`, logs).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::InvalidValue => "invalid_value",
            ErrorKind::Io => "io",
            ErrorKind::FileFormat => "file_format",
            ErrorKind::Storage => "storage",
            ErrorKind::Model => "model",
            ErrorKind::Limit => "limit",
            ErrorKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Error {
    /// What kind of failure this is (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        use tensormap_storage::{Error as S, SnapshotError as Snap};
        match self {
            Error::Storage(e) => match e {
                S::Encode { .. } => ErrorKind::Limit,
                S::InvalidConfig(_) => ErrorKind::InvalidValue,
                S::Locked { .. } => ErrorKind::Conflict,
                S::Sled(_)
                | S::Corrupt { .. }
                | S::InjectedFault(_)
                | S::Poisoned
                | S::Io { .. }
                | S::NoSpace { .. }
                | S::CorruptSegment { .. } => ErrorKind::Storage,
            },
            Error::Snapshot(e) => match e {
                Snap::Io { .. } => ErrorKind::Io,
                Snap::Corrupt { .. } | Snap::Unsupported { .. } => ErrorKind::FileFormat,
                Snap::Invalid { .. } => ErrorKind::InvalidValue,
            },
            Error::MapNotFound(_) | Error::ModelNotFound(_) | Error::ObjectNotFound { .. } => {
                ErrorKind::NotFound
            }
            Error::MapExists(_) | Error::ModelExists(_) | Error::DuplicateId { .. } => {
                ErrorKind::Conflict
            }
            Error::InvalidMapName { .. }
            | Error::InvalidObject { .. }
            | Error::InvalidArgument(_) => ErrorKind::InvalidValue,
            Error::Field(e) => e.kind(),
            Error::CommitRefused => ErrorKind::Limit,
        }
    }
}

/// An error with a kind and no position: the error of a call that is not a statement.
/// The code the engine and the query crate call without knowing it returns one — a
/// registered function ([`crate::ScalarFn`], [`crate::BatchFn`]), a model host, COPY's file
/// formats — and so do the facade's typed calls on models (embed, generate). A statement
/// that makes such a call adds its position (`tensormap_query::Error::call`).
///
/// A plain message converts into one of kind [`ErrorKind::InvalidValue`] (a function that
/// refuses its arguments): `Err("expects a number".into())`.
#[derive(Debug, Clone)]
pub struct CallError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What went wrong, for a person.
    pub message: String,
    /// The error it came from, if any.
    pub source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl CallError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, with the error it came from.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    /// The same error with `context: ` before its message.
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Equal when kind and message are (the source is not compared).
impl PartialEq for CallError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl From<String> for CallError {
    fn from(message: String) -> Self {
        CallError::new(ErrorKind::InvalidValue, message)
    }
}

impl From<&str> for CallError {
    fn from(message: &str) -> Self {
        CallError::new(ErrorKind::InvalidValue, message)
    }
}

/// An engine error met by a call (a model host reading a map) keeps its kind.
impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::new(e.kind(), e.to_string()).with_source(e)
    }
}
