//! Writing a file atomically: everything goes to a temporary file in the destination's
//! folder; [`AtomicFile::commit`] flushes it, fsyncs it, renames it over the destination
//! and fsyncs the folder. Until the rename the destination is untouched (an existing file
//! stays whole); dropping an uncommitted `AtomicFile`, or a failed commit, removes the
//! temporary file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary files of one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// A file being written to a temporary name, published by [`AtomicFile::commit`].
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    temp: PathBuf,
    file: Option<BufWriter<File>>,
    /// Test hook: fail every write once this many bytes were accepted.
    #[cfg(test)]
    pub(crate) fail_after: Option<u64>,
    #[cfg(test)]
    written: u64,
}

impl AtomicFile {
    /// Starts writing `path`: creates `.<name>.<pid>.<n>.tmp` beside it.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let name = path.file_name().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(
            ".{}.{}.tmp",
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let temp = path.with_file_name(temp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            #[cfg(test)]
            fail_after: None,
            #[cfg(test)]
            written: 0,
        })
    }

    /// The temporary file's path (for tests and messages).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Makes the file durable under its final name. On error the temporary file is
    /// removed and the destination is as it was (unless only the folder's fsync failed:
    /// then the new file is in place but its durability is unknown).
    pub fn commit(&mut self) -> std::io::Result<()> {
        let Some(buf) = self.file.take() else {
            return Err(std::io::Error::other("the file was already committed"));
        };
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.path)?;
        // Renamed: nothing left to clean up, whatever happens next.
        self.temp = PathBuf::new();
        sync_folder(&self.path)
    }

    fn writer(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the file was already committed"))
    }
}

#[cfg(unix)]
fn sync_folder(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_path: &Path) -> std::io::Result<()> {
    // Windows cannot open a folder for fsync; its rename is made durable by the file system.
    Ok(())
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        #[cfg(test)]
        if let Some(limit) = self.fail_after {
            if self.written + buf.len() as u64 > limit {
                return Err(std::io::Error::other("injected write failure"));
            }
            self.written += buf.len() as u64;
        }
        self.writer()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tensor3d");
        std::fs::write(&path, b"old").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        let temp = f.temp_path().to_path_buf();
        assert!(temp.exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        drop(f);
        assert!(!temp.exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        drop(f);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
