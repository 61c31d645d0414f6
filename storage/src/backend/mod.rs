//! The narrow storage backend trait and the write batch.
//!
//! A backend is one ordered key-value space plus a set of immutable blobs (segment files).
//! The engine asks it for point reads, prefix scans, and one atomic, durable
//! [`Backend::commit`] per transaction. Blobs are written and made durable *before* the
//! commit that names them; a blob no commit names (a crash came between the two) is an
//! orphan, which the engine removes on open.

pub(crate) mod mapped;
mod memory;
mod sled;

pub use self::memory::MemoryBackend;
pub use self::sled::{SledBackend, RESERVE};
use crate::{Blob, Result};

/// The callback of [`Backend::scan_prefix`]: called with each key and value.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Set `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Remove `key` (absent keys are fine).
    Delete(Vec<u8>),
}

/// The writes of one commit, applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    /// Appends a put.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op::Put(key, value));
    }

    /// Appends a delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push(Op::Delete(key));
    }

    /// Keeps only the writes for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Op) -> bool) {
        self.ops.retain(keep);
    }

    /// Drops every write after the first `len` (a savepoint's undo).
    pub fn truncate(&mut self, len: usize) {
        self.ops.truncate(len);
    }

    /// The writes, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A persistent ordered key-value store.
///
/// Contract of [`commit`](Backend::commit): when it returns `Ok`, every write of the batch is
/// durable; when it returns `Err`, none of them is visible to later reads (a backend that
/// cannot guarantee that after a failed flush refuses all further commits with
/// [`crate::Error::Poisoned`]).
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Calls `f` on every entry whose key starts with `prefix`, in key order; stops at the
    /// first error `f` returns.
    fn scan_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()>;

    /// Applies `batch` atomically and makes it durable.
    fn commit(&self, batch: Batch) -> Result<()>;

    /// Bytes the store occupies on disk, blobs included (the in-memory backend: its
    /// logical size).
    fn size_on_disk(&self) -> Result<u64>;

    /// Stores blob `id` (which must not exist) and makes it durable before returning. On
    /// error nothing is left under `id`.
    fn put_blob(&self, id: u64, bytes: &[u8]) -> Result<()>;

    /// [`Backend::put_blob`] of `blob`'s bytes. A backend that keeps blobs in memory may
    /// keep this one (shared, immutable) instead of a copy; the others write its bytes.
    fn put_shared_blob(&self, id: u64, blob: &Blob) -> Result<()> {
        self.put_blob(id, blob.bytes())
    }

    /// Blob `id`, read-only (the sled backend maps the file).
    fn get_blob(&self, id: u64) -> Result<Blob>;

    /// Removes blob `id` (absent blobs are fine). Readers holding it keep their bytes.
    fn delete_blob(&self, id: u64) -> Result<()>;

    /// The ids of every stored blob, ascending.
    fn blob_ids(&self) -> Result<Vec<u64>>;
}
