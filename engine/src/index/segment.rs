//! A segment as one index version sees it: an immutable [`SegmentFile`] (columns in the
//! order of a packed R-tree over their positions, so a slot is a place in the tree), the
//! copy-on-write tombstone bitset that marks its dead slots, and whether the segment is
//! durable (a file the manifest names) or volatile (built in memory over rows that are
//! stored as records).

use std::sync::Arc;

use tensormap_storage::segment::{self, Rows, TreeParts};
use tensormap_storage::SegmentFile;

use super::packed::{self, tree_order, PackedTree};

/// Where a segment's rows are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// In a segment file named by the manifest: blob `id`.
    Durable(u64),
    /// As object records (the rows of small commits, not yet sealed into a file).
    Volatile,
    /// Nowhere yet: a large batch of the open write transaction, built into a segment
    /// when it was inserted (see `ObjectIndex::stage`) and written as a segment file by
    /// the commit. Only a write transaction's index holds one, never a published version.
    Staged,
}

/// A segment in one index version.
#[derive(Debug, Clone)]
pub struct SegRef {
    pub file: Arc<SegmentFile>,
    pub home: Home,
    /// Bit `s` set = slot `s` is deleted. Shared between versions until one deletes.
    pub dead: Arc<Vec<u64>>,
    pub dead_count: usize,
}

/// Rows given by a permutation of other rows.
struct Permuted<'a, R: Rows> {
    rows: &'a R,
    order: &'a [u32],
}

impl<R: Rows> Rows for Permuted<'_, R> {
    fn len(&self) -> usize {
        self.order.len()
    }
    fn id(&self, i: usize) -> &str {
        self.rows.id(self.order[i] as usize)
    }
    fn kind(&self, i: usize) -> &str {
        self.rows.kind(self.order[i] as usize)
    }
    fn position(&self, i: usize) -> [f32; 3] {
        self.rows.position(self.order[i] as usize)
    }
    fn embedding(&self, i: usize) -> &[f32] {
        self.rows.embedding(self.order[i] as usize)
    }
    fn confidence(&self, i: usize) -> f32 {
        self.rows.confidence(self.order[i] as usize)
    }
}

/// Builds the segment file of `rows` (any order; ids unique and valid): they are put in
/// tree order and the tree is built over them. The file's id is `id` (0 while volatile).
pub fn build(
    map_id: u32,
    channels: usize,
    rows: &impl Rows,
    id: u64,
) -> tensormap_storage::Result<SegmentFile> {
    let positions: Vec<[f32; 3]> = (0..rows.len()).map(|i| rows.position(i)).collect();
    let order = tree_order(&positions);
    let ordered: Vec<[f32; 3]> = order.iter().map(|i| positions[*i as usize]).collect();
    drop(positions);
    let (lens, boxes) = packed::build(&ordered);
    drop(ordered);
    let blob = segment::build(
        map_id,
        channels,
        &Permuted {
            rows,
            order: &order,
        },
        TreeParts {
            level_lens: &lens,
            boxes: &boxes,
        },
    )?;
    SegmentFile::open(id, blob)
}

impl SegRef {
    pub fn new(file: SegmentFile, home: Home) -> Self {
        let words = file.rows().div_ceil(64);
        SegRef {
            file: Arc::new(file),
            home,
            dead: Arc::new(vec![0; words]),
            dead_count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.file.rows()
    }

    pub fn is_dead(&self, slot: u32) -> bool {
        self.dead[slot as usize / 64] & (1 << (slot % 64)) != 0
    }

    pub fn kill(&mut self, slot: u32) {
        let word = &mut Arc::make_mut(&mut self.dead)[slot as usize / 64];
        let bit = 1u64 << (slot % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.dead_count += 1;
        }
    }

    pub fn live(&self) -> usize {
        self.len() - self.dead_count
    }

    pub fn positions(&self) -> &[[f32; 3]] {
        self.file.positions()
    }

    pub fn tree(&self) -> PackedTree<'_> {
        PackedTree::new(
            self.file.tree_levels(),
            self.file.tree_boxes(),
            self.file.rows(),
        )
    }

    /// The blob id when durable.
    pub fn durable_id(&self) -> Option<u64> {
        match self.home {
            Home::Durable(id) => Some(id),
            Home::Volatile | Home::Staged => None,
        }
    }
}

/// The live rows of some segments, in order, as [`Rows`] (for merging them).
pub struct LiveRows<'a> {
    rows: Vec<(&'a SegmentFile, u32)>,
}

/// [`build`] of the live rows of some segments, also giving the order it put them in
/// (slot `s` of the file holds row `order[s]` of `rows`: a merge maps the deletions that
/// arrive while it runs through it). The rows are put in tree order themselves first, so
/// the file's columns are gathered from the segments through one indirection a row, not
/// two.
pub fn build_live(
    map_id: u32,
    channels: usize,
    mut rows: LiveRows<'_>,
    id: u64,
) -> tensormap_storage::Result<(SegmentFile, Vec<u32>)> {
    let positions: Vec<[f32; 3]> = (0..rows.len()).map(|i| rows.position(i)).collect();
    let order = tree_order(&positions);
    let ordered: Vec<[f32; 3]> = order.iter().map(|i| positions[*i as usize]).collect();
    drop(positions);
    let (lens, boxes) = packed::build(&ordered);
    drop(ordered);
    rows.rows = order.iter().map(|i| rows.rows[*i as usize]).collect();
    let blob = segment::build(
        map_id,
        channels,
        &rows,
        TreeParts {
            level_lens: &lens,
            boxes: &boxes,
        },
    )?;
    Ok((SegmentFile::open(id, blob)?, order))
}

impl<'a> LiveRows<'a> {
    pub fn of(segs: impl IntoIterator<Item = &'a SegRef>) -> Self {
        let rows = segs
            .into_iter()
            .flat_map(|s| {
                (0..s.len() as u32)
                    .filter(move |slot| !s.is_dead(*slot))
                    .map(move |slot| (&*s.file, slot))
            })
            .collect();
        LiveRows { rows }
    }
}

impl Rows for LiveRows<'_> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn id(&self, i: usize) -> &str {
        let (f, s) = self.rows[i];
        f.id_of(s as usize)
    }
    fn kind(&self, i: usize) -> &str {
        let (f, s) = self.rows[i];
        &f.types()[f.kind_codes()[s as usize] as usize]
    }
    fn position(&self, i: usize) -> [f32; 3] {
        let (f, s) = self.rows[i];
        f.positions()[s as usize]
    }
    fn embedding(&self, i: usize) -> &[f32] {
        let (f, s) = self.rows[i];
        f.embedding(s as usize)
    }
    fn confidence(&self, i: usize) -> f32 {
        let (f, s) = self.rows[i];
        f.confidence()[s as usize]
    }
}
