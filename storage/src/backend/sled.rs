//! The production backend: one sled tree for the records (a commit is one `apply_batch`
//! and one `flush`) and a folder of segment files beside it for the blobs.
//!
//! ```text
//! DB_PATH/            sled's files (conf, db, snap.*, blobs/)
//! DB_PATH/segments/   one file per blob: <id as 16 hex digits>.seg
//! ```
//! A blob file is created exclusively, written, fsynced, and its folder fsynced, before
//! `put_blob` returns; it is never written again. sled's exclusive lock on its `db` file
//! keeps a second process out of the whole folder.
//!
//! A full disk. sled 0.34 does not survive running out of space in its own log: a flush
//! whose log write failed with ENOSPC can wait forever for a stable point that never
//! comes (the INSERT hangs, and so does every later commit of the handle), and an open
//! that fails half-way through writing its snapshot leaves a `snap.*.generating` file
//! that the next open reads as corruption. So sled is never let near a full disk: every
//! blob write and every commit first checks the filesystem's free space and is refused
//! with [`Error::NoSpace`] — before anything is written — when it would leave less than
//! [`RESERVE`] bytes free. The reserve covers what sled itself writes besides our
//! batches (segment roll-overs, its snapshot on open and close). A blob write that still
//! meets ENOSPC (another process filled the disk meanwhile) removes its partial file, and
//! `open` removes stale `.generating` snapshots, which sled only ever renames once they
//! are complete and synced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::mapped::Mapped;
use super::{Backend, Batch, Op, Visitor};
use crate::{Blob, Error, Result};

/// The folder of blob files inside the database folder.
const SEGMENTS: &str = "segments";

/// sled's page cache: the records it holds are small (catalog, manifests, recent objects,
/// bricks, journal), the bulk of the data is in the mapped segment files.
const CACHE_BYTES: u64 = 64 << 20;

/// Bytes every write leaves free on the database's filesystem (see the module header):
/// sled's log and snapshot always have room, so a full disk is a clear error on the write
/// that found it, never a hang or a damaged store.
pub const RESERVE: u64 = 4 << 20;

/// sled's log may write a batch more than once (its log record, then the rewritten pages
/// when it compacts) plus headers: a commit asks for this many times its bytes.
const LOG_FACTOR: u64 = 3;

/// How long [`SledBackend::open`] retries a database whose file lock is held before it
/// answers [`Error::Locked`].
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// A sled database used as one ordered keyspace, and its blob files.
#[derive(Debug)]
pub struct SledBackend {
    db: sled::Db,
    /// The database folder (its filesystem is the one whose space is checked).
    root: PathBuf,
    dir: PathBuf,
    /// Set when a flush failed after its batch reached sled's memory: from then on the
    /// in-memory tree may hold writes that are not durable, so commits are refused.
    poisoned: AtomicBool,
}

impl SledBackend {
    /// Opens (creating if missing) the database directory at `path`.
    ///
    /// sled's background flusher is off: every commit flushes itself, and nothing is
    /// acknowledged before its flush returns. A database another process has open is
    /// [`Error::Locked`].
    ///
    /// The lock is tried for up to 500 ms (`LOCK_WAIT`): sled finishes its last writes on its
    /// own I/O threads, so a handle of this process that was just dropped may hold the
    /// file lock for a few milliseconds more (a close followed at once by a reopen).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        remove_partial_snapshots(path)?;
        let started = std::time::Instant::now();
        let db = loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(CACHE_BYTES)
                .mode(sled::Mode::HighThroughput)
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(io)) if is_lock_error(&io) => {
                    if started.elapsed() >= LOCK_WAIT {
                        return Err(Error::Locked {
                            path: path.display().to_string(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(sled::Error::Io(io)) if crate::error::io_is_no_space(&io) => {
                    // sled could not write its snapshot: leave no half-written one behind.
                    remove_partial_snapshots(path)?;
                    return Err(Error::NoSpace {
                        what: "opening the database (sled writes its snapshot)".into(),
                        path: path.display().to_string(),
                        needed: RESERVE,
                        free: fs2::available_space(path).unwrap_or(0),
                        reserve: RESERVE,
                    });
                }
                Err(e) => return Err(Error::Sled(e)),
            }
        };
        let dir = path.join(SEGMENTS);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(SledBackend {
            db,
            root: path.to_path_buf(),
            dir,
            poisoned: AtomicBool::new(false),
        })
    }

    fn blob_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:016x}.seg"))
    }

    /// Refuses a write of `bytes` (described by `what`) that would leave less than
    /// [`RESERVE`] bytes free. When the free space cannot be read (a filesystem without
    /// statvfs), the write goes ahead.
    fn room(&self, what: impl FnOnce() -> String, bytes: u64) -> Result<()> {
        let needed = bytes.saturating_add(RESERVE);
        match fs2::available_space(&self.root) {
            Ok(free) if free < needed => Err(Error::NoSpace {
                what: what(),
                path: self.root.display().to_string(),
                needed,
                free,
                reserve: RESERVE,
            }),
            _ => Ok(()),
        }
    }

    fn write_blob(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        // The new name is durable only once its folder is.
        File::open(&self.dir)?.sync_all()
    }
}

/// Removes sled's `snap.<lsn>.generating` files from the database folder `path`: sled
/// writes a snapshot under that name and renames it only once it is complete and synced,
/// so such a file is always an interrupted write (a crash, a full disk) — and sled 0.34
/// would read it as the newest snapshot and fail to open the database as corrupt.
fn remove_partial_snapshots(path: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            let file = entry.path();
            std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
        }
    }
    Ok(())
}

/// sled reports a database held by another process as an I/O error from its file lock.
fn is_lock_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
        || e.raw_os_error() == Some(11)
        || e.to_string().contains("could not acquire lock")
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        for entry in self.db.scan_prefix(prefix) {
            let (k, v) = entry?;
            f(&k, &v)?;
        }
        Ok(())
    }

    fn commit(&self, batch: Batch) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned);
        }
        let bytes: u64 = batch
            .ops
            .iter()
            .map(|op| match op {
                Op::Put(k, v) => k.len() + v.len() + 16,
                Op::Delete(k) => k.len() + 16,
            } as u64)
            .sum();
        let writes = batch.ops.len();
        self.room(
            || format!("a commit of {writes} records"),
            bytes.saturating_mul(LOG_FACTOR),
        )?;
        let mut b = sled::Batch::default();
        for op in batch.ops {
            match op {
                Op::Put(k, v) => b.insert(k, v),
                Op::Delete(k) => b.remove(k),
            }
        }
        // An apply_batch error leaves nothing applied (sled batches are atomic).
        self.db.apply_batch(b)?;
        if let Err(e) = self.db.flush() {
            self.poisoned.store(true, Ordering::Release);
            return Err(e.into());
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64> {
        let mut total = self.db.size_on_disk()?;
        for id in self.blob_ids()? {
            let path = self.blob_path(id);
            total += std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len();
        }
        Ok(total)
    }

    fn put_blob(&self, id: u64, bytes: &[u8]) -> Result<()> {
        let path = self.blob_path(id);
        self.room(
            || format!("segment file {}", path.display()),
            bytes.len() as u64,
        )?;
        self.write_blob(&path, bytes).map_err(|e| {
            // Whatever reached the file is not named by any commit: remove it now rather
            // than leave it to the next open.
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                let _ = std::fs::remove_file(&path);
            }
            if crate::error::io_is_no_space(&e) {
                return Error::NoSpace {
                    what: format!("segment file {}", path.display()),
                    path: self.root.display().to_string(),
                    needed: (bytes.len() as u64).saturating_add(RESERVE),
                    free: fs2::available_space(&self.root).unwrap_or(0),
                    reserve: RESERVE,
                };
            }
            Error::io(&path, e)
        })
    }

    fn get_blob(&self, id: u64) -> Result<Blob> {
        let path = self.blob_path(id);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let map = Mapped::open(&file).map_err(|e| Error::io(&path, e))?;
        Ok(Blob::mapped(map))
    }

    fn delete_blob(&self, id: u64) -> Result<()> {
        let path = self.blob_path(id);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
            _ => Ok(()),
        }
    }

    fn blob_ids(&self) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
                continue;
            };
            if stem.len() == 16 {
                if let Ok(id) = u64::from_str_radix(stem, 16) {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_scan_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = SledBackend::open(dir.path().join("db")).unwrap();
            let mut b = Batch::default();
            b.put(b"a1".to_vec(), b"x".to_vec());
            b.put(b"a2".to_vec(), b"y".to_vec());
            b.put(b"b1".to_vec(), b"z".to_vec());
            b.delete(b"a2".to_vec());
            db.commit(b).unwrap();
        }
        let db = SledBackend::open(dir.path().join("db")).unwrap();
        let mut seen = Vec::new();
        db.scan_prefix(b"a", &mut |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(b"a1".to_vec(), b"x".to_vec())]);
        assert_eq!(db.get(b"b1").unwrap(), Some(b"z".to_vec()));
    }

    #[test]
    fn blobs_are_files_that_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = SledBackend::open(&path).unwrap();
            db.put_blob(7, b"seven").unwrap();
            db.put_blob(0x1_0000_0000, b"").unwrap();
            assert!(db.put_blob(7, b"again").is_err());
            assert_eq!(db.get_blob(7).unwrap().bytes(), b"seven");
        }
        let db = SledBackend::open(&path).unwrap();
        assert_eq!(db.blob_ids().unwrap(), [7, 0x1_0000_0000]);
        let held = db.get_blob(7).unwrap();
        assert!(held.is_mapped());
        db.delete_blob(7).unwrap();
        db.delete_blob(7).unwrap();
        // A reader keeps the bytes of a deleted blob.
        assert_eq!(held.bytes(), b"seven");
        assert_eq!(db.blob_ids().unwrap(), [0x1_0000_0000]);
        assert!(db.get_blob(7).is_err());
    }

    #[test]
    fn a_half_written_snapshot_does_not_make_the_store_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = SledBackend::open(&path).unwrap();
            let mut b = Batch::default();
            b.put(b"k".to_vec(), b"v".to_vec());
            db.commit(b).unwrap();
        }
        // What an open or close that ran out of space leaves: sled reads the newest name.
        std::fs::write(path.join("snap.FFFFFFFFFFFFFFFF.generating"), b"").unwrap();
        let db = SledBackend::open(&path).unwrap();
        assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
        assert!(!path.join("snap.FFFFFFFFFFFFFFFF.generating").exists());
    }

    #[test]
    fn a_write_that_would_eat_the_reserve_is_refused_before_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let db = SledBackend::open(dir.path().join("db")).unwrap();
        let free = fs2::available_space(dir.path()).unwrap();
        let err = db.room(|| "a test write".into(), free).unwrap_err();
        assert!(err.is_no_space());
        let text = err.to_string();
        assert!(
            text.starts_with("no space left on device: a test write needs"),
            "{text}"
        );
        db.room(|| "a small write".into(), 1).unwrap();
    }

    #[test]
    fn a_second_open_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.db");
        let _first = SledBackend::open(&path).unwrap();
        let err = SledBackend::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("big.db") && err.contains("open in another process"),
            "{err}"
        );
    }
}
