//! Snapshots of maps: [`ReadTransaction::snapshot`] (or [`MapView::snapshot`]) writes a map
//! as a transaction sees it to a `.tensor3d` file (storage's [`tensormap_storage::snapshot`] format), and
//! [`WriteTransaction::restore`] / [`Database::restore`] make a new map from one.
//!
//! A snapshot is consistent: it is written from one read transaction's version, which no
//! later commit changes, so writers go on while it is written and the file holds the map
//! exactly as it was at one commit. A restore does not re-splat the objects: the field is
//! the file's bricks, and the objects go in on the bulk path.
//!
//! A map with user columns carries them in the file's user columns section (schema and
//! each object's values; binary form only); a map without writes the file it wrote before
//! that section existed, and a file without the section restores a map without them.

use std::path::Path;

use tensormap_storage::brick::CELLS;
use tensormap_storage::snapshot::{
    ObjectEntry, SnapshotError, SnapshotInfo, SnapshotOptions, SnapshotReader, SnapshotWriter,
    UserColumns,
};

use crate::{Database, Error, MapView, Object, ReadTransaction, Result, WriteTransaction};

/// Reports progress: `done` of `total` units (bytes for a snapshot, objects and bricks for
/// a restore).
pub type ProgressFn<'a> = &'a mut dyn FnMut(u64, u64);

/// Objects between two progress reports.
const REPORT_EVERY: usize = 4096;

/// What a restore made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreInfo {
    /// Objects restored.
    pub objects: u64,
    /// Bricks of the field restored.
    pub bricks: u64,
}

impl ReadTransaction {
    /// Writes map `map` as this transaction sees it to a snapshot at `path` (atomically: the
    /// file appears complete or not at all). `options.dtype` is the field's type in the
    /// file; TensorQL's default is the map's own dtype, which loses nothing.
    pub fn snapshot(
        &self,
        map: &str,
        path: impl AsRef<Path>,
        options: &SnapshotOptions,
    ) -> Result<SnapshotInfo> {
        self.map(map)?.snapshot(path, options, &mut |_, _| {})
    }
}

impl MapView<'_> {
    /// Writes this map to a snapshot at `path` (see [`ReadTransaction::snapshot`]),
    /// reporting the logical bytes written so far.
    pub fn snapshot(
        &self,
        path: impl AsRef<Path>,
        options: &SnapshotOptions,
        progress: ProgressFn<'_>,
    ) -> Result<SnapshotInfo> {
        let config = self.config();
        let field = self.field()?;
        let channels = config.channels as u64;
        let brick_bytes = CELLS as u64 * channels * 4;
        let object_bytes =
            |id: &str, kind: &str| (id.len() + kind.len()) as u64 + 12 + 4 * channels + 4;

        let mut coords = Vec::new();
        field.for_each_brick(&mut |b, _, _| coords.push(b));
        coords.sort_unstable_by_key(|b| tensormap_storage::brick::morton(*b));
        let mut total = coords.len() as u64 * brick_bytes;
        for o in self.objects() {
            total += object_bytes(o.id(), o.kind());
        }

        // A map with user columns adds the section that carries them (the binary form
        // only); one without writes exactly the file it wrote before the section existed.
        let mut w = match self.user_columns() {
            Some(columns) => SnapshotWriter::create_with_columns(path, config, options, &columns)
                .map_err(|e| match e {
                SnapshotError::Invalid { reason, .. } => Error::InvalidArgument(format!(
                    "cannot snapshot map '{}': {reason}",
                    self.name()
                )),
                e => e.into(),
            })?,
            None => SnapshotWriter::create(path, config, options)?,
        };
        let mut done = 0u64;
        progress(0, total);
        for (n, o) in self.objects().enumerate() {
            w.push_object(&ObjectEntry {
                id: o.id(),
                kind: o.kind(),
                position: o.position(),
                embedding: o.embedding(),
                confidence: o.confidence(),
            })?;
            done += object_bytes(o.id(), o.kind());
            if n % REPORT_EVERY == REPORT_EVERY - 1 {
                progress(done, total);
            }
        }
        w.begin_field(&coords)?;
        for b in coords {
            let Some((brick, _)) = field.brick(b) else {
                return Err(Error::InvalidArgument(format!(
                    "brick {b:?} of map '{}' vanished while it was written",
                    self.name()
                )));
            };
            w.push_brick(b, &brick.values, &brick.counts)?;
            done += brick_bytes;
            progress(done, total);
        }
        let info = w.finish()?;
        progress(total, total);
        Ok(info)
    }
}

impl MapView<'_> {
    /// The map's user columns as a snapshot carries them: its schema and, in the order
    /// of [`MapView::objects`], the cells of the objects that store any (only the cells of
    /// columns the schema still has: a dropped column's values stay stored, unread).
    /// `None` for a map that never had user columns.
    fn user_columns(&self) -> Option<UserColumns> {
        let table = &self.state.objects.user;
        let schema = table.schema();
        if schema.columns.is_empty() && schema.next_id == 0 {
            return None;
        }
        let live = |c: &u32| schema.columns.iter().any(|d| d.id == *c);
        let mut rows = Vec::with_capacity(table.stored());
        for o in self.objects() {
            if let Some(cells) = table.cells(o.id()) {
                let cells: Vec<_> = cells.iter().filter(|(c, _)| live(c)).cloned().collect();
                if !cells.is_empty() {
                    rows.push((o.id().to_string(), cells));
                }
            }
        }
        Some(UserColumns {
            schema: schema.clone(),
            rows,
        })
    }
}

impl WriteTransaction {
    /// Makes map `name` (which must not exist) from the snapshot at `path`, in this
    /// transaction: its settings, objects and field as the file holds them. On error the
    /// transaction is as it was before the call.
    pub fn restore(&mut self, name: &str, path: impl AsRef<Path>) -> Result<RestoreInfo> {
        self.restore_with_progress(name, path, &mut |_, _| {})
    }

    /// [`WriteTransaction::restore`], reporting objects and bricks restored so far.
    pub fn restore_with_progress(
        &mut self,
        name: &str,
        path: impl AsRef<Path>,
        progress: ProgressFn<'_>,
    ) -> Result<RestoreInfo> {
        let reader = SnapshotReader::open(path)?;
        let saved = self.savepoint(name);
        let result = self.restore_from(name, &reader, progress);
        if result.is_err() {
            self.rollback_to(saved);
        }
        result
    }

    fn restore_from(
        &mut self,
        name: &str,
        reader: &SnapshotReader,
        progress: ProgressFn<'_>,
    ) -> Result<RestoreInfo> {
        let total = reader.object_count() + reader.brick_count();
        progress(0, total);
        let mut restore = self.restore_map(name, reader.config().clone())?;
        let mut done = 0u64;
        for chunk in reader.objects() {
            let chunk = chunk?;
            let objects: Vec<Object> = chunk
                .iter()
                .map(|o| {
                    Object::new(o.id, o.kind, o.position, o.embedding.to_vec())
                        .with_confidence(o.confidence)
                })
                .collect();
            done += objects.len() as u64;
            restore.insert_many(objects)?;
            progress(done, total);
        }
        let mut bricks = 0u64;
        for brick in reader.bricks() {
            let b = brick?;
            restore.brick(b.coords, b.values, b.counts)?;
            bricks += 1;
            done += 1;
            progress(done, total);
        }
        if let Some(columns) = reader.user_columns() {
            self.restore_columns(name, columns)?;
        }
        Ok(RestoreInfo {
            objects: reader.object_count(),
            bricks,
        })
    }
}

impl Database {
    /// Makes map `name` (which must not exist) from the snapshot at `path`, in a transaction
    /// of its own: durable when this returns; on error nothing changed.
    pub fn restore(&self, name: &str, path: impl AsRef<Path>) -> Result<RestoreInfo> {
        let mut txn = self.begin_write()?;
        let info = txn.restore(name, path)?;
        txn.commit()?;
        Ok(info)
    }
}
