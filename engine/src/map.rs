//! One map as a version of the database holds it ([`MapState`]), and the read API over it
//! ([`MapView`]), shared by read and write transactions.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use tensormap_storage::{BrickFile, JournalEntry, MapConfig, MapMetaRecord};

use crate::field::{Field, VoxelSet};
use crate::index::{ObjectIndex, ObjectRef};
use crate::object::{check_position, check_vector};
use crate::{Error, Result};

/// A field and the bricks it holds that differ from their stored copies.
#[derive(Debug, Clone)]
pub(crate) struct LoadedField {
    pub field: Field,
    pub dirty: BTreeSet<u64>,
}

/// The loader of a field not read yet.
pub(crate) type FieldLoader = Box<dyn Fn() -> Result<LoadedField> + Send + Sync>;

/// A map's field as loaded on open: read (bricks, then the journal replayed) on first use,
/// so opening a database costs nothing per brick. Every version that shares it shares
/// the one load.
pub(crate) struct LazyField {
    cell: OnceLock<std::result::Result<LoadedField, Arc<Error>>>,
    load: FieldLoader,
    /// Computed by a commit's thread (not read from disk).
    pending: bool,
}

impl std::fmt::Debug for LazyField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazyField(loaded: {})", self.cell.get().is_some())
    }
}

impl LazyField {
    pub fn new(load: FieldLoader) -> Self {
        LazyField {
            cell: OnceLock::new(),
            load,
            pending: false,
        }
    }

    /// A field a commit's thread is computing; `wait` returns it.
    pub fn pending(wait: FieldLoader) -> Self {
        LazyField {
            pending: true,
            ..LazyField::new(wait)
        }
    }

    /// The field, loading it the first time (concurrent callers wait for that load).
    pub fn get(&self) -> Result<&LoadedField> {
        self.cell
            .get_or_init(|| (self.load)().map_err(Arc::new))
            .as_ref()
            .map_err(|e| Error::Field(e.clone()))
    }
}

/// A map's field: in memory, or still on disk.
#[derive(Debug, Clone)]
pub(crate) enum FieldSlot {
    Ready(Field),
    Lazy(Arc<LazyField>),
}

/// A map's objects and field at one version.
#[derive(Debug, Clone)]
pub(crate) struct MapState {
    pub id: u32,
    pub name: Arc<str>,
    pub config: Arc<MapConfig>,
    pub objects: ObjectIndex,
    pub field: FieldSlot,
    /// The field's brick files, oldest first (the manifest's list).
    pub brick_files: Vec<Arc<BrickFile>>,
    /// The committed journal range (see `MapMetaRecord`).
    pub journal: MapMetaRecord,
    /// Morton codes of bricks changed since the last checkpoint (meaningful once the field
    /// is `Ready`; a `Lazy` field carries its own).
    pub dirty_bricks: Arc<BTreeSet<u64>>,
    /// Field changes a write transaction has made but not yet applied (removals: they are
    /// applied together, in brick order, for locality). Always empty in a published version.
    pub pending: Vec<JournalEntry>,
    /// Set by a write transaction that restores the map: its field was given brick by
    /// brick, so the commit checkpoints it (the journal cannot say how it was made).
    /// Always false in a published version.
    pub restored: bool,
}

impl MapState {
    pub fn new(id: u32, name: &str, config: MapConfig) -> Self {
        let config = Arc::new(config);
        MapState {
            id,
            name: Arc::from(name),
            objects: ObjectIndex::new(config.channels as usize),
            field: FieldSlot::Ready(Field::new(config.clone())),
            brick_files: Vec::new(),
            journal: MapMetaRecord::default(),
            dirty_bricks: Arc::default(),
            pending: Vec::new(),
            restored: false,
            config,
        }
    }

    /// Whether the field is being computed by the thread of a bulk commit.
    pub fn field_pending(&self) -> bool {
        matches!(&self.field, FieldSlot::Lazy(l) if l.pending && l.cell.get().is_none())
    }

    /// The field, loading it if needed.
    pub fn field(&self) -> Result<&Field> {
        match &self.field {
            FieldSlot::Ready(f) => Ok(f),
            FieldSlot::Lazy(lazy) => Ok(&lazy.get()?.field),
        }
    }

    /// The field (`Ready`, loading it if needed) and its dirty-brick set, both writable.
    pub fn field_and_dirty(&mut self) -> Result<(&mut Field, &mut BTreeSet<u64>)> {
        self.field_mut()?;
        match &mut self.field {
            FieldSlot::Ready(f) => Ok((f, Arc::make_mut(&mut self.dirty_bricks))),
            FieldSlot::Lazy(_) => Err(Error::InvalidArgument("field not loaded".into())),
        }
    }

    /// Makes the field `Ready` (a private copy a writer can change), loading it if needed.
    pub fn field_mut(&mut self) -> Result<&mut Field> {
        if let FieldSlot::Lazy(lazy) = &self.field {
            let loaded = lazy.get()?;
            self.dirty_bricks = Arc::new(loaded.dirty.clone());
            self.field = FieldSlot::Ready(loaded.field.clone());
        }
        match &mut self.field {
            FieldSlot::Ready(f) => Ok(f),
            FieldSlot::Lazy(_) => Err(Error::InvalidArgument("field not loaded".into())),
        }
    }
}

/// Which objects an attention query ranks.
#[derive(Debug, Clone, Copy)]
pub enum Candidates<'a> {
    /// Every object of the map.
    All,
    /// The objects with these ids (unknown ids are skipped, repeated ids count once).
    Ids(&'a [&'a str]),
    /// The objects within `radius` of `center`.
    Within {
        /// Centre of the sphere.
        center: [f32; 3],
        /// Its radius.
        radius: f32,
    },
}

/// Figures of one map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapStats {
    /// Live objects.
    pub objects: u64,
    /// Segments of the object index.
    pub index_segments: u64,
    /// Bricks of the field.
    pub bricks: u64,
    /// Cells covered by at least one splat.
    pub covered_cells: u64,
    /// The largest cell norm of the field.
    pub max_norm: f32,
    /// Splats journaled since the last brick checkpoint (replayed by the next open).
    pub journal_splats: u64,
}

/// Read access to one map inside a transaction. Every method sees the transaction's version.
#[derive(Debug, Clone, Copy)]
pub struct MapView<'a> {
    pub(crate) state: &'a MapState,
}

fn check_radius(radius: f32) -> Result<()> {
    if radius.is_finite() && radius >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "radius must be a finite number >= 0, found {radius}"
        )))
    }
}

fn check_point(p: [f32; 3]) -> Result<()> {
    if p.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("point {p:?} is not finite")))
    }
}

impl<'a> MapView<'a> {
    /// The map's name.
    pub fn name(&self) -> &'a str {
        &self.state.name
    }

    /// Its settings.
    pub fn config(&self) -> &'a MapConfig {
        &self.state.config
    }

    /// Live objects.
    pub fn len(&self) -> usize {
        self.state.objects.len()
    }

    /// True when the map holds no object.
    pub fn is_empty(&self) -> bool {
        self.state.objects.is_empty()
    }

    /// The object `id`.
    pub fn get(&self, id: &str) -> Option<ObjectRef<'a>> {
        let o = &self.state.objects;
        o.find(id).map(|row| o.object(row))
    }

    /// The map's user columns, in declared order.
    pub fn columns(&self) -> &'a [crate::user::ColumnDef] {
        self.state.objects.user.columns()
    }

    /// Every object, in no particular order.
    pub fn objects(&self) -> impl Iterator<Item = ObjectRef<'a>> + 'a {
        let o = &self.state.objects;
        o.rows().map(move |row| o.object(row))
    }

    /// The objects whose position is within `radius` of `center`, from the packed R-trees.
    pub fn within(&self, center: [f32; 3], radius: f32) -> Result<Vec<ObjectRef<'a>>> {
        check_point(center)?;
        check_radius(radius)?;
        let o = &self.state.objects;
        Ok(o.within(center, radius)
            .into_iter()
            .map(|r| o.object(r))
            .collect())
    }

    /// The `k` objects nearest `point` with their distances, nearest first, ties by id.
    pub fn nearest(&self, point: [f32; 3], k: usize) -> Result<Vec<(ObjectRef<'a>, f32)>> {
        check_point(point)?;
        let o = &self.state.objects;
        Ok(o.nearest(point, k)
            .into_iter()
            .map(|(r, d)| (o.object(r), d))
            .collect())
    }

    /// Scaled dot-product attention of `query` over the candidates: the softmax weight
    /// `exp(q·e_i/√channels) / Σ_j exp(q·e_j/√channels)` of the top `k`, highest first,
    /// ties by id. The weights of all candidates sum to 1.
    pub fn attention(
        &self,
        query: &[f32],
        candidates: Candidates<'_>,
        k: usize,
    ) -> Result<Vec<(ObjectRef<'a>, f32)>> {
        check_vector("query", query, self.state.config.channels as usize)
            .map_err(Error::InvalidArgument)?;
        let o = &self.state.objects;
        let ranked = match candidates {
            Candidates::All => o.attention_all(query, k),
            Candidates::Ids(ids) => {
                let mut rows: Vec<_> = ids.iter().filter_map(|id| o.find(id)).collect();
                rows.sort();
                rows.dedup();
                o.attention_rows(&rows, query, k)
            }
            Candidates::Within { center, radius } => {
                check_point(center)?;
                check_radius(radius)?;
                o.attention_rows(&o.within(center, radius), query, k)
            }
        };
        Ok(ranked.into_iter().map(|(r, w)| (o.object(r), w)).collect())
    }

    /// Calls `f` with the embeddings of the map's objects where they lie (no copy), as
    /// runs of consecutive live objects: each run row-major, `channels` values a row, in
    /// no particular order. Bulk readers use it (an export, the scan a memory-bandwidth
    /// bound is measured by).
    pub fn embedding_runs(&self, f: &mut dyn FnMut(&'a [f32])) {
        self.state.objects.embedding_runs(f)
    }

    fn check_cell(&self, cell: [u32; 3]) -> Result<()> {
        let res = self.state.config.resolution;
        if cell.iter().all(|v| *v < res) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "cell {cell:?} is outside the grid 0..{res}"
            )))
        }
    }

    /// The value of cell `(i, j, k)` at the map's dtype (zeros where nothing is splatted).
    pub fn voxel(&self, i: u32, j: u32, k: u32) -> Result<Vec<f32>> {
        self.check_cell([i, j, k])?;
        Ok(self.state.field()?.voxel([i, j, k]))
    }

    /// The occupied cells whose centre lies within `radius` of `center`.
    pub fn voxels_within(&self, center: [f32; 3], radius: f32) -> Result<VoxelSet> {
        check_point(center)?;
        check_radius(radius)?;
        Ok(self.state.field()?.voxels_within(center, radius))
    }

    /// The cell holding world position `p` (which must be inside the bounds).
    pub fn cell_of(&self, p: [f32; 3]) -> Result<[u32; 3]> {
        check_position(&p, &self.state.config).map_err(Error::InvalidArgument)?;
        Ok(p.map(|x| self.state.config.cell_of(x)))
    }

    /// The map's field, for whole-field traversals (rendering, snapshots). The first use
    /// after an open reads it from the store, which can fail (a damaged brick or journal).
    pub fn field(&self) -> Result<&'a Field> {
        self.state.field()
    }

    /// Figures of the map (reads the field on its first use).
    pub fn stats(&self) -> Result<MapStats> {
        let f = self.state.field()?.stats();
        let j = &self.state.journal;
        Ok(MapStats {
            objects: self.state.objects.len() as u64,
            index_segments: self.state.objects.segments() as u64,
            bricks: f.bricks,
            covered_cells: f.covered_cells,
            max_norm: f.max_norm,
            journal_splats: j.journal_splats,
        })
    }
}
