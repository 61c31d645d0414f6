//! The object index of one map: an LSM in miniature.
//!
//! A version of the index is a list of immutable [`Segment`]s (columns + a packed
//! R-tree), each with a copy-on-write tombstone bitset, plus a small mutable memtable that
//! only a write transaction fills. Committing seals the memtable into a new segment and
//! merges the newest four segments whenever they are of about one size (size-tiered
//! compaction), so a version holds O(log n) segments and each object is rewritten
//! O(log n) times.
//! Publishing a version clones a few `Arc`s: no tree is ever copied per commit.
//!
//! Invariant: every id is live in at most one place (one segment slot, or the memtable).

mod columns;
mod packed;
mod segment;

use std::sync::Arc;

use self::columns::Columns;
use self::packed::{dist2, Nearest};
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
            let rows: Vec<_> = (0..self.cols.len() as u32)
                .map(|slot| (&self.cols, slot))
                .collect();
            index
                .segs
                .push(SegRef::new(Segment::build(channels, &rows)));
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
            let seg = i as u32;
            s.seg
                .tree
                .within(&s.seg.cols.positions, center, r2, &mut |slot| {
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
            .map(|s| (&s.seg.tree, s.seg.cols.positions.as_slice()))
            .collect();
        search.search(&trees, point, &|seg, slot| {
            !self.segs[seg as usize].is_dead(slot)
        });
        // The search keeps rows tied with the kth: order ties by id, then cut.
        let mut hits: Vec<(Row, f32)> = search
            .into_vec()
            .into_iter()
            .map(|(d2, seg, slot)| (Row { seg, slot }, d2))
            .collect();
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
        let any_dead = if seg == MEM {
            self.mem_dead.iter().any(|d| *d)
        } else {
            self.segs[seg as usize].dead_count > 0
        };
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
                    |slot| cols.ids[slot].clone(),
                    |slot| Row {
                        seg,
                        slot: slot as u32,
                    },
                );
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
            &mut |first, block| {
                ranked.offer_block(
                    first,
                    block,
                    |n| self.object(rows[n]).shared_id(),
                    |n| rows[n],
                )
            },
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
            let rows: Vec<_> = (0..self.mem.len() as u32)
                .filter(|slot| !self.mem_dead[*slot as usize])
                .map(|slot| (&self.mem, slot))
                .collect();
            if !rows.is_empty() {
                let seg = Segment::build(self.channels, &rows);
                self.segs.push(SegRef::new(seg));
            }
            self.mem = Columns::new(self.channels);
            self.mem_dead.clear();
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

    /// Merges every segment into one (after [`ObjectIndex::seal`]): one tree to search.
    pub fn merge_all(&mut self) {
        if self.segs.len() > 1 {
            let merged = compact(&self.segs, self.channels);
            self.segs = vec![merged];
        }
    }
}

/// One segment holding the live rows of `segs`.
fn compact(segs: &[SegRef], channels: usize) -> SegRef {
    let rows: Vec<_> = segs
        .iter()
        .flat_map(|s| {
            (0..s.seg.cols.len() as u32)
                .filter(|slot| !s.is_dead(*slot))
                .map(|slot| (&s.seg.cols, slot))
        })
        .collect();
    SegRef::new(Segment::build(channels, &rows))
}
