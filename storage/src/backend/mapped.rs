//! Read-only memory maps of segment files: the crate's only `unsafe` code.
//!
//! Safety argument for [`Mapped::open`] (memmap2's `Mmap::map` is unsafe because the
//! mapped file could change under the program, which would change bytes behind a `&[u8]`):
//! - segment files are immutable: the sled backend writes a file completely, fsyncs it and
//!   only then names it in a commit; nothing ever opens one for writing again;
//! - a file is removed only by unlinking it, which leaves existing mappings intact on the
//!   platforms tensormap supports (Linux, macOS);
//! - the database directory is locked by the process that has it open (sled's file lock),
//!   so no other tensormap process writes or removes files there.
//!
//! What remains is a file truncated or rewritten by something outside tensormap while it
//! is open, which can raise SIGBUS; that is outside the contract, as it is for SQLite's
//! memory-mapped I/O.
#![allow(unsafe_code)]

use std::fs::File;

/// A file mapped read-only into memory.
pub(crate) struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl Mapped {
    /// Maps all of `file` (an empty file maps to an empty slice).
    pub(crate) fn open(file: &File) -> std::io::Result<Mapped> {
        if file.metadata()?.len() == 0 {
            return Ok(Mapped { map: None });
        }
        // SAFETY: see the module header: the file is immutable for as long as it is mapped.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(Mapped { map: Some(map) })
    }

    /// The mapped bytes (page-aligned).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}
