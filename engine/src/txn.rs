//! Read and write transactions.
//!
//! A write transaction works on private copies of the maps it touches (sharing all
//! unchanged structure with the version it started from) and stages the store writes in
//! one batch. Every call validates fully before changing anything, so a rejected call
//! leaves the transaction as it was. `commit` stores the batch atomically and durably, then
//! publishes the new version; dropping the transaction discards it.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::RawMutex;
use tensormap_storage::keys;
use tensormap_storage::{
    codec, Batch, CatalogRecord, JournalEntry, ManifestRecord, MapConfig, Op, Splat,
};

use crate::commit;
use crate::db::{Inner, Version};
use crate::index::RowHome;
use crate::map::{MapState, MapView};
use crate::models::StoredModel;
use crate::persist;
use crate::{Error, Object, Result};

mod columns;
pub use columns::ObjectColumns;

/// The longest map name, in bytes.
pub const MAX_MAP_NAME_BYTES: usize = 255;

/// A consistent, unchanging view of the database as of `begin_read`.
#[derive(Debug, Clone)]
pub struct ReadTransaction {
    version: Arc<Version>,
}

impl ReadTransaction {
    pub(crate) fn new(version: Arc<Version>) -> Self {
        ReadTransaction { version }
    }

    /// Read access to map `name`.
    pub fn map(&self, name: &str) -> Result<MapView<'_>> {
        self.version.map(name)
    }

    /// The names of all maps.
    pub fn map_names(&self) -> Vec<&str> {
        self.version.maps.keys().map(String::as_str).collect()
    }

    /// The object `id` of `map`, as an owned copy.
    pub fn get(&self, map: &str, id: &str) -> Result<Option<Object>> {
        Ok(self.map(map)?.get(id).map(|o| o.to_object()))
    }

    /// Ids and distances of the objects of `map` within `radius` of `center`; see
    /// [`MapView::within`].
    pub fn within(&self, map: &str, center: [f32; 3], radius: f32) -> Result<Vec<String>> {
        Ok(self
            .map(map)?
            .within(center, radius)?
            .into_iter()
            .map(|o| o.id().to_string())
            .collect())
    }

    /// Ids and distances of the `k` objects nearest `point`; see [`MapView::nearest`].
    pub fn nearest(&self, map: &str, point: [f32; 3], k: usize) -> Result<Vec<(String, f32)>> {
        Ok(self
            .map(map)?
            .nearest(point, k)?
            .into_iter()
            .map(|(o, d)| (o.id().to_string(), d))
            .collect())
    }

    /// Ids and softmax weights of the top `k` candidates; see [`MapView::attention`].
    pub fn attention(
        &self,
        map: &str,
        query: &[f32],
        candidates: crate::Candidates<'_>,
        k: usize,
    ) -> Result<Vec<(String, f32)>> {
        Ok(self
            .map(map)?
            .attention(query, candidates, k)?
            .into_iter()
            .map(|(o, w)| (o.id().to_string(), w))
            .collect())
    }

    /// The value of one cell; see [`MapView::voxel`].
    pub fn voxel(&self, map: &str, i: u32, j: u32, k: u32) -> Result<Vec<f32>> {
        self.map(map)?.voxel(i, j, k)
    }

    /// The occupied cells within `radius` of `center`; see [`MapView::voxels_within`].
    pub fn voxels_within(
        &self,
        map: &str,
        center: [f32; 3],
        radius: f32,
    ) -> Result<crate::VoxelSet> {
        self.map(map)?.voxels_within(center, radius)
    }

    /// Figures of `map`.
    pub fn stats(&self, map: &str) -> Result<crate::MapStats> {
        self.map(map)?.stats()
    }

    /// Model `name`, if there is one.
    pub fn model(&self, name: &str) -> Option<Arc<StoredModel>> {
        self.version.models.get(name).cloned()
    }

    /// Every model, by name.
    pub fn models(&self) -> Vec<Arc<StoredModel>> {
        self.version.models.values().cloned().collect()
    }

    /// The bytes of model `name`.
    pub fn model_bytes(&self, name: &str) -> Result<tensormap_storage::Blob> {
        self.model(name)
            .map(|m| m.bytes().clone())
            .ok_or_else(|| Error::ModelNotFound(name.to_string()))
    }
}

/// The one open write transaction. Dropping it without `commit` rolls it back.
pub struct WriteTransaction {
    pub(crate) inner: Arc<Inner>,
    _guard: ArcMutexGuard<RawMutex, ()>,
    pub(crate) base: Arc<Version>,
    /// Maps changed by this transaction: `None` = dropped.
    pub(crate) changed: BTreeMap<String, Option<MapState>>,
    pub(crate) next_map_id: u32,
    pub(crate) batch: Batch,
    /// Checkpoint every changed map at commit, whatever its journal length.
    pub(crate) force_checkpoint: bool,
    /// Segment files of dropped maps (and blobs of dropped or replaced models), removed
    /// once the commit is durable.
    pub(crate) dropped_blobs: Vec<u64>,
    /// Models stored (`Some`) or dropped (`None`) by this transaction.
    pub(crate) changed_models: BTreeMap<String, Option<Arc<StoredModel>>>,
    /// The blobs of the models this transaction stores, written by the commit.
    pub(crate) model_blobs: Vec<(u64, tensormap_storage::Blob)>,
    /// The last blob id this transaction took (for models), if any.
    pub(crate) last_blob: Option<u64>,
}

impl std::fmt::Debug for WriteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTransaction")
            .field("changed", &self.changed.keys().collect::<Vec<_>>())
            .field("writes", &self.batch.len())
            .finish()
    }
}

fn check_map_name(name: &str) -> Result<()> {
    check_name(name, "map")
}

/// The rules of a map or model name: 1 to 255 bytes, no control character.
pub(crate) fn check_name(name: &str, what: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_MAP_NAME_BYTES {
        "it is longer than 255 bytes"
    } else if name.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    let name: String = name.chars().take(64).collect();
    Err(if what == "map" {
        Error::InvalidMapName {
            name,
            reason: reason.into(),
        }
    } else {
        Error::InvalidArgument(format!("invalid {what} name '{name}': {reason}"))
    })
}

impl WriteTransaction {
    pub(crate) fn new(
        inner: Arc<Inner>,
        guard: ArcMutexGuard<RawMutex, ()>,
        base: Arc<Version>,
    ) -> Self {
        WriteTransaction {
            inner,
            _guard: guard,
            next_map_id: base.next_map_id,
            base,
            changed: BTreeMap::new(),
            batch: Batch::default(),
            force_checkpoint: false,
            dropped_blobs: Vec::new(),
            changed_models: BTreeMap::new(),
            model_blobs: Vec::new(),
            last_blob: None,
        }
    }

    /// Hands out a new blob id (only the writer allocates; an id is never reused in a
    /// process, even when the commit that took it fails).
    pub(crate) fn allocate_blob(&mut self) -> u64 {
        let mut next = self.inner.next_blob.lock();
        let id = *next;
        *next += 1;
        self.last_blob = Some(id);
        id
    }

    pub(crate) fn state(&self, name: &str) -> Result<&MapState> {
        match self.changed.get(name) {
            Some(Some(state)) => Ok(state),
            Some(None) => Err(Error::MapNotFound(name.to_string())),
            None => self
                .base
                .maps
                .get(name)
                .map(|s| s.as_ref())
                .ok_or_else(|| Error::MapNotFound(name.to_string())),
        }
    }

    /// Read access to map `name` as this transaction has changed it. (It takes `&mut`
    /// because the field changes the transaction made are applied to the field first.)
    pub fn map(&mut self, name: &str) -> Result<MapView<'_>> {
        if let Some(Some(state)) = self.changed.get_mut(name) {
            commit::apply_now(state, &mut self.batch, &self.inner)?;
        }
        self.state(name).map(|state| MapView { state })
    }

    /// Read access to several maps at once (a join reads two), as this transaction has
    /// changed them.
    pub fn maps(&mut self, names: &[&str]) -> Result<Vec<MapView<'_>>> {
        for name in names {
            if let Some(Some(state)) = self.changed.get_mut(*name) {
                commit::apply_now(state, &mut self.batch, &self.inner)?;
            }
        }
        names
            .iter()
            .map(|n| self.state(n).map(|state| MapView { state }))
            .collect()
    }

    /// The names of all maps as this transaction sees them.
    pub fn map_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .base
            .maps
            .keys()
            .filter(|n| !self.changed.contains_key(*n))
            .map(String::as_str)
            .collect();
        names.extend(
            self.changed
                .iter()
                .filter(|(_, s)| s.is_some())
                .map(|(n, _)| n.as_str()),
        );
        names.sort_unstable();
        names
    }

    /// The object `id` of `map`, as an owned copy.
    pub fn get(&self, map: &str, id: &str) -> Result<Option<Object>> {
        Ok(MapView {
            state: self.state(map)?,
        }
        .get(id)
        .map(|o| o.to_object()))
    }

    /// Creates an empty map.
    pub fn create_map(&mut self, name: &str, config: MapConfig) -> Result<()> {
        check_map_name(name)?;
        config.validate()?;
        if self.state(name).is_ok() {
            return Err(Error::MapExists(name.to_string()));
        }
        let id = self.next_map_id;
        let next = id
            .checked_add(1)
            .ok_or_else(|| Error::InvalidArgument("the database has used up its map ids".into()))?;
        let record = codec::encode(&CatalogRecord {
            map_id: id,
            config: config.clone(),
        })?;
        let manifest = codec::encode(&ManifestRecord::default())?;
        let state = MapState::new(id, name, config);
        self.batch.put(keys::catalog(name), record);
        persist::journal::put_meta(&state, &mut self.batch)?;
        self.batch.put(keys::manifest(id), manifest);
        self.batch
            .put(keys::global(persist::NEXT_MAP_ID), codec::encode(&next)?);
        self.next_map_id = next;
        self.changed.insert(name.to_string(), Some(state));
        Ok(())
    }

    /// Renames map `name` to `new_name`, with everything in it (its objects, field and
    /// files are stored by the map's id: only its catalog entry moves). Readers of earlier
    /// versions keep reading it by its old name.
    pub fn rename_map(&mut self, name: &str, new_name: &str) -> Result<()> {
        check_map_name(new_name)?;
        self.state(name)?;
        if self.state(new_name).is_ok() {
            return Err(Error::MapExists(new_name.to_string()));
        }
        state_mut(&mut self.changed, &self.base, name)?;
        let Some(Some(mut state)) = self.changed.insert(name.to_string(), None) else {
            return Err(Error::MapNotFound(name.to_string()));
        };
        let record = codec::encode(&CatalogRecord {
            map_id: state.id,
            config: (*state.config).clone(),
        })?;
        state.name = Arc::from(new_name);
        self.batch.delete(keys::catalog(name));
        self.batch.put(keys::catalog(new_name), record);
        self.changed.insert(new_name.to_string(), Some(state));
        Ok(())
    }

    /// Drops a map and everything in it.
    pub fn drop_map(&mut self, name: &str) -> Result<()> {
        let state = self.state(name)?;
        // Readers of earlier versions may still read this map's field: read it before its
        // records go.
        state.field()?;
        let id = state.id;
        let blobs = persist::files_of(state);
        let prefix = keys::map_prefix(id);
        let mut doomed = Vec::new();
        self.inner.backend.scan_prefix(&prefix, &mut |k, _| {
            doomed.push(k.to_vec());
            Ok(())
        })?;
        // Keys this transaction wrote for the map are not in the store yet.
        doomed.extend(self.batch.ops().iter().filter_map(|op| match op {
            Op::Put(k, _) if k.starts_with(&prefix) => Some(k.clone()),
            _ => None,
        }));
        for k in doomed {
            self.batch.delete(k);
        }
        self.batch.delete(keys::catalog(name));
        self.dropped_blobs.extend(blobs);
        self.changed.insert(name.to_string(), None);
        Ok(())
    }

    /// Adds `object` to `map` and splats its embedding into the field. As
    /// [`WriteTransaction::insert_slice`], it refuses a map with a `NOT NULL` user column
    /// without a `DEFAULT`.
    pub fn insert(&mut self, map: &str, object: Object) -> Result<()> {
        let state = self.state(map)?;
        crate::user::check_defaults_suffice(state, map)?;
        object.validate(&state.config)?;
        if state.objects.find(&object.id).is_some() {
            return Err(Error::DuplicateId {
                map: map.to_string(),
                id: object.id,
            });
        }
        let state = state_mut(&mut self.changed, &self.base, map)?;
        state.objects.insert(&object);
        Ok(())
    }

    /// Adds every object of `objects` to `map`, or none: each is validated, and checked
    /// against the map's ids and the others', before any is added. Checking the ids of a
    /// large batch costs one pass over each segment's id table, not a search per object,
    /// so this is the fast way to load many objects. The error names the first bad object.
    pub fn insert_many(&mut self, map: &str, objects: Vec<Object>) -> Result<()> {
        self.insert_slice(map, &objects)
    }

    /// [`WriteTransaction::insert_many`] of objects the caller keeps (COPY does, to say
    /// which row an error's object came from).
    ///
    /// A map with a `NOT NULL` user column without a `DEFAULT` refuses objects given
    /// without their values (they would hold NULL there): insert them with
    /// [`WriteTransaction::insert_with_values`].
    pub fn insert_slice(&mut self, map: &str, objects: &[Object]) -> Result<()> {
        crate::user::check_defaults_suffice(self.state(map)?, map)?;
        self.insert_objects(map, objects)
    }

    /// [`WriteTransaction::insert_slice`] without the check of the map's user columns (the
    /// caller stores the objects' values itself, or the map has none).
    pub(crate) fn insert_objects(&mut self, map: &str, objects: &[Object]) -> Result<()> {
        let state = self.state(map)?;
        let duplicate = |id: &str| Error::DuplicateId {
            map: map.to_string(),
            id: id.to_string(),
        };
        if let Some(bad) = objects
            .iter()
            .position(|o| o.validate(&state.config).is_err())
        {
            // The first bad object, as a row-by-row insert would find it: a repeated id
            // before the invalid one is reported first.
            let ids: Vec<&str> = objects[..bad].iter().map(|o| o.id.as_str()).collect();
            if let Some(id) = state.objects.first_taken(&ids, false) {
                return Err(duplicate(id));
            }
            return objects[bad].validate(&state.config);
        }
        let ids: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
        if let Some(id) = state.objects.first_taken(&ids, true) {
            return Err(duplicate(id));
        }
        drop(ids);
        let state = state_mut(&mut self.changed, &self.base, map)?;
        state.objects.reserve(objects.len());
        for o in objects {
            state.objects.insert(o);
        }
        Ok(())
    }

    /// Starts restoring map `name` (which must not exist yet) with `config`: a snapshot's
    /// objects and its field, given as they are through the returned handle. The objects'
    /// splats are not made — the field is exactly the bricks given — and the commit stores
    /// the field as a brick file and the objects on the bulk path.
    pub fn restore_map(&mut self, name: &str, config: MapConfig) -> Result<MapRestore<'_>> {
        self.create_map(name, config)?;
        if let Some(Some(state)) = self.changed.get_mut(name) {
            state.restored = true;
        }
        Ok(MapRestore {
            txn: self,
            name: name.to_string(),
        })
    }

    /// Replaces the object with `object.id`: its old splat is removed, the new one added.
    pub fn update(&mut self, map: &str, object: Object) -> Result<()> {
        let state = self.state(map)?;
        object.validate(&state.config)?;
        if state.objects.find(&object.id).is_none() {
            return Err(Error::ObjectNotFound {
                map: map.to_string(),
                id: object.id,
            });
        }
        let state = state_mut(&mut self.changed, &self.base, map)?;
        remove(state, &object.id, &mut self.batch);
        state.objects.insert(&object);
        Ok(())
    }

    /// Deletes object `id`, removing its splat.
    pub fn delete(&mut self, map: &str, id: &str) -> Result<()> {
        let state = self.state(map)?;
        if state.objects.find(id).is_none() {
            return Err(Error::ObjectNotFound {
                map: map.to_string(),
                id: id.to_string(),
            });
        }
        let state = state_mut(&mut self.changed, &self.base, map)?;
        remove(state, id, &mut self.batch);
        crate::user::forget(state, id, &mut self.batch);
        Ok(())
    }

    /// Makes the commit fold every map's field journal into stored bricks and merge every
    /// map's objects into one segment file (see [`crate::Database::checkpoint`]).
    pub fn checkpoint(&mut self) -> Result<()> {
        let untidy: Vec<String> = self
            .map_names()
            .into_iter()
            .filter(|name| {
                self.state(name).is_ok_and(|s| {
                    s.journal.journal_next > s.journal.journal_start
                        || !s.pending.is_empty()
                        || s.objects.segments() > 1
                        || s.objects.volatile().next().is_some()
                        || s.objects.segs().iter().any(|g| g.dead_count > 0)
                })
            })
            .map(str::to_string)
            .collect();
        for name in untidy {
            state_mut(&mut self.changed, &self.base, &name)?;
        }
        self.force_checkpoint = true;
        Ok(())
    }

    /// What undoes every later change to map `name` (a statement that fails half-way, such
    /// as a restore of a damaged file, rolls back to it).
    pub(crate) fn savepoint(&self, name: &str) -> Savepoint {
        Savepoint {
            name: name.to_string(),
            map: self.changed.get(name).cloned(),
            batch_len: self.batch.len(),
            next_map_id: self.next_map_id,
        }
    }

    /// Undoes every change to the savepoint's map since it was taken. Only that map may have
    /// been changed since.
    pub(crate) fn rollback_to(&mut self, saved: Savepoint) {
        match saved.map {
            Some(state) => self.changed.insert(saved.name, state),
            None => self.changed.remove(&saved.name),
        };
        self.batch.truncate(saved.batch_len);
        self.next_map_id = saved.next_map_id;
    }

    /// Makes every change durable, then visible to new readers. On error nothing changed.
    ///
    /// The commit point: the thread's commit gate, if any ([`crate::with_commit_gate`]), is
    /// asked here, before anything is written; refused, the transaction is rolled back and
    /// this returns [`Error::CommitRefused`]. Past it the commit runs to its end: nothing
    /// inside it checks a limit, a deadline or a gate.
    pub fn commit(self) -> Result<()> {
        if !crate::gate::admits() {
            // `self` is dropped here: every change discarded, the writer lock released.
            return Err(Error::CommitRefused);
        }
        commit::commit(self)
    }

    /// Discards every change.
    pub fn abort(self) {}
}

/// A transaction's state for one map at some point (see [`WriteTransaction::savepoint`]).
pub(crate) struct Savepoint {
    name: String,
    map: Option<Option<MapState>>,
    batch_len: usize,
    next_map_id: u32,
}

/// A map being restored inside a write transaction (see [`WriteTransaction::restore_map`]).
pub struct MapRestore<'t> {
    txn: &'t mut WriteTransaction,
    name: String,
}

impl std::fmt::Debug for MapRestore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MapRestore({})", self.name)
    }
}

impl MapRestore<'_> {
    /// Adds objects, checked as [`WriteTransaction::insert_many`] checks them, without
    /// splatting them (the field comes from [`MapRestore::brick`]).
    pub fn insert_many(&mut self, objects: Vec<Object>) -> Result<()> {
        self.txn.insert_many(&self.name, objects)?;
        let state = state_mut(&mut self.txn.changed, &self.txn.base, &self.name)?;
        state.objects.mark_applied();
        Ok(())
    }

    /// Sets brick `coords` of the field: `CELLS × channels` values and `CELLS` splat
    /// counts (cell order `x + 8y + 64z`). Each brick may be given once; a cell with count 0
    /// must hold zeros, every value must be finite.
    pub fn brick(&mut self, coords: [u32; 3], values: Vec<f32>, counts: Vec<u32>) -> Result<()> {
        let state = state_mut(&mut self.txn.changed, &self.txn.base, &self.name)?;
        let channels = state.config.channels as usize;
        let per_axis = state.config.resolution / tensormap_storage::brick::EDGE as u32;
        let cells = tensormap_storage::brick::CELLS;
        let bad = |reason: String| {
            Err(Error::InvalidArgument(format!(
                "brick {coords:?}: {reason}"
            )))
        };
        if coords.iter().any(|c| *c >= per_axis) {
            return bad(format!("outside the grid of {per_axis} bricks per axis"));
        }
        if values.len() != cells * channels || counts.len() != cells {
            return bad(format!(
                "{} values and {} counts, expected {} and {cells}",
                values.len(),
                counts.len(),
                cells * channels
            ));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return bad(format!("value {i} is not finite"));
        }
        if let Some(c) = (0..cells).find(|c| {
            counts[*c] == 0
                && values[c * channels..(c + 1) * channels]
                    .iter()
                    .any(|v| *v != 0.0)
        }) {
            return bad(format!("cell {c} has a value but no splat covers it"));
        }
        let m = crate::field::octree::morton(coords);
        if state.dirty_bricks.contains(&m) || state.field()?.brick(coords).is_some() {
            return bad("given twice".into());
        }
        let (field, dirty) = state.field_and_dirty()?;
        field.load_brick(coords, values, counts);
        dirty.insert(m);
        Ok(())
    }
}

/// The transaction's private copy of map `name`, made on first use: its field is read
/// (if it was not yet) so the transaction can change it.
pub(crate) fn state_mut<'a>(
    changed: &'a mut BTreeMap<String, Option<MapState>>,
    base: &Version,
    name: &str,
) -> Result<&'a mut MapState> {
    let entry = match changed.entry(name.to_string()) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => {
            let mut copy = base
                .maps
                .get(name)
                .map(|s| MapState::clone(s))
                .ok_or_else(|| Error::MapNotFound(name.to_string()))?;
            // A field still being updated by the last bulk commit is waited for only
            // when this transaction touches it (so the next batch of a load is checked
            // meanwhile); one loaded from disk is read now, its errors reported here.
            if !copy.field_pending() {
                copy.field_mut()?;
            }
            e.insert(Some(copy))
        }
    };
    entry
        .as_mut()
        .ok_or_else(|| Error::MapNotFound(name.to_string()))
}

/// Unindexes the live object `id` and queues the removal of its splat, by reference when
/// its row is in a segment file.
fn remove(state: &mut MapState, id: &str, batch: &mut Batch) {
    let Some(row) = state.objects.find(id) else {
        return;
    };
    let o = state.objects.object(row);
    let splat = || {
        JournalEntry::Splat(Splat {
            add: false,
            position: o.position(),
            embedding: o.embedding().to_vec(),
        })
    };
    let entry = match state.objects.home(row) {
        RowHome::Memtable { applied: false } => None,
        RowHome::Memtable { applied: true } => Some(splat()),
        RowHome::Volatile => {
            batch.delete(keys::object(state.id, id));
            Some(splat())
        }
        RowHome::Durable { segment, slot } => Some(JournalEntry::RemoveRow { segment, slot }),
    };
    state.pending.extend(entry);
    state.objects.remove(row);
}
