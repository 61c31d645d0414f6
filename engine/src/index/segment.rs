//! An immutable segment of the object index: columns plus a bulk-loaded R*-tree over
//! `(position → slot)`, and the copy-on-write tombstone bitset that marks its dead slots.

use std::sync::Arc;

use rstar::primitives::GeomWithData;
use rstar::RTree;

use super::columns::Columns;

/// An R*-tree entry: a position and the slot of its object.
pub type Entry = GeomWithData<[f32; 3], u32>;

/// Columns and the R*-tree over them; never changed once built.
#[derive(Debug)]
pub struct Segment {
    pub cols: Columns,
    pub rtree: RTree<Entry>,
}

impl Segment {
    /// Bulk-loads the R*-tree over `cols`.
    pub fn build(cols: Columns) -> Self {
        let entries: Vec<Entry> = cols
            .positions
            .iter()
            .enumerate()
            .map(|(slot, p)| Entry::new(*p, slot as u32))
            .collect();
        Segment {
            rtree: RTree::bulk_load(entries),
            cols,
        }
    }
}

/// A segment as one index version sees it: which of its slots are deleted.
#[derive(Debug, Clone)]
pub struct SegRef {
    pub seg: Arc<Segment>,
    /// Bit `s` set = slot `s` is deleted. Shared between versions until one deletes.
    pub dead: Arc<Vec<u64>>,
    pub dead_count: usize,
}

impl SegRef {
    pub fn new(seg: Segment) -> Self {
        let words = seg.cols.len().div_ceil(64);
        SegRef {
            seg: Arc::new(seg),
            dead: Arc::new(vec![0; words]),
            dead_count: 0,
        }
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
        self.seg.cols.len() - self.dead_count
    }
}
