//! Files COPY writes and reads: written through a temporary file renamed into place (a
//! reader never sees half a file, a failed export leaves none), and the Parquet files of
//! a folder found in a stable order.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tensormap_query::copy::CopyError;
use tensormap_query::ErrorKind;

/// How a path is shown in errors.
pub fn show(path: &Path) -> String {
    path.display().to_string()
}

/// A file being written: bytes go to `<name>.tmp-copy` beside the target, which
/// [`AtomicFile::commit`] renames into place. Dropped without commit, the temporary file
/// is removed.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    tmp: TmpGuard,
    /// Where the bytes go (buffered).
    pub out: BufWriter<File>,
}

/// Removes a temporary file when dropped, unless disarmed.
#[derive(Debug)]
struct TmpGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl AtomicFile {
    /// Starts writing `target` (its folder must exist).
    pub fn create(target: &Path) -> Result<Self, CopyError> {
        let mut name = target
            .file_name()
            .ok_or_else(|| {
                CopyError::new(ErrorKind::InvalidValue, show(target), "not a file name")
            })?
            .to_os_string();
        name.push(".tmp-copy");
        let tmp = target.with_file_name(name);
        let file = File::create(&tmp)
            .map_err(|e| CopyError::io(show(target), format!("cannot create: {e}")))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp: TmpGuard {
                path: tmp,
                armed: true,
            },
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// Flushes, syncs and renames the file into place; returns its size in bytes.
    pub fn commit(self) -> Result<u64, CopyError> {
        let AtomicFile {
            target,
            mut tmp,
            mut out,
        } = self;
        let io = |e: std::io::Error| write_error(&target, e);
        out.flush().map_err(io)?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        drop(file);
        std::fs::rename(&tmp.path, &target).map_err(io)?;
        tmp.armed = false;
        Ok(bytes)
    }
}

/// An I/O error writing `path`.
pub fn write_error(path: &Path, e: impl std::fmt::Display) -> CopyError {
    CopyError::io(show(path), format!("cannot write: {e}"))
}

/// The `.parquet` files under folder `dir`, at any depth, in path order.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, CopyError> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| CopyError::io(show(&d), format!("cannot read the folder: {e}")))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| CopyError::io(show(&d), format!("cannot read the folder: {e}")))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| CopyError::io(show(&path), e.to_string()))?;
            if kind.is_dir() {
                todo.push(path);
            } else if path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("parquet"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(CopyError::file(
            show(dir),
            "the folder holds no .parquet file",
        ));
    }
    Ok(found)
}
