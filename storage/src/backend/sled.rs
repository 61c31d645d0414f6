//! The production backend: one sled tree; a commit is one `apply_batch` and one `flush`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Backend, Batch, Op, Visitor};
use crate::{Error, Result};

/// A sled database used as one ordered keyspace.
#[derive(Debug)]
pub struct SledBackend {
    db: sled::Db,
    /// Set when a flush failed after its batch reached sled's memory: from then on the
    /// in-memory tree may hold writes that are not durable, so commits are refused.
    poisoned: AtomicBool,
}

impl SledBackend {
    /// Opens (creating if missing) the database directory at `path`.
    ///
    /// sled's background flusher is off: every commit flushes itself, and nothing is
    /// acknowledged before its flush returns.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(1 << 30)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(None)
            .open()?;
        Ok(SledBackend {
            db,
            poisoned: AtomicBool::new(false),
        })
    }
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
        Ok(self.db.size_on_disk()?)
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
}
