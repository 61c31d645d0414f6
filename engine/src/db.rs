//! `Database`: opening a store, the published version readers start from, and the
//! single-writer lock.
//!
//! Concurrency: the current version is an `Arc<Version>` behind a read-write lock held only
//! long enough to clone or swap the `Arc`. A reader keeps the version it started with for
//! as long as it lives; a commit publishes a new one after the store has made it durable.
//! One write transaction at a time holds the writer mutex. A thread of the database's
//! own merges segments in the background (`merge/`); it holds the writer mutex only to
//! install a finished merge, and the last handle dropped closes it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tensormap_storage::{Backend, MapConfig, MemoryBackend, SledBackend};

use crate::map::{MapState, MapView};
use crate::merge::{self, Merger};
use crate::persist;
use crate::txn::{ReadTransaction, WriteTransaction};
use crate::{Error, Result};

/// One committed state of the database.
#[derive(Debug, Clone, Default)]
pub(crate) struct Version {
    pub maps: BTreeMap<String, Arc<MapState>>,
    pub models: BTreeMap<String, Arc<crate::models::StoredModel>>,
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
    pub options: Options,
    /// The next blob id to hand out (the writer and the merger take them); an id is never
    /// reused in a process, even when the commit that took it failed.
    pub next_blob: Mutex<u64>,
    /// What the background merger shares with commits and handles.
    pub merge: merge::Shared,
    /// Whether merges are worth finishing when the database closes: false for a private
    /// in-memory database, whose contents go with it.
    pub merge_at_close: bool,
}

/// How a database lays out what it stores. The defaults suit most uses; tests set small
/// values to exercise every path with little data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// A commit that inserts at least this many objects into a map writes them as a new
    /// segment file (the bulk path); smaller commits store them as object records.
    pub bulk_rows: usize,
    /// Object records of a map beyond which a commit seals them all into a segment file.
    pub seal_rows: usize,
    /// Live rows from which a segment file is large: while writes go on, large files merge
    /// only to keep at most 16 of a map's files durable, so a bulk load of up to 16
    /// commits rewrites nothing (smaller files merge four of about one size at a time).
    /// The background merger also merges a large first file with the files after it once
    /// they hold an eighth of its live rows (`merge/policy.rs`, levelled).
    pub large_rows: usize,
    /// Merge segment files on a thread of the database's own (the default): commits
    /// never rewrite segments then, except to keep a map under 32 files should the merger
    /// fall behind, and once writes pause each map converges to one segment. When false,
    /// commits merge as they go (the size-tiered rules only: a map keeps O(log n)
    /// segments until [`Database::checkpoint`]); the segment list is then a function of
    /// the commits alone, which some tests rely on.
    pub background_merge: bool,
    /// How long after the last commit (with no write transaction open) the merger counts
    /// writes as paused, and merges each map toward one segment.
    pub merge_quiet: Duration,
    /// The most rows a closing database still merges (about a second of work at the
    /// default); a larger merge is left for the next open, whose merger starts at once.
    pub close_merge_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bulk_rows: 4096,
            seal_rows: 16384,
            large_rows: 1 << 16,
            background_merge: true,
            merge_quiet: Duration::from_millis(50),
            close_merge_rows: 1 << 21,
        }
    }
}

/// A tensormap database: tensor maps, persistent and transactional.
///
/// Cloning a `Database` gives another handle to the same database. Dropping the last
/// handle closes it: the background merger finishes a small merge (up to
/// [`Options::close_merge_rows`]) and leaves a larger one to the next open.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
    /// The background merger, stopped when the last handle goes.
    _merger: Option<Arc<Merger>>,
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
    /// Opens the database directory at `path`, creating it if missing. The time it takes
    /// does not grow with the data: segment files are mapped and checked, not decoded, and
    /// each map's voxel field is read on first use. A database another process has open is
    /// an error ("database '…' is open in another process").
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Options::default())
    }

    /// [`Database::open`] with storage options.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Self> {
        Self::with_backend_options(Arc::new(SledBackend::open(path)?), options)
    }

    /// A database that lives in memory only.
    pub fn open_in_memory() -> Result<Self> {
        Self::open_on(Arc::new(MemoryBackend::new()), Options::default(), false)
    }

    /// Opens a database over any backend (tests use a shared [`MemoryBackend`] to model
    /// restarts and inject faults).
    pub fn with_backend(backend: Arc<dyn Backend>) -> Result<Self> {
        Self::with_backend_options(backend, Options::default())
    }

    /// [`Database::with_backend`] with storage options.
    pub fn with_backend_options(backend: Arc<dyn Backend>, options: Options) -> Result<Self> {
        Self::open_on(backend, options, true)
    }

    fn open_on(backend: Arc<dyn Backend>, options: Options, reopenable: bool) -> Result<Self> {
        let loaded = persist::load(&backend)?;
        let version = Version {
            maps: loaded
                .maps
                .into_iter()
                .map(|m| (m.name.to_string(), Arc::new(m)))
                .collect(),
            models: loaded
                .models
                .into_iter()
                .map(|m| (m.name().to_string(), Arc::new(m)))
                .collect(),
            next_map_id: loaded.next_map_id,
        };
        let inner = Arc::new(Inner {
            backend,
            current: RwLock::new(Arc::new(version)),
            writer: Arc::new(Mutex::new(())),
            functions: crate::Registry::default(),
            options,
            next_blob: Mutex::new(loaded.next_blob),
            merge: merge::Shared::default(),
            merge_at_close: reopenable,
        });
        let merger = if options.background_merge {
            Merger::start(inner.clone()).map(Arc::new)
        } else {
            None
        };
        Ok(Database {
            inner,
            _merger: merger,
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

    /// Folds every map's field journal into its stored bricks now, so loading the field
    /// replays nothing, and merges each map's objects into one segment file without its
    /// deleted rows, so queries search one tree and the disk holds only live data. It is
    /// one write transaction (writers wait for it). Commits fold journals by themselves
    /// when they grow long, and the background merger brings each map to one segment once
    /// writes pause; this is for wanting it now: after a bulk load, or before copying the
    /// database files.
    pub fn checkpoint(&self) -> Result<()> {
        let mut txn = self.begin_write()?;
        txn.checkpoint()?;
        txn.commit()
    }

    /// Blocks until the background merger has done what it would do once writes pause:
    /// each map merged toward one segment (see [`Options::background_merge`]). Returns at
    /// once without a merger. Do not call it while this thread holds a write transaction:
    /// a merge is installed under the writer lock.
    pub fn wait_for_merges(&self) {
        self.inner.merge.wait();
    }

    /// Why the last background merge failed, if one did (a merge that fails is retried
    /// after the next commit; the database is unchanged by it).
    pub fn merge_error(&self) -> Option<String> {
        self.inner.merge.error()
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

    /// Every stored model, by name (see [`crate::WriteTransaction::put_model`]).
    pub fn models(&self) -> Vec<Arc<crate::StoredModel>> {
        self.inner.current.read().models.values().cloned().collect()
    }

    /// Registers a scalar function callable from TensorQL as `name(arg, ...)` with exactly
    /// `arity` arguments (names are case-insensitive; a later registration replaces an
    /// earlier one).
    pub fn register_function(
        &self,
        name: &str,
        arity: usize,
        f: impl Fn(&[crate::Value]) -> std::result::Result<crate::Value, crate::CallError>
            + Send
            + Sync
            + 'static,
    ) {
        self.inner.functions.register(name, arity, Arc::new(f));
    }

    /// The registered functions.
    pub fn functions(&self) -> &crate::Registry {
        &self.inner.functions
    }

    /// Bytes the committed data of map `name` takes in the store: its records (keys and
    /// values) and its segment files, before the store's own overhead (see
    /// [`Database::size_on_disk`] for the whole file set).
    pub fn map_stored_bytes(&self, name: &str) -> Result<u64> {
        let (id, files) = {
            let current = self.inner.current.read();
            let state = current.map(name)?.state;
            let files: u64 = state
                .objects
                .durable()
                .map(|s| s.file.blob().len() as u64)
                .sum();
            (state.id, files)
        };
        let mut bytes = files + tensormap_storage::keys::catalog(name).len() as u64;
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

    /// The logical size of map `name`: what its live objects hold (id, type, position,
    /// embedding, confidence) plus its field's stored bricks at the map's dtype (values and
    /// splat counts) — the measure [`Database::size_on_disk`] is compared against.
    pub fn map_logical_bytes(&self, name: &str) -> Result<u64> {
        let read = self.begin_read()?;
        let view = read.map(name)?;
        let ch = view.config().channels as u64;
        let objects: u64 = view
            .objects()
            .map(|o| (o.id().len() + o.kind().len()) as u64 + 12 + 4 * ch + 4)
            .sum();
        let width = match view.config().dtype {
            tensormap_storage::Dtype::F32 => 4,
            tensormap_storage::Dtype::F16 => 2,
            tensormap_storage::Dtype::I8 => 1,
        };
        let cells = tensormap_storage::brick::CELLS as u64;
        let bricks = view.stats()?.bricks;
        Ok(objects + bricks * cells * (ch * width + 4))
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.inner.backend.size_on_disk()?)
    }
}
