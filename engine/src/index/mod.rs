//! The object index of one map: an LSM in miniature.
//!
//! A version of the index is a list of immutable segments (columns in packed R-tree
//! order, see [`segment`]), each with a copy-on-write tombstone bitset, plus a small
//! mutable memtable that only a write transaction fills. Durable segments are files the
//! map's manifest names, viewed in place (memory-mapped); volatile segments are built in
//! memory over the rows of small commits, which are stored as records until enough of
//! them are sealed into a file. The segment list keeps every durable segment before every
//! volatile one. Publishing a version clones a few `Arc`s: no tree is ever copied per
//! commit.
//!
//! Committing turns the memtable into a segment: a durable one written directly when the
//! commit inserts many rows (the bulk path), a volatile one otherwise. Volatile segments
//! merge in memory when of about one size; durable ones merge when of about one size or
//! mostly dead (see `persist`), so a version holds O(log n) segments.
//!
//! A large batch inserted from columns into an empty memtable skips the memtable: it is
//! built into a segment at once and *staged* (the last segment of the list, `Home::Staged`)
//! until the commit writes it as the bulk path's file, so its rows are copied once and no
//! per-row id table is built (`stage`). Anything but reading it — another insert, a
//! delete, the field's update inside the transaction — first turns it back into memtable
//! rows (`unstage`), so the rest of the index never sees a staged segment beside a
//! memtable row, and the commit turns it into a durable segment or unstages it first.
//!
//! Invariants: every id is live in at most one place (one segment slot, or the memtable);
//! a staged segment is the last one, has no dead row, and exists only while the memtable
//! is empty and nothing was applied to the field; published versions hold none.

mod columns;
mod packed;
pub mod segment;

use std::sync::Arc;

use tensormap_storage::segment::{id_hash, WARM_IDS};
use tensormap_storage::SegmentFile;

use self::columns::Columns;
pub use self::columns::{Chain, Picked, RecordRows};
use self::packed::{dist2, Nearest};
use self::segment::{Home, LiveRows, SegRef};
use crate::attention::{score_rows, Ranked};
use crate::Object;

/// Where a row lives: segment `seg` (or the memtable when `seg == MEM`) and slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Row {
    seg: u32,
    slot: u32,
}

const MEM: u32 = u32::MAX;

/// Segments of about one size merged into one (size-tiered compaction): each object is
/// rewritten about log₄(n / batch) times.
pub const FAN_IN: usize = 4;

/// Volatile segments beyond which the two newest merge whatever their sizes.
const MAX_VOLATILE: usize = 24;

/// Rows per thread below which an attention scan stays on one thread.
const PARALLEL_ROWS: usize = 1 << 17;

/// Where a live row is stored, as the commit needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowHome {
    /// Inserted by this transaction: `applied` when its splat is already in the field.
    Memtable { applied: bool },
    /// In a volatile segment: stored as an object record.
    Volatile,
    /// Slot `slot` of durable segment `segment`.
    Durable { segment: u64, slot: u32 },
}

#[derive(Debug, Clone, Copy)]
enum Src<'a> {
    Mem(&'a Columns),
    Seg(&'a SegmentFile),
}

/// A borrowed view of one object of an index.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    src: Src<'a>,
    slot: u32,
    /// The map's user columns.
    user: &'a crate::user::UserTable,
}

impl<'a> ObjectRef<'a> {
    /// A nearest-neighbour answer of at most this many rows comes with its ids brought
    /// into the cache (`ObjectIndex::nearest`): whoever reads them next need not.
    pub const NEAREST_IDS_WARMED: usize = WARM_IDS;

    /// The id.
    pub fn id(&self) -> &'a str {
        match self.src {
            Src::Mem(c) => c.id(self.slot),
            Src::Seg(f) => f.id_of(self.slot as usize),
        }
    }
    /// The id's UTF-8 bytes, not checked again (to compare ids: the byte order is the
    /// `str` order).
    pub fn id_bytes(&self) -> &'a [u8] {
        match self.src {
            Src::Mem(c) => c.id(self.slot).as_bytes(),
            Src::Seg(f) => f.id_bytes_of(self.slot as usize),
        }
    }
    /// The type, shared (no copy).
    pub fn shared_kind(&self) -> Arc<str> {
        match self.src {
            Src::Mem(c) => c.kinds[self.slot as usize].clone(),
            Src::Seg(f) => f.types()[f.kind_codes()[self.slot as usize] as usize].clone(),
        }
    }
    /// The type.
    pub fn kind(&self) -> &'a str {
        match self.src {
            Src::Mem(c) => c.kind_of(self.slot),
            Src::Seg(f) => &f.types()[f.kind_codes()[self.slot as usize] as usize],
        }
    }
    /// The position.
    pub fn position(&self) -> [f32; 3] {
        match self.src {
            Src::Mem(c) => c.positions[self.slot as usize],
            Src::Seg(f) => f.positions()[self.slot as usize],
        }
    }
    /// The embedding.
    pub fn embedding(&self) -> &'a [f32] {
        match self.src {
            Src::Mem(c) => c.embedding(self.slot),
            Src::Seg(f) => f.embedding(self.slot as usize),
        }
    }
    /// The confidence.
    pub fn confidence(&self) -> f32 {
        match self.src {
            Src::Mem(c) => c.confidence[self.slot as usize],
            Src::Seg(f) => f.confidence()[self.slot as usize],
        }
    }
    /// An owned copy.
    pub fn to_object(&self) -> Object {
        Object {
            id: self.id().to_string(),
            kind: self.kind().to_string(),
            position: self.position(),
            embedding: self.embedding().to_vec(),
            confidence: self.confidence(),
        }
    }
    /// The value of user column `name` (its default when the object stores none), or
    /// `None` when the map has no such column.
    pub fn user_value(&self, name: &str) -> Option<crate::Value> {
        self.user.value(self.id(), name)
    }
    /// The map's user columns.
    pub fn user_table(&self) -> &'a crate::user::UserTable {
        self.user
    }
    /// The id as a shared string (allocated).
    pub fn shared_id(&self) -> Arc<str> {
        match self.src {
            Src::Mem(c) => Arc::from(c.id(self.slot)),
            Src::Seg(f) => Arc::from(f.id_of(self.slot as usize)),
        }
    }
}

/// One version of a map's objects.
#[derive(Debug, Clone)]
pub struct ObjectIndex {
    channels: usize,
    /// Durable segments (manifest order), then volatile ones.
    segs: Vec<SegRef>,
    mem: Columns,
    mem_dead: Vec<bool>,
    /// Memtable rows below this slot have had their splats applied to the field.
    mem_applied: usize,
    live: usize,
    /// The map's user columns and their values (by id: rows moving between segments
    /// leave them where they are).
    pub user: crate::user::UserTable,
}

impl ObjectIndex {
    /// An empty index.
    pub fn new(channels: usize) -> Self {
        ObjectIndex {
            channels,
            segs: Vec::new(),
            mem: Columns::new(channels),
            mem_dead: Vec::new(),
            mem_applied: 0,
            live: 0,
            user: crate::user::UserTable::default(),
        }
    }

    /// An index over durable segments (with their dead bitsets) and volatile rows, as
    /// loaded from the store.
    pub fn loaded(channels: usize, durable: Vec<SegRef>, volatile: Option<SegmentFile>) -> Self {
        let mut index = ObjectIndex::new(channels);
        index.segs = durable;
        if let Some(v) = volatile.filter(|v| v.rows() > 0) {
            index.segs.push(SegRef::new(v, Home::Volatile));
        }
        index.live = index.segs.iter().map(SegRef::live).sum();
        index
    }

    /// Live objects.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no object is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Segments in this version (for statistics).
    pub fn segments(&self) -> usize {
        self.segs.len()
    }

    fn src(&self, row: Row) -> Src<'_> {
        if row.seg == MEM {
            Src::Mem(&self.mem)
        } else {
            Src::Seg(&self.segs[row.seg as usize].file)
        }
    }

    /// The object at `row`.
    pub fn object(&self, row: Row) -> ObjectRef<'_> {
        ObjectRef {
            src: self.src(row),
            slot: row.slot,
            user: &self.user,
        }
    }

    /// The row of live object `id`.
    pub fn find(&self, id: &str) -> Option<Row> {
        if let Some(slot) = self.mem.slot_of(id) {
            if !self.mem_dead[slot as usize] {
                return Some(Row { seg: MEM, slot });
            }
        }
        let h = id_hash(id);
        self.segs.iter().enumerate().rev().find_map(|(i, s)| {
            let slot = s.file.find_hashed(id, h)?;
            (!s.is_dead(slot)).then_some(Row {
                seg: i as u32,
                slot,
            })
        })
    }

    /// The first of `ids` (in their order) that is taken: a repeat of an earlier one, or
    /// live in the memtable; failing that, and if `segments`, the first live in a
    /// segment. A large batch is checked by sorting its id hashes once and merging them
    /// with each segment's sorted hash table: one pass per segment rather than a search
    /// per id.
    ///
    /// A staged segment's rows count as the memtable's (they are this transaction's).
    pub fn first_taken<'i>(&self, ids: &[&'i str], segments: bool) -> Option<&'i str> {
        let staged = self.staged_seg();
        if ids.len() < 64 {
            let in_staged = |id: &str| {
                staged.is_some_and(|s| self.segs[s].file.find_hashed(id, id_hash(id)).is_some())
            };
            let repeat = (0..ids.len()).find(|&i| {
                ids[..i].contains(&ids[i]) || self.mem_slot(ids[i]).is_some() || in_staged(ids[i])
            });
            let live = || (0..ids.len()).find(|&i| self.find(ids[i]).is_some());
            return repeat
                .or_else(|| segments.then(live).flatten())
                .map(|i| ids[i]);
        }
        let mut hashed: Vec<(u64, u32)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id_hash(id), i as u32))
            .collect();
        hashed.sort_unstable();
        let mut first = usize::MAX;
        // Repeats: equal ids have equal hashes, so they lie in one run (in batch order).
        for run in hashed.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
            for (k, (_, i)) in run.iter().enumerate().skip(1) {
                let id = ids[*i as usize];
                if run[..k].iter().any(|(_, j)| ids[*j as usize] == id) {
                    first = first.min(*i as usize);
                }
            }
        }
        if !self.mem.is_empty() {
            if let Some(i) = (0..ids.len()).find(|&i| self.mem_slot(ids[i]).is_some()) {
                first = first.min(i);
            }
        }
        let keys: Vec<u64> = hashed.iter().map(|h| h.0).collect();
        // The first of `ids` live in `s`: one merge of the sorted hashes with its table.
        let in_segment = |s: &SegRef| {
            let mut first = usize::MAX;
            let (hashes, slots) = (s.file.id_hashes(), s.file.id_slots());
            let (mut a, mut b) = (0, 0);
            while a < keys.len() && b < hashes.len() {
                let (x, y) = (keys[a], hashes[b]);
                if x == y {
                    // Every segment entry with this hash against this id.
                    let i = hashed[a].1 as usize;
                    let mut c = b;
                    while c < hashes.len() && hashes[c] == x {
                        let slot = slots[c];
                        if !s.is_dead(slot) && s.file.id_of(slot as usize) == ids[i] {
                            first = first.min(i);
                        }
                        c += 1;
                    }
                    a += 1;
                    continue;
                }
                // Branch-free steps: the comparison's outcome is a coin toss.
                a += usize::from(x < y);
                b += usize::from(x > y);
            }
            first
        };
        // The staged segment is the rest of the memtable.
        if let Some(at) = staged {
            first = first.min(in_segment(&self.segs[at]));
        }
        if first != usize::MAX || !segments {
            return (first != usize::MAX).then(|| ids[first]);
        }
        for s in &self.segs {
            first = first.min(in_segment(s));
        }
        (first != usize::MAX).then(|| ids[first])
    }

    /// The memtable slot of live `id`.
    fn mem_slot(&self, id: &str) -> Option<u32> {
        self.mem.slot_of(id).filter(|s| !self.mem_dead[*s as usize])
    }

    /// Room for `n` more memtable rows.
    pub fn reserve(&mut self, n: usize) {
        self.unstage();
        self.mem.reserve(n);
        self.mem_dead.reserve(n);
    }

    /// Adds `o`, whose id must not be live.
    pub fn insert(&mut self, o: &Object) {
        self.unstage();
        // A dead memtable row of the same id is dropped from `by_id` by the new push.
        self.mem.push(o);
        self.mem_dead.push(false);
        self.live += 1;
    }

    /// Where the live row `row` is stored.
    pub fn home(&self, row: Row) -> RowHome {
        if row.seg == MEM {
            return RowHome::Memtable {
                applied: (row.slot as usize) < self.mem_applied,
            };
        }
        match self.segs[row.seg as usize].home {
            // Its splat is not in the field: as an unapplied memtable row.
            Home::Staged => RowHome::Memtable { applied: false },
            Home::Volatile => RowHome::Volatile,
            Home::Durable(segment) => RowHome::Durable {
                segment,
                slot: row.slot,
            },
        }
    }

    /// Deletes the live row `row`.
    pub fn remove(&mut self, mut row: Row) {
        if self.is_staged(row.seg) {
            // The staged rows become memtable slots of the same numbers.
            self.unstage();
            row.seg = MEM;
        }
        if row.seg == MEM {
            self.mem_dead[row.slot as usize] = true;
        } else {
            self.segs[row.seg as usize].kill(row.slot);
        }
        self.live -= 1;
    }

    /// Every live row, segments first (in list order), then the memtable.
    pub fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        let segs = self.segs.iter().enumerate().flat_map(|(i, s)| {
            (0..s.len() as u32)
                .filter(move |slot| !s.is_dead(*slot))
                .map(move |slot| Row {
                    seg: i as u32,
                    slot,
                })
        });
        let mem = (0..self.mem.len() as u32)
            .filter(|slot| !self.mem_dead[*slot as usize])
            .map(|slot| Row { seg: MEM, slot });
        segs.chain(mem)
    }

    /// Rows whose position lies within `radius` of `center` (squared distance ≤ radius²).
    pub fn within(&self, center: [f32; 3], radius: f32) -> Vec<Row> {
        let r2 = radius * radius;
        let mut out = Vec::new();
        for (i, s) in self.segs.iter().enumerate() {
            let seg = i as u32;
            s.tree().within(s.positions(), center, r2, &mut |slot| {
                if !s.is_dead(slot) {
                    out.push(Row { seg, slot });
                }
            });
        }
        for (slot, p) in self.mem.positions.iter().enumerate() {
            if !self.mem_dead[slot] && dist2(p, &center) <= r2 {
                out.push(Row {
                    seg: MEM,
                    slot: slot as u32,
                });
            }
        }
        out
    }

    /// The `k` rows nearest `point` with their distances, nearest first, ties by id.
    pub fn nearest(&self, point: [f32; 3], k: usize) -> Vec<(Row, f32)> {
        let mut search = Nearest::new(k);
        for (slot, p) in self.mem.positions.iter().enumerate() {
            if !self.mem_dead[slot] {
                search.offer(dist2(p, &point), MEM, slot as u32);
            }
        }
        let trees: Vec<_> = self
            .segs
            .iter()
            .map(|s| (s.tree(), s.positions()))
            .collect();
        search.search(&trees, point, &|seg, slot| {
            let s = &self.segs[seg as usize];
            s.dead_count == 0 || !s.is_dead(slot)
        });
        // The search keeps rows tied with the kth: order ties by id, then cut.
        let mut hits: Vec<(Row, f32)> = search
            .into_vec()
            .into_iter()
            .map(|(d2, seg, slot)| (Row { seg, slot }, d2))
            .collect();
        if hits.len() > k || hits.windows(2).any(|w| w[0].1 == w[1].1) {
            hits.sort_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then_with(|| self.object(a.0).id().cmp(self.object(b.0).id()))
            });
            hits.truncate(k);
        }
        self.warm_ids(&hits);
        hits.into_iter().map(|(r, d2)| (r, d2.sqrt())).collect()
    }

    /// Brings the ids of a few rows (a nearest query's answer) into the cache, a segment at
    /// a time: nearly every caller reads them next, and read one by one each id's cache
    /// misses would follow those of the one before (see [`SegmentFile::warm_ids`]).
    fn warm_ids(&self, rows: &[(Row, f32)]) {
        if rows.len() > WARM_IDS {
            return;
        }
        for (i, s) in self.segs.iter().enumerate() {
            let mut slots = [0u32; WARM_IDS];
            let mut n = 0;
            for (row, _) in rows.iter().filter(|(row, _)| row.seg == i as u32) {
                slots[n] = row.slot;
                n += 1;
            }
            if n > 0 {
                std::hint::black_box(s.file.warm_ids(&slots[..n]));
            }
        }
    }

    /// Attention of `query` over every live row: the top `k` with their softmax weights.
    pub fn attention_all(&self, query: &[f32], k: usize) -> Vec<(Row, f32)> {
        // Pieces of work: (segment or MEM, first slot, end slot).
        let mut pieces: Vec<(u32, usize, usize)> = Vec::new();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        let per_thread = (self.live / threads).max(PARALLEL_ROWS);
        for (i, s) in self.segs.iter().enumerate() {
            let n = s.len();
            let mut start = 0;
            while start < n {
                let end = (start + per_thread).min(n);
                pieces.push((i as u32, start, end));
                start = end;
            }
        }
        if !self.mem.is_empty() {
            pieces.push((MEM, 0, self.mem.len()));
        }
        let run = |pieces: &[(u32, usize, usize)]| {
            let mut ranked = Ranked::new(k);
            for &(seg, start, end) in pieces {
                self.score_piece(seg, start, end, query, &mut ranked);
            }
            ranked
        };
        let total: usize = pieces.iter().map(|p| p.2 - p.1).sum();
        let ranked = if threads > 1 && total > PARALLEL_ROWS {
            // Split the pieces into `threads` groups of about equal rows.
            let mut groups: Vec<Vec<(u32, usize, usize)>> = vec![Vec::new(); threads];
            let mut loads = vec![0usize; threads];
            for p in pieces {
                let g = (0..threads).min_by_key(|g| loads[*g]).unwrap_or(0);
                loads[g] += p.2 - p.1;
                groups[g].push(p);
            }
            std::thread::scope(|scope| {
                let handles: Vec<_> = groups.iter().map(|g| scope.spawn(move || run(g))).collect();
                let mut all = Ranked::new(k);
                for h in handles {
                    match h.join() {
                        Ok(r) => all.merge(r),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                all
            })
        } else {
            run(&pieces)
        };
        ranked
            .finish()
            .into_iter()
            .map(|(_, row, w)| (row, w))
            .collect()
    }

    fn score_piece<'s>(
        &'s self,
        seg: u32,
        start: usize,
        end: usize,
        query: &[f32],
        ranked: &mut Ranked<&'s str, Row>,
    ) {
        let ch = self.channels;
        let scale = 1.0 / (ch as f32).sqrt();
        let (embeddings, any_dead): (&[f32], bool) = if seg == MEM {
            (&self.mem.embeddings, self.mem_dead.iter().any(|d| *d))
        } else {
            let s = &self.segs[seg as usize];
            (s.file.embeddings(), s.dead_count > 0)
        };
        let dead = |slot: u32| {
            if seg == MEM {
                self.mem_dead[slot as usize]
            } else {
                self.segs[seg as usize].is_dead(slot)
            }
        };
        score_rows(
            &embeddings[start * ch..end * ch],
            ch,
            query,
            scale,
            &mut |first, block| {
                let first = start + first;
                if any_dead {
                    for (i, s) in block.iter_mut().enumerate() {
                        if dead((first + i) as u32) {
                            *s = f32::NEG_INFINITY;
                        }
                    }
                }
                ranked.offer_block(
                    first,
                    block,
                    |slot| {
                        self.object(Row {
                            seg,
                            slot: slot as u32,
                        })
                        .id()
                    },
                    |slot| Row {
                        seg,
                        slot: slot as u32,
                    },
                );
            },
        );
    }

    /// Calls `f` with the embeddings of every run of consecutive live rows (segments,
    /// then the memtable), in place.
    pub fn embedding_runs<'s>(&'s self, f: &mut dyn FnMut(&'s [f32])) {
        let ch = self.channels;
        let mut runs = |all: &'s [f32], dead: &dyn Fn(usize) -> bool, n: usize| {
            let mut start = 0;
            while start < n {
                while start < n && dead(start) {
                    start += 1;
                }
                let mut end = start;
                while end < n && !dead(end) {
                    end += 1;
                }
                if end > start {
                    f(&all[start * ch..end * ch]);
                }
                start = end;
            }
        };
        for s in &self.segs {
            runs(s.file.embeddings(), &|i| s.is_dead(i as u32), s.len());
        }
        runs(&self.mem.embeddings, &|i| self.mem_dead[i], self.mem.len());
    }

    /// Attention of `query` over the given rows only: the top `k` with softmax weights.
    pub fn attention_rows(&self, rows: &[Row], query: &[f32], k: usize) -> Vec<(Row, f32)> {
        let ch = self.channels;
        let mut gathered = Vec::with_capacity(rows.len() * ch);
        for r in rows {
            gathered.extend_from_slice(self.object(*r).embedding());
        }
        let mut ranked = Ranked::new(k);
        score_rows(
            &gathered,
            ch,
            query,
            1.0 / (ch as f32).sqrt(),
            &mut |first, block| {
                ranked.offer_block(first, block, |n| self.object(rows[n]).id(), |n| rows[n])
            },
        );
        ranked
            .finish()
            .into_iter()
            .map(|(_, r, w)| (r, w))
            .collect()
    }

    // ---- Commit support: turning the memtable into segments, merging segments. ----

    /// Live memtable rows not yet applied to the field, as (position, embedding) pairs in
    /// slot order; marks them applied.
    pub fn take_unapplied(&mut self) -> Vec<([f32; 3], Vec<f32>)> {
        self.unstage();
        let out = (self.mem_applied..self.mem.len())
            .filter(|s| !self.mem_dead[*s])
            .map(|s| (self.mem.positions[s], self.mem.embedding(s as u32).to_vec()))
            .collect();
        self.mem_applied = self.mem.len();
        out
    }

    /// Marks every memtable row as applied to the field without applying it (rows whose
    /// splats the field already holds: a restore).
    pub fn mark_applied(&mut self) {
        self.unstage();
        self.mem_applied = self.mem.len();
    }

    /// True when no memtable row has been applied to the field yet.
    pub fn nothing_applied(&self) -> bool {
        self.mem_applied == 0
    }

    /// The live memtable rows, in slot order.
    pub fn memtable_rows(&self) -> Picked<'_> {
        Picked {
            cols: &self.mem,
            slots: (0..self.mem.len() as u32)
                .filter(|s| !self.mem_dead[*s as usize])
                .collect(),
        }
    }

    /// Durable segments (the manifest's list), in order.
    pub fn durable(&self) -> impl Iterator<Item = &SegRef> {
        self.segs.iter().filter(|s| s.durable_id().is_some())
    }

    /// Volatile segments.
    pub fn volatile(&self) -> impl Iterator<Item = &SegRef> {
        self.segs.iter().filter(|s| s.home == Home::Volatile)
    }

    /// Every segment.
    pub fn segs(&self) -> &[SegRef] {
        &self.segs
    }

    /// Replaces the memtable by `file`: a new durable segment of its live rows.
    pub fn install_memtable(&mut self, file: SegmentFile) {
        let id = file.id();
        self.clear_memtable();
        let at = self.durable().count();
        self.segs.insert(at, SegRef::new(file, Home::Durable(id)));
    }

    /// Stages `file`, a segment built from a batch of new rows whose ids are not live (see
    /// the module header): it stands for memtable rows until the commit installs it
    /// ([`ObjectIndex::take_staged`]) or anything else changes the index.
    pub fn stage(&mut self, file: SegmentFile) {
        self.unstage();
        debug_assert!(self.mem.is_empty() && self.mem_applied == 0);
        self.live += file.rows();
        self.segs.push(SegRef::new(file, Home::Staged));
    }

    /// True when the memtable is empty and no segment is staged: a batch may be staged.
    pub fn can_stage(&self) -> bool {
        self.mem.is_empty() && self.staged_seg().is_none()
    }

    /// The position of the staged segment in the list, if any (always the last one).
    fn staged_seg(&self) -> Option<usize> {
        let last = self.segs.len().checked_sub(1)?;
        (self.segs[last].home == Home::Staged).then_some(last)
    }

    fn is_staged(&self, seg: u32) -> bool {
        seg != MEM && self.staged_seg() == Some(seg as usize)
    }

    /// Rows of the staged segment (0 when none).
    pub fn staged_rows(&self) -> usize {
        self.staged_seg().map_or(0, |s| self.segs[s].len())
    }

    /// Turns the staged segment, if any, back into memtable rows: slot `s` of the segment
    /// becomes memtable slot `s` (the memtable is empty while a segment is staged).
    pub fn unstage(&mut self) {
        let Some(at) = self.staged_seg() else {
            return;
        };
        let s = self.segs.remove(at);
        let n = s.len();
        self.mem.reserve(n);
        self.mem_dead.reserve(n);
        let f = &s.file;
        let (positions, confidence) = (f.positions(), f.confidence());
        for slot in 0..n {
            let kind = &f.types()[f.kind_codes()[slot] as usize];
            self.mem.push_row(
                f.id_of(slot),
                kind,
                positions[slot],
                f.embedding(slot),
                confidence[slot],
            );
            // A staged segment has no dead row (removing one unstages first); kept exact.
            self.mem_dead.push(s.is_dead(slot as u32));
        }
    }

    /// Takes the staged segment out of the list, for the commit to install it with
    /// [`ObjectIndex::install_memtable`] (whose rows it stands for; the memtable is empty).
    pub fn take_staged(&mut self) -> Option<SegmentFile> {
        let at = self.staged_seg()?;
        Some(Arc::unwrap_or_clone(self.segs.remove(at).file))
    }

    /// Turns the memtable into a volatile segment (rows stored as records) and merges
    /// volatile segments of about one size. Segments that are mostly dead are rewritten.
    pub fn seal_volatile(&mut self, map_id: u32) -> tensormap_storage::Result<()> {
        let rows = self.memtable_rows();
        if !rows.slots.is_empty() {
            let file = segment::build(map_id, self.channels, &rows, 0)?;
            self.segs.push(SegRef::new(file, Home::Volatile));
        }
        self.clear_memtable();
        let first = self.durable().count();
        // Drop empty volatile segments; rewrite mostly dead ones.
        let mut i = first;
        while i < self.segs.len() {
            let s = &self.segs[i];
            if s.live() == 0 {
                self.segs.remove(i);
                continue;
            }
            if s.dead_count * 2 > s.len() {
                let file =
                    segment::build(map_id, self.channels, &LiveRows::of(&self.segs[i..=i]), 0)?;
                self.segs[i] = SegRef::new(file, Home::Volatile);
            }
            i += 1;
        }
        loop {
            let n = self.segs.len();
            let volatile = n - first;
            let k = if volatile >= FAN_IN
                && self.segs[n - FAN_IN].live() <= 2 * self.segs[n - 1].live()
            {
                FAN_IN
            } else if volatile > MAX_VOLATILE {
                2
            } else {
                break;
            };
            let file =
                segment::build(map_id, self.channels, &LiveRows::of(&self.segs[n - k..]), 0)?;
            self.segs.truncate(n - k);
            self.segs.push(SegRef::new(file, Home::Volatile));
        }
        Ok(())
    }

    /// The memtable row `slot`.
    pub fn memtable_object(&self, slot: u32) -> ObjectRef<'_> {
        self.object(Row { seg: MEM, slot })
    }

    /// Replaces the durable segments `range` by `file` (their live rows), or removes them
    /// when `file` is None (they had no live rows).
    pub fn replace(&mut self, range: std::ops::Range<usize>, file: Option<SegmentFile>) {
        let at = range.start;
        self.segs.drain(range);
        if let Some(file) = file {
            let id = file.id();
            self.segs.insert(at, SegRef::new(file, Home::Durable(id)));
        }
    }

    /// Where `seg` (a segment of an earlier version of this map) lies in this one: a
    /// durable segment by its blob id, a volatile one by its file (volatile files are
    /// rebuilt, not changed, when commits merge them).
    pub fn locate(&self, seg: &SegRef) -> Option<usize> {
        self.segs.iter().position(|s| match seg.home {
            Home::Durable(id) => s.durable_id() == Some(id),
            Home::Volatile | Home::Staged => {
                s.durable_id().is_none() && Arc::ptr_eq(&s.file, &seg.file)
            }
        })
    }

    /// Replaces the segments at `at` (distinct positions) by `output`, a durable segment
    /// of their live rows, or removes them when there is none. The output takes the place
    /// of the first durable one among them, or follows the durable segments when they were
    /// all volatile, so durable segments stay before volatile ones.
    pub fn replace_set(&mut self, at: &[usize], output: Option<SegRef>) {
        let mut at = at.to_vec();
        at.sort_unstable();
        let first_durable = at
            .iter()
            .copied()
            .find(|i| self.segs[*i].durable_id().is_some());
        let place = match first_durable {
            // Durable segments before it that stay.
            Some(i) => i - at.iter().filter(|j| **j < i).count(),
            None => self.durable().count(),
        };
        for i in at.into_iter().rev() {
            self.segs.remove(i);
        }
        if let Some(out) = output {
            let place = place.min(self.durable().count());
            self.segs.insert(place, out);
        }
        self.live = self.segs.iter().map(SegRef::live).sum::<usize>()
            + self.mem_dead.iter().filter(|d| !**d).count();
    }

    /// Replaces every volatile segment and the memtable by `file`, a durable segment of
    /// their live rows.
    pub fn install_sealed(&mut self, file: SegmentFile) {
        let id = file.id();
        let first = self.durable().count();
        self.segs.truncate(first);
        self.clear_memtable();
        self.segs.push(SegRef::new(file, Home::Durable(id)));
    }

    /// Views durable segment `id` through `blob`, the file it was just written to.
    pub fn rebind(&mut self, id: u64, blob: &tensormap_storage::Blob) {
        for s in &mut self.segs {
            if s.durable_id() == Some(id) {
                if let Ok(file) = (*s.file).clone().rebind(id, blob.clone()) {
                    s.file = Arc::new(file);
                }
            }
        }
    }

    fn clear_memtable(&mut self) {
        self.mem = Columns::new(self.channels);
        self.mem_dead.clear();
        self.mem_applied = 0;
    }
}
