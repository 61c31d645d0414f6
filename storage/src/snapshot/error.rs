//! The snapshot error type: every failure names the file, and damage names the section
//! and the byte offset where it was found.

use std::fmt;

/// The result type of the snapshot module.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

/// The parts of a snapshot file, as named in errors (docs/FORMATS.md, "`.tensor3d`").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The fixed 64-byte header: magic, version, flags, the map's settings.
    Header,
    /// The object blocks.
    Objects,
    /// The octree's child masks.
    Topology,
    /// The brick blocks.
    Field,
    /// The user columns section (between the field and the footer, when flagged).
    UserColumns,
    /// The fixed 80-byte footer: where the sections are, the counts.
    Footer,
    /// The whole JSON document (the JSON form).
    Json,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Header => "header",
            Section::Objects => "objects",
            Section::Topology => "topology",
            Section::Field => "field",
            Section::UserColumns => "user columns",
            Section::Footer => "footer",
            Section::Json => "JSON document",
        })
    }
}

/// Everything that can go wrong writing or reading a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The operating system refused a file operation.
    #[error("I/O error on snapshot {path}: {source}")]
    Io {
        /// The file (or its folder).
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is damaged or is not a snapshot: it failed a check at `offset`.
    #[error("damaged snapshot {path}: {section} at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// The part of the file that failed.
        section: Section,
        /// The byte offset in the file of the item that failed (for the JSON form, the
        /// offset in the decoded tensor data, or 0 for the document).
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A well-formed file that this version cannot read (a newer version, flags, or a
    /// compression it does not implement).
    #[error("unsupported snapshot {path}: {reason}")]
    Unsupported {
        /// The file.
        path: String,
        /// What is not supported.
        reason: String,
    },
    /// The writer was given something a snapshot cannot hold, or was called out of order;
    /// the file is not written.
    #[error("cannot write snapshot {path}: {reason}")]
    Invalid {
        /// The file being written.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

impl SnapshotError {
    pub(crate) fn io(path: &str, source: std::io::Error) -> Self {
        SnapshotError::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: &str,
        section: Section,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        SnapshotError::Corrupt {
            path: path.to_string(),
            section,
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(path: &str, reason: impl Into<String>) -> Self {
        SnapshotError::Invalid {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    /// The section named by a damage error, if this is one.
    pub fn section(&self) -> Option<Section> {
        match self {
            SnapshotError::Corrupt { section, .. } => Some(*section),
            _ => None,
        }
    }

    /// The file offset named by a damage error, if this is one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            SnapshotError::Corrupt { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
