//! `Database`: opening a store, the published version readers start from, and the
//! single-writer lock.
//!
//! Concurrency: the current version is an `Arc<Version>` behind a read-write lock held only
//! long enough to clone or swap the `Arc`. A reader keeps the version it started with for
//! as long as it lives; a commit publishes a new one after the store has made it durable.
//! One write transaction at a time holds the writer mutex.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tensormap_storage::{Backend, MapConfig, MemoryBackend, SledBackend};

use crate::map::{MapState, MapView};
use crate::persist;
use crate::txn::{ReadTransaction, WriteTransaction};
use crate::{Error, Result};

/// One committed state of the database.
#[derive(Debug, Clone, Default)]
pub(crate) struct Version {
    pub maps: BTreeMap<String, Arc<MapState>>,
    pub next_map_id: u32,
}

impl Version {
    pub fn map(&self, name: &str) -> Result<MapView<'_>> {
        self.maps
            .get(name)
            .map(|state| MapView { state })
            .ok_or_else(|| Error::MapNotFound(name.to_string()))
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub backend: Arc<dyn Backend>,
    pub current: RwLock<Arc<Version>>,
    pub writer: Arc<Mutex<()>>,
    pub functions: crate::Registry,
}

/// A tensormap database: tensor maps, persistent and transactional.
///
/// Cloning a `Database` gives another handle to the same database.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
}

/// A map's name, settings and object count.
#[derive(Debug, Clone, PartialEq)]
pub struct MapInfo {
    /// Its name.
    pub name: String,
    /// Its settings.
    pub config: MapConfig,
    /// Live objects.
    pub objects: u64,
}

impl Database {
    /// Opens the database directory at `path`, creating it if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::with_backend(Arc::new(SledBackend::open(path)?))
    }

    /// A database that lives in memory only.
    pub fn open_in_memory() -> Result<Self> {
        Self::with_backend(Arc::new(MemoryBackend::new()))
    }

    /// Opens a database over any backend (tests use a shared [`MemoryBackend`] to model
    /// restarts and inject faults).
    pub fn with_backend(backend: Arc<dyn Backend>) -> Result<Self> {
        let loaded = persist::load(backend.as_ref())?;
        let version = Version {
            maps: loaded
                .maps
                .into_iter()
                .map(|m| (m.name.to_string(), Arc::new(m)))
                .collect(),
            next_map_id: loaded.next_map_id,
        };
        Ok(Database {
            inner: Arc::new(Inner {
                backend,
                current: RwLock::new(Arc::new(version)),
                writer: Arc::new(Mutex::new(())),
                functions: crate::Registry::default(),
            }),
        })
    }

    /// Starts a write transaction, waiting for the current writer to finish.
    pub fn begin_write(&self) -> Result<WriteTransaction> {
        let guard = Mutex::lock_arc(&self.inner.writer);
        let base = self.inner.current.read().clone();
        Ok(WriteTransaction::new(self.inner.clone(), guard, base))
    }

    /// Starts a read transaction on the latest committed version.
    pub fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(ReadTransaction::new(self.inner.current.read().clone()))
    }

    /// Creates map `name` in its own transaction.
    pub fn create_map(&self, name: &str, config: MapConfig) -> Result<()> {
        let mut txn = self.begin_write()?;
        txn.create_map(name, config)?;
        txn.commit()
    }

    /// Drops map `name` and everything in it, in its own transaction.
    pub fn drop_map(&self, name: &str) -> Result<()> {
        let mut txn = self.begin_write()?;
        txn.drop_map(name)?;
        txn.commit()
    }

    /// Folds every map's splat journal into its stored bricks now, so the next open replays
    /// nothing, and merges each map's object index into one segment, so queries search one
    /// tree. Commits fold journals by themselves when they grow long and keep O(log n)
    /// segments; this is for a quiet moment: after a bulk load, or before copying the
    /// database files.
    pub fn checkpoint(&self) -> Result<()> {
        let mut txn = self.begin_write()?;
        txn.checkpoint()?;
        txn.commit()
    }

    /// Every map, by name.
    pub fn maps(&self) -> Vec<MapInfo> {
        self.inner
            .current
            .read()
            .maps
            .values()
            .map(|m| MapInfo {
                name: m.name.to_string(),
                config: (*m.config).clone(),
                objects: m.objects.len() as u64,
            })
            .collect()
    }

    /// Registers a scalar function callable from TensorQL as `name(arg, ...)` with exactly
    /// `arity` arguments (names are case-insensitive; a later registration replaces an
    /// earlier one).
    pub fn register_function(
        &self,
        name: &str,
        arity: usize,
        f: impl Fn(&[crate::Value]) -> std::result::Result<crate::Value, String> + Send + Sync + 'static,
    ) {
        self.inner.functions.register(name, arity, Arc::new(f));
    }

    /// The registered functions.
    pub fn functions(&self) -> &crate::Registry {
        &self.inner.functions
    }

    /// Bytes the committed records of map `name` take in the store (keys and values, before
    /// the store's own overhead; see [`Database::size_on_disk`] for the whole file set).
    /// Reads every record of the map.
    pub fn map_stored_bytes(&self, name: &str) -> Result<u64> {
        let id = {
            let current = self.inner.current.read();
            current.map(name)?.state.id
        };
        let mut bytes = tensormap_storage::keys::catalog(name).len() as u64;
        if let Some(v) = self
            .inner
            .backend
            .get(&tensormap_storage::keys::catalog(name))?
        {
            bytes += v.len() as u64;
        }
        self.inner
            .backend
            .scan_prefix(&tensormap_storage::keys::map_prefix(id), &mut |k, v| {
                bytes += (k.len() + v.len()) as u64;
                Ok(())
            })?;
        Ok(bytes)
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.inner.backend.size_on_disk()?)
    }
}
