//! An immutable segment of the object index: columns in the order of a packed R-tree
//! over their positions (so a slot is a place in the tree), and the copy-on-write
//! tombstone bitset that marks its dead slots.

use std::sync::Arc;

use super::columns::Columns;
use super::packed::{tree_order, PackedTree};

/// Columns and the tree over them; never changed once built.
#[derive(Debug)]
pub struct Segment {
    pub cols: Columns,
    pub tree: PackedTree,
}

impl Segment {
    /// A segment holding `rows` (columns and slot), in the tree's order.
    pub fn build(channels: usize, rows: &[(&Columns, u32)]) -> Self {
        let positions: Vec<[f32; 3]> = rows
            .iter()
            .map(|(c, slot)| c.positions[*slot as usize])
            .collect();
        let mut cols = Columns::with_capacity(channels, rows.len());
        for i in tree_order(&positions) {
            let (from, slot) = rows[i as usize];
            cols.push_from(from, slot);
        }
        Segment {
            tree: PackedTree::build(&cols.positions),
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
