//! The object index of one map: an LSM in miniature.
//!
//! A version of the index is a list of immutable [`Segment`]s (columns + bulk-loaded
//! R*-tree), each with a copy-on-write tombstone bitset, plus a small mutable memtable that
//! only a write transaction fills. Committing seals the memtable into a new segment and
//! merges the newest four segments whenever they are of about one size (size-tiered
//! compaction), so a version holds O(log n) segments and each object is rewritten
//! O(log n) times.
//! Publishing a version clones a few `Arc`s: no tree is ever copied per commit.
//!
//! Invariant: every id is live in at most one place (one segment slot, or the memtable).

mod columns;
mod segment;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use self::columns::Columns;
use self::segment::{SegRef, Segment};
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
const FAN_IN: usize = 4;

/// Segments beyond which the two newest merge whatever their sizes.
const MAX_SEGMENTS: usize = 24;

/// Rows per thread below which an attention scan stays on one thread.
const PARALLEL_ROWS: usize = 1 << 17;

/// A borrowed view of one object of an index.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    cols: &'a Columns,
    slot: u32,
}

impl<'a> ObjectRef<'a> {
    /// The id.
    pub fn id(&self) -> &'a str {
        &self.cols.ids[self.slot as usize]
    }
    /// The type, shared (no copy).
    pub fn shared_kind(&self) -> Arc<str> {
        self.cols.kinds[self.slot as usize].clone()
    }
    /// The type.
    pub fn kind(&self) -> &'a str {
        &self.cols.kinds[self.slot as usize]
    }
    /// The position.
    pub fn position(&self) -> [f32; 3] {
        self.cols.positions[self.slot as usize]
    }
    /// The embedding.
    pub fn embedding(&self) -> &'a [f32] {
        self.cols.embedding(self.slot)
    }
    /// The confidence.
    pub fn confidence(&self) -> f32 {
        self.cols.confidence[self.slot as usize]
    }
    /// An owned copy.
    pub fn to_object(&self) -> Object {
        self.cols.to_object(self.slot)
    }
    /// The id, shared (no copy).
    pub fn shared_id(&self) -> Arc<str> {
        self.cols.ids[self.slot as usize].clone()
    }
}

/// Collects objects (ids unique, validated by the caller) for one bulk-loaded segment.
#[derive(Debug)]
pub struct IndexBuilder {
    cols: Columns,
}

impl IndexBuilder {
    /// A builder expecting about `n` objects.
    pub fn new(channels: usize, n: usize) -> Self {
        IndexBuilder {
            cols: Columns::with_capacity(channels, n),
        }
    }

    /// Adds one object.
    pub fn push(
        &mut self,
        id: &str,
        kind: &str,
        position: [f32; 3],
        embedding: &[f32],
        confidence: f32,
    ) {
        self.cols
            .push_parts_of(id, kind, position, embedding, confidence);
    }

    /// The index of everything pushed.
    pub fn finish(self) -> ObjectIndex {
        let channels = self.cols.channels;
        let mut index = ObjectIndex::new(channels);
        index.live = self.cols.len();
        if self.cols.len() > 0 {
            index.segs.push(SegRef::new(Segment::build(self.cols)));
        }
        index
    }
}

/// One version of a map's objects.
#[derive(Debug, Clone)]
pub struct ObjectIndex {
    channels: usize,
    segs: Vec<SegRef>,
    mem: Columns,
    mem_dead: Vec<bool>,
    live: usize,
}

impl ObjectIndex {
    /// An empty index.
    pub fn new(channels: usize) -> Self {
        ObjectIndex {
            channels,
            segs: Vec::new(),
            mem: Columns::new(channels),
            mem_dead: Vec::new(),
            live: 0,
        }
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

    fn cols(&self, row: Row) -> &Columns {
        if row.seg == MEM {
            &self.mem
        } else {
            &self.segs[row.seg as usize].seg.cols
        }
    }

    /// The object at `row`.
    pub fn object(&self, row: Row) -> ObjectRef<'_> {
        ObjectRef {
            cols: self.cols(row),
            slot: row.slot,
        }
    }

    /// The row of live object `id`.
    pub fn find(&self, id: &str) -> Option<Row> {
        if let Some(&slot) = self.mem.by_id.get(id) {
            if !self.mem_dead[slot as usize] {
                return Some(Row { seg: MEM, slot });
            }
        }
        self.segs.iter().enumerate().rev().find_map(|(i, s)| {
            let slot = *s.seg.cols.by_id.get(id)?;
            (!s.is_dead(slot)).then_some(Row {
                seg: i as u32,
                slot,
            })
        })
    }

    /// Adds `o`, whose id must not be live.
    pub fn insert(&mut self, o: &Object) {
        // A dead memtable row of the same id is dropped from `by_id` by the new push.
        self.mem.push(o);
        self.mem_dead.push(false);
        self.live += 1;
    }

    /// Deletes the live row `row`.
    pub fn remove(&mut self, row: Row) {
        if row.seg == MEM {
            self.mem_dead[row.slot as usize] = true;
        } else {
            self.segs[row.seg as usize].kill(row.slot);
        }
        self.live -= 1;
    }

    /// Every live row, segments oldest first, then the memtable.
    pub fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        let segs = self.segs.iter().enumerate().flat_map(|(i, s)| {
            (0..s.seg.cols.len() as u32)
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
            for e in s.seg.rtree.locate_within_distance(center, r2) {
                if !s.is_dead(e.data) {
                    out.push(Row {
                        seg: i as u32,
                        slot: e.data,
                    });
                }
            }
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
        if k == 0 {
            return Vec::new();
        }
        // One nearest-neighbour stream per segment, merged by a heap on their heads.
        let mut streams: Vec<_> = self
            .segs
            .iter()
            .map(|s| s.seg.rtree.nearest_neighbor_iter_with_distance_2(point))
            .collect();
        let mut heads = BinaryHeap::new();
        let next_live = |i: usize, streams: &mut Vec<_>| -> Option<(f32, u32)> {
            let it: &mut rstar::iterators::NearestNeighborDistance2Iterator<'_, _> =
                &mut streams[i];
            it.find(|(e, _): &(&segment::Entry, f32)| !self.segs[i].is_dead(e.data))
                .map(|(e, d2)| (d2, e.data))
        };
        for i in 0..streams.len() {
            if let Some((d2, slot)) = next_live(i, &mut streams) {
                heads.push(Reverse((OrdF32(d2), i as u32, slot)));
            }
        }
        let mut mem: Vec<(f32, u32)> = (0..self.mem.len())
            .filter(|s| !self.mem_dead[*s])
            .map(|s| (dist2(&self.mem.positions[s], &point), s as u32))
            .collect();
        mem.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (d2, slot) in mem {
            heads.push(Reverse((OrdF32(d2), MEM, slot)));
        }
        // Take k, plus any rows tied with the kth, then order ties by id.
        let mut hits: Vec<(Row, f32)> = Vec::with_capacity(k.min(self.live) + 1);
        while let Some(Reverse((OrdF32(d2), seg, slot))) = heads.pop() {
            if hits.len() >= k && hits.last().is_some_and(|h| h.1 < d2) {
                break;
            }
            hits.push((Row { seg, slot }, d2));
            if seg != MEM {
                if let Some((d2, slot)) = next_live(seg as usize, &mut streams) {
                    heads.push(Reverse((OrdF32(d2), seg, slot)));
                }
            }
        }
        hits.sort_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then_with(|| self.object(a.0).id().cmp(self.object(b.0).id()))
        });
        hits.truncate(k);
        hits.into_iter().map(|(r, d2)| (r, d2.sqrt())).collect()
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
            let n = s.seg.cols.len();
            let mut start = 0;
            while start < n {
                let end = (start + per_thread).min(n);
                pieces.push((i as u32, start, end));
                start = end;
            }
        }
        if !self.mem.ids.is_empty() {
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
        let mut ranked = if threads > 1 && total > PARALLEL_ROWS {
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
        std::mem::replace(&mut ranked, Ranked::new(0))
            .finish()
            .into_iter()
            .map(|(_, row, w)| (row, w))
            .collect()
    }

    fn score_piece(
        &self,
        seg: u32,
        start: usize,
        end: usize,
        query: &[f32],
        ranked: &mut Ranked<Arc<str>, Row>,
    ) {
        let ch = self.channels;
        let scale = 1.0 / (ch as f32).sqrt();
        let cols = self.cols(Row { seg, slot: 0 });
        let dead = |slot: u32| {
            if seg == MEM {
                self.mem_dead[slot as usize]
            } else {
                self.segs[seg as usize].is_dead(slot)
            }
        };
        score_rows(
            &cols.embeddings[start * ch..end * ch],
            ch,
            query,
            scale,
            &mut |n, s| {
                let slot = (start + n) as u32;
                if !dead(slot) {
                    ranked.offer(s, || cols.ids[slot as usize].clone(), Row { seg, slot });
                }
            },
        );
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
            &mut |n, s| ranked.offer(s, || self.object(rows[n]).shared_id(), rows[n]),
        );
        ranked
            .finish()
            .into_iter()
            .map(|(_, r, w)| (r, w))
            .collect()
    }

    /// Turns the memtable into a segment and merges segments by the policy in the module
    /// header; segments that are mostly tombstones are rewritten.
    pub fn seal(&mut self) {
        if !self.mem.ids.is_empty() {
            let mut cols = Columns::with_capacity(self.channels, self.mem.len());
            for slot in 0..self.mem.len() as u32 {
                if !self.mem_dead[slot as usize] {
                    cols.push_from(&self.mem, slot);
                }
            }
            self.mem = Columns::new(self.channels);
            self.mem_dead.clear();
            if cols.len() > 0 {
                self.segs.push(SegRef::new(Segment::build(cols)));
            }
        }
        // Rewrite segments more than half dead; drop empty ones.
        let mut i = 0;
        while i < self.segs.len() {
            let s = &self.segs[i];
            if s.live() == 0 {
                self.segs.remove(i);
                continue;
            }
            if s.dead_count * 2 > s.seg.cols.len() {
                self.segs[i] = compact(&[self.segs[i].clone()], self.channels);
            }
            i += 1;
        }
        loop {
            let n = self.segs.len();
            let k = if n >= FAN_IN && self.segs[n - FAN_IN].live() <= 2 * self.segs[n - 1].live() {
                FAN_IN
            } else if n > MAX_SEGMENTS {
                2
            } else {
                break;
            };
            let merged = compact(&self.segs[n - k..], self.channels);
            self.segs.truncate(n - k);
            self.segs.push(merged);
        }
    }
}

/// One segment holding the live rows of `segs`.
fn compact(segs: &[SegRef], channels: usize) -> SegRef {
    let live = segs.iter().map(SegRef::live).sum();
    let mut cols = Columns::with_capacity(channels, live);
    for s in segs {
        for slot in 0..s.seg.cols.len() as u32 {
            if !s.is_dead(slot) {
                cols.push_from(&s.seg.cols, slot);
            }
        }
    }
    SegRef::new(Segment::build(cols))
}

fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

/// f32 ordered by `total_cmp`, for heaps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF32(f32);
impl Eq for OrdF32 {}
impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF32 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
