//! An in-memory backend for tests, with fault injection: it can be told to fail the Nth
//! write or the Nth flush from now. A failed commit leaves the contents untouched, which is
//! what a crash before the flush completes leaves behind in a real store. A blob write
//! counts as one write.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Backend, Batch, Op, Visitor};
use crate::{Blob, Error, Result};

#[derive(Debug, Default)]
struct State {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    blobs: BTreeMap<u64, Blob>,
    /// Writes (ops) performed so far, over all commits.
    writes: u64,
    /// Flushes performed so far (one per commit).
    flushes: u64,
    fail_write: Option<u64>,
    fail_flush: Option<u64>,
}

/// A shared in-memory store. Clones share the same contents, so a test can drop a
/// `Database` and open another on the same backend to model a restart.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    state: Arc<Mutex<State>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `n`th write from now (0 = the next one) fail, once.
    pub fn fail_nth_write(&self, n: u64) {
        let mut s = self.state.lock();
        s.fail_write = Some(s.writes + n);
    }

    /// Makes the `n`th flush from now (0 = the next commit's) fail, once.
    pub fn fail_nth_flush(&self, n: u64) {
        let mut s = self.state.lock();
        s.fail_flush = Some(s.flushes + n);
    }

    /// Clears any pending injected fault.
    pub fn clear_faults(&self) {
        let mut s = self.state.lock();
        s.fail_write = None;
        s.fail_flush = None;
    }

    /// Writes performed so far (successful or not, each op counts once).
    pub fn writes(&self) -> u64 {
        self.state.lock().writes
    }

    /// A copy of the whole contents (the records; see [`MemoryBackend::blob_ids`] and
    /// [`MemoryBackend::dump_blobs`] for the blobs).
    pub fn dump(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.state.lock().data.clone()
    }

    /// A copy of every blob.
    pub fn dump_blobs(&self) -> BTreeMap<u64, Vec<u8>> {
        let s = self.state.lock();
        s.blobs
            .iter()
            .map(|(k, b)| (*k, b.bytes().to_vec()))
            .collect()
    }

    /// Replaces the value at `key` as a disk corruption would (no checks, no counting).
    pub fn corrupt(&self, key: &[u8], value: Vec<u8>) {
        self.state.lock().data.insert(key.to_vec(), value);
    }

    /// Replaces blob `id` as a disk corruption would (no checks, no counting).
    pub fn corrupt_blob(&self, id: u64, bytes: &[u8]) {
        self.state.lock().blobs.insert(id, Blob::copy_from(bytes));
    }

    /// Takes one write from the fault budget: the injected failure if it is due.
    fn count_write(s: &mut State, what: &str) -> Result<()> {
        let at = s.writes;
        s.writes += 1;
        if s.fail_write == Some(at) {
            s.fail_write = None;
            return Err(Error::InjectedFault(format!("{what} failed")));
        }
        Ok(())
    }
}

impl Backend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.state.lock().data.get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        // Copy out first: `f` may take long, and must not run under the lock.
        let entries: Vec<(Vec<u8>, Vec<u8>)> = {
            let s = self.state.lock();
            s.data
                .range(prefix.to_vec()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for (k, v) in entries {
            f(&k, &v)?;
        }
        Ok(())
    }

    fn commit(&self, batch: Batch) -> Result<()> {
        let mut s = self.state.lock();
        let first = s.writes;
        let n = batch.len() as u64;
        if let Some(at) = s.fail_write {
            if at >= first && at < first + n {
                s.writes = at + 1;
                s.fail_write = None;
                return Err(Error::InjectedFault(format!(
                    "write {} of {n} in this commit failed",
                    at - first + 1
                )));
            }
        }
        s.writes += n;
        let flush = s.flushes;
        s.flushes += 1;
        if s.fail_flush == Some(flush) {
            s.fail_flush = None;
            return Err(Error::InjectedFault("flush failed".into()));
        }
        for op in batch.ops {
            match op {
                Op::Put(k, v) => {
                    s.data.insert(k, v);
                }
                Op::Delete(k) => {
                    s.data.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64> {
        let s = self.state.lock();
        let records: u64 = s.data.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        let blobs: u64 = s.blobs.values().map(|b| b.len() as u64).sum();
        Ok(records + blobs)
    }

    fn put_blob(&self, id: u64, bytes: &[u8]) -> Result<()> {
        self.put_shared_blob(id, &Blob::copy_from(bytes))
    }

    /// Keeps `blob` itself (shared): an in-memory database's segment is not copied when
    /// its commit stores it. The same write counted, the same refusal of an existing id.
    fn put_shared_blob(&self, id: u64, blob: &Blob) -> Result<()> {
        let mut s = self.state.lock();
        Self::count_write(&mut s, &format!("write of blob {id}"))?;
        if s.blobs.contains_key(&id) {
            return Err(Error::Encode {
                what: format!("blob {id}"),
                reason: "it exists already".into(),
            });
        }
        s.blobs.insert(id, blob.clone());
        Ok(())
    }

    fn get_blob(&self, id: u64) -> Result<Blob> {
        self.state
            .lock()
            .blobs
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::CorruptSegment {
                segment: id,
                offset: 0,
                reason: "the segment is missing".into(),
            })
    }

    fn delete_blob(&self, id: u64) -> Result<()> {
        self.state.lock().blobs.remove(&id);
        Ok(())
    }

    fn blob_ids(&self) -> Result<Vec<u64>> {
        Ok(self.state.lock().blobs.keys().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: u8) -> Batch {
        let mut b = Batch::default();
        for i in 0..n {
            b.put(vec![i], vec![i]);
        }
        b
    }

    #[test]
    fn a_failed_write_or_flush_applies_nothing_and_fires_once() {
        let m = MemoryBackend::new();
        m.fail_nth_write(2);
        assert!(m.commit(batch(4)).is_err());
        assert!(m.dump().is_empty());
        m.commit(batch(4)).unwrap();
        assert_eq!(m.dump().len(), 4);
        m.fail_nth_flush(0);
        let mut b = Batch::default();
        b.delete(vec![0]);
        assert!(m.commit(b.clone()).is_err());
        assert_eq!(m.dump().len(), 4);
        m.commit(b).unwrap();
        assert_eq!(m.dump().len(), 3);
    }

    #[test]
    fn a_shared_blob_is_kept_as_a_put_blob_of_its_bytes() {
        let m = MemoryBackend::new();
        let blob = Blob::copy_from(b"shared bytes");
        m.fail_nth_write(0);
        assert!(m.put_shared_blob(1, &blob).is_err());
        assert!(m.blob_ids().unwrap().is_empty());
        m.put_shared_blob(1, &blob).unwrap();
        assert!(m.put_shared_blob(1, &blob).is_err());
        assert_eq!(m.get_blob(1).unwrap().bytes(), b"shared bytes");
        assert_eq!(m.dump_blobs()[&1], b"shared bytes");
    }

    #[test]
    fn a_blob_write_counts_as_a_write_and_can_fail() {
        let m = MemoryBackend::new();
        m.fail_nth_write(1);
        m.put_blob(1, b"one").unwrap();
        assert!(m.put_blob(2, b"two").is_err());
        assert_eq!(m.blob_ids().unwrap(), [1]);
        m.put_blob(2, b"two").unwrap();
        assert_eq!(m.get_blob(2).unwrap().bytes(), b"two");
        m.delete_blob(1).unwrap();
        assert_eq!(m.blob_ids().unwrap(), [2]);
        assert!(m.get_blob(1).is_err());
    }
}
