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
use tensormap_storage::{codec, Batch, CatalogRecord, MapConfig, Op, Splat};

use crate::db::{Inner, Version};
use crate::map::{MapState, MapView};
use crate::persist;
use crate::{Error, Object, Result};

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
        Ok(self.map(map)?.stats())
    }
}

/// The one open write transaction. Dropping it without `commit` rolls it back.
pub struct WriteTransaction {
    inner: Arc<Inner>,
    _guard: ArcMutexGuard<RawMutex, ()>,
    base: Arc<Version>,
    /// Maps changed by this transaction: `None` = dropped.
    changed: BTreeMap<String, Option<MapState>>,
    next_map_id: u32,
    batch: Batch,
    /// Checkpoint every changed map at commit, whatever its journal length.
    force_checkpoint: bool,
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
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_MAP_NAME_BYTES {
        "it is longer than 255 bytes"
    } else if name.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(Error::InvalidMapName {
        name: name.chars().take(64).collect(),
        reason: reason.into(),
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
        }
    }

    fn state(&self, name: &str) -> Result<&MapState> {
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
    /// because the splats the transaction made are applied to the field first.)
    pub fn map(&mut self, name: &str) -> Result<MapView<'_>> {
        if let Some(Some(state)) = self.changed.get_mut(name) {
            persist::apply_pending(state, &mut self.batch)?;
        }
        self.state(name).map(|state| MapView { state })
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
        let state = MapState::new(id, name, config);
        self.batch.put(keys::catalog(name), record);
        persist::put_meta(&state, &mut self.batch)?;
        self.batch
            .put(keys::global(persist::NEXT_MAP_ID), codec::encode(&next)?);
        self.next_map_id = next;
        self.changed.insert(name.to_string(), Some(state));
        Ok(())
    }

    /// Drops a map and everything in it.
    pub fn drop_map(&mut self, name: &str) -> Result<()> {
        let id = self.state(name)?.id;
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
        self.changed.insert(name.to_string(), None);
        Ok(())
    }

    /// Adds `object` to `map` and splats its embedding into the field.
    pub fn insert(&mut self, map: &str, object: Object) -> Result<()> {
        let state = self.state(map)?;
        object.validate(&state.config)?;
        if state.objects.find(&object.id).is_some() {
            return Err(Error::DuplicateId {
                map: map.to_string(),
                id: object.id,
            });
        }
        let record = codec::encode(&object.to_record())?;
        let state = state_mut(&mut self.changed, &self.base, map)?;
        self.batch.put(keys::object(state.id, &object.id), record);
        add(state, &object);
        Ok(())
    }

    /// Replaces the object with `object.id`: its old splat is removed, the new one added.
    pub fn update(&mut self, map: &str, object: Object) -> Result<()> {
        let state = self.state(map)?;
        object.validate(&state.config)?;
        let Some(row) = state.objects.find(&object.id) else {
            return Err(Error::ObjectNotFound {
                map: map.to_string(),
                id: object.id,
            });
        };
        let old = state.objects.object(row).to_object();
        let record = codec::encode(&object.to_record())?;
        let state = state_mut(&mut self.changed, &self.base, map)?;
        remove(state, old);
        self.batch.put(keys::object(state.id, &object.id), record);
        add(state, &object);
        Ok(())
    }

    /// Deletes object `id`, removing its splat.
    pub fn delete(&mut self, map: &str, id: &str) -> Result<()> {
        let state = self.state(map)?;
        let Some(row) = state.objects.find(id) else {
            return Err(Error::ObjectNotFound {
                map: map.to_string(),
                id: id.to_string(),
            });
        };
        let old = state.objects.object(row).to_object();
        let state = state_mut(&mut self.changed, &self.base, map)?;
        remove(state, old);
        self.batch.delete(keys::object(state.id, id));
        Ok(())
    }

    /// Makes the commit fold every map's splat journal into stored bricks and merge every
    /// map's index into one segment (see [`crate::Database::checkpoint`]).
    pub fn checkpoint(&mut self) -> Result<()> {
        let journaled: Vec<String> = self
            .map_names()
            .into_iter()
            .filter(|name| {
                self.state(name).is_ok_and(|s| {
                    s.journal.journal_next > s.journal.journal_start
                        || !s.pending.is_empty()
                        || s.objects.segments() > 1
                })
            })
            .map(str::to_string)
            .collect();
        for name in journaled {
            state_mut(&mut self.changed, &self.base, &name)?;
        }
        self.force_checkpoint = true;
        Ok(())
    }

    /// Makes every change durable, then visible to new readers. On error nothing changed.
    pub fn commit(mut self) -> Result<()> {
        let mut changed = std::mem::take(&mut self.changed);
        // Splats journaled in this batch but applied to the field only below, off the
        // store's path (for maps that checkpoint they must be applied first).
        let mut unapplied: Vec<Vec<Splat>> = Vec::new();
        for state in changed.values_mut().flatten() {
            // Decided on the journal as committed so far, before this commit's splats.
            let checkpoint = self.force_checkpoint || persist::wants_checkpoint(state);
            let splats = persist::journal_pending(state, &mut self.batch)?;
            if checkpoint {
                persist::apply_splats(&mut state.field, &mut state.dirty_bricks, &splats);
                state.field.refresh();
                let committed_next = self
                    .base
                    .maps
                    .get(state.name.as_ref())
                    .filter(|b| b.id == state.id)
                    .map_or(0, |b| b.journal.journal_next);
                persist::checkpoint(state, committed_next, &mut self.batch)?;
                unapplied.push(Vec::new());
            } else {
                unapplied.push(splats);
            }
            if state.journal != self.base_journal(state) {
                persist::put_meta(state, &mut self.batch)?;
            }
        }
        // The store writes the batch while two more threads finish the in-memory version:
        // one applies the splats and refreshes the fields' aggregates, one seals the object
        // indexes. None of the three feeds another.
        let batch = std::mem::take(&mut self.batch);
        let backend = &self.inner.backend;
        let mut indexes = Vec::new();
        let mut fields = Vec::new();
        for (state, splats) in changed.values_mut().flatten().zip(&unapplied) {
            indexes.push(&mut state.objects);
            fields.push((&mut state.field, &mut state.dirty_bricks, splats));
        }
        let stored = std::thread::scope(|scope| {
            let merge_all = self.force_checkpoint;
            let sealing = scope.spawn(move || {
                for index in indexes {
                    index.seal();
                    if merge_all {
                        index.merge_all();
                    }
                }
            });
            let splatting = scope.spawn(move || {
                for (field, dirty, splats) in fields {
                    persist::apply_splats(field, dirty, splats);
                    field.refresh();
                }
            });
            let stored = if batch.is_empty() {
                Ok(())
            } else {
                backend.commit(batch)
            };
            for worker in [sealing, splatting] {
                if let Err(panic) = worker.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            stored
        });
        stored?;
        let mut version = (*self.base).clone();
        version.next_map_id = self.next_map_id;
        for (name, state) in changed {
            match state {
                Some(state) => version.maps.insert(name, Arc::new(state)),
                None => version.maps.remove(&name),
            };
        }
        *self.inner.current.write() = Arc::new(version);
        Ok(())
    }

    fn base_journal(&self, state: &MapState) -> tensormap_storage::MapMetaRecord {
        self.base
            .maps
            .get(state.name.as_ref())
            .filter(|b| b.id == state.id)
            .map(|b| b.journal)
            .unwrap_or_default()
    }

    /// Discards every change.
    pub fn abort(self) {}
}

/// The transaction's private copy of map `name`, made on first use.
fn state_mut<'a>(
    changed: &'a mut BTreeMap<String, Option<MapState>>,
    base: &Version,
    name: &str,
) -> Result<&'a mut MapState> {
    let entry = match changed.entry(name.to_string()) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => {
            let copy = base
                .maps
                .get(name)
                .map(|s| MapState::clone(s))
                .ok_or_else(|| Error::MapNotFound(name.to_string()))?;
            e.insert(Some(copy))
        }
    };
    entry
        .as_mut()
        .ok_or_else(|| Error::MapNotFound(name.to_string()))
}

/// Indexes `o` and queues its splat.
fn add(state: &mut MapState, o: &Object) {
    state.pending.push(Splat {
        add: true,
        position: o.position,
        embedding: o.embedding.clone(),
    });
    state.objects.insert(o);
}

/// Unindexes `o` (which is live) and queues the removal of its splat.
fn remove(state: &mut MapState, o: Object) {
    if let Some(row) = state.objects.find(&o.id) {
        state.objects.remove(row);
    }
    state.pending.push(Splat {
        add: false,
        position: o.position,
        embedding: o.embedding,
    });
}
