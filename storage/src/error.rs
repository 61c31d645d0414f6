//! The storage error type: I/O failures, corruption (always naming the key), injected faults.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong below the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sled store reported an error.
    #[error("storage I/O error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value failed its checks; `key` names where it was found.
    #[error("corrupt record at key {key}: {reason}")]
    Corrupt {
        /// The key, printed readably (see [`crate::keys::describe`]).
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A value could not be encoded (it exceeds a format limit).
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// A fault injected by [`crate::MemoryBackend`] for testing.
    #[error("injected fault: {0}")]
    InjectedFault(String),
    /// A flush failed after the batch reached the store: its durability is unknown, so the
    /// backend refuses further writes until the database is reopened.
    #[error("the store refused writes after a failed flush; reopen the database")]
    Poisoned,
    /// An invalid map configuration.
    #[error("invalid map setting: {0}")]
    InvalidConfig(String),
    /// The database is open in another process (its folder is locked).
    #[error("database '{path}' is open in another process")]
    Locked {
        /// The database folder.
        path: String,
    },
    /// A file operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The database's filesystem has no room for a write: it was refused before anything
    /// was written (or its partial file removed), so the database is as before it. The
    /// store keeps [`crate::RESERVE`] bytes free so that its own log can always
    /// be written; once space is freed, writes succeed again on the same handle.
    #[error(
        "no space left on device: {what} needs {needed} bytes and {path} has {free} free \
         (the database keeps {reserve} bytes free for its log); nothing was written"
    )]
    NoSpace {
        /// What was being written (a commit, a segment file).
        what: String,
        /// The folder or file.
        path: String,
        /// Bytes the write needed, the reserve included.
        needed: u64,
        /// Bytes free on the filesystem when it was refused.
        free: u64,
        /// The reserve kept free.
        reserve: u64,
    },
    /// A segment blob failed its checks.
    #[error("corrupt segment {segment:016x} at offset {offset}: {reason}")]
    CorruptSegment {
        /// The segment's blob id (its file is `segments/<id>.seg`).
        segment: u64,
        /// Byte offset in the segment where the damage was found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Whether this is [`Error::NoSpace`] or an I/O error the operating system reported as
    /// a full disk (ENOSPC, or a quota: EDQUOT).
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::NoSpace { .. } => true,
            Error::Io { source, .. } => io_is_no_space(source),
            Error::Sled(sled::Error::Io(e)) => io_is_no_space(e),
            _ => false,
        }
    }

    /// A corruption error for `key` (raw bytes, described readably).
    pub fn corrupt(key: &[u8], reason: impl Into<String>) -> Self {
        Error::Corrupt {
            key: crate::keys::describe(key),
            reason: reason.into(),
        }
    }
}

/// ENOSPC (28) or EDQUOT (122): the filesystem (or the user's quota) is full.
pub(crate) fn io_is_no_space(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28 | 122))
}
