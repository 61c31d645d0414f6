//! The sparse octree of bricks under a map's voxel field.
//!
//! The root covers the whole grid; each level halves it; the leaves are bricks of 8³ cells.
//! Only subtrees holding a covered cell exist. Nodes are `Arc`s copied on write
//! (`Arc::make_mut`), so a writer's working copy shares every untouched node with the
//! published field that readers hold: a commit copies only the paths it changed.
//!
//! Every node keeps an [`Agg`] of its subtree. Writers mark the path they touch `dirty`;
//! `refresh` recomputes dirty aggregates bottom-up and prunes empty subtrees. Published
//! trees never contain a dirty node.

use std::sync::Arc;

use tensormap_storage::brick::{CELLS, EDGE};

/// Aggregates of a subtree, used to prune queries and draw coarse levels.
#[derive(Debug, Clone)]
pub struct Agg {
    /// The largest L2 norm of a cell value.
    pub max_norm: f32,
    /// The largest magnitude of any single value (the i8 quantization scale derives from it).
    pub max_abs: f32,
    /// The sum of all cell values, per channel.
    pub sum: Vec<f32>,
    /// Cells covered by at least one splat.
    pub covered: u32,
    /// Set by writers on every node of a path they changed; cleared by `refresh`.
    pub dirty: bool,
}

impl Agg {
    fn empty(channels: usize) -> Self {
        Agg {
            max_norm: 0.0,
            max_abs: 0.0,
            sum: vec![0.0; channels],
            covered: 0,
            dirty: true,
        }
    }
}

/// One brick: `CELLS × channels` values (cell order `x + 8y + 64z`) and per-cell splat counts.
///
/// Invariant: a cell whose count is 0 has value 0 exactly.
#[derive(Debug, Clone)]
pub struct Brick {
    pub values: Vec<f32>,
    pub counts: Vec<u32>,
}

/// A node: an inner node with 8 optional children, or a leaf brick.
#[derive(Debug, Clone)]
pub enum Kind {
    Inner(Box<[Option<Arc<Node>>; 8]>),
    Leaf(Brick),
}

/// A node and the aggregate of its subtree.
#[derive(Debug, Clone)]
pub struct Node {
    pub agg: Agg,
    pub kind: Kind,
}

/// The first brick of child `i` (bit 0: x, 1: y, 2: z) of a node at `origin` whose
/// children are `half` bricks wide.
fn child_origin(origin: [u32; 3], half: u32, i: usize) -> [u32; 3] {
    let i = i as u32;
    [
        origin[0] + (i & 1) * half,
        origin[1] + ((i >> 1) & 1) * half,
        origin[2] + ((i >> 2) & 1) * half,
    ]
}

/// The index of a cell inside its brick.
pub fn cell_in_brick(i: u32, j: u32, k: u32) -> usize {
    let e = EDGE as u32;
    ((i % e) + e * (j % e) + e * e * (k % e)) as usize
}

pub use tensormap_storage::brick::{morton, unmorton};

/// Which child of a node at `level` (0 = root) of a tree of `depth` levels holds brick `b`.
fn child_index(b: [u32; 3], level: u32, depth: u32) -> usize {
    let bit = depth - 1 - level;
    (((b[0] >> bit) & 1) | (((b[1] >> bit) & 1) << 1) | (((b[2] >> bit) & 1) << 2)) as usize
}

/// The octree: `depth` inner levels above the bricks (0 when the grid is one brick).
#[derive(Debug, Clone)]
pub struct Octree {
    pub channels: usize,
    pub depth: u32,
    pub root: Option<Arc<Node>>,
}

impl Octree {
    /// An empty tree over `bricks_per_axis` bricks (a power of two) per axis.
    pub fn new(channels: usize, bricks_per_axis: u32) -> Self {
        Octree {
            channels,
            depth: bricks_per_axis.trailing_zeros(),
            root: None,
        }
    }

    /// The brick at `b`, if it exists.
    pub fn brick(&self, b: [u32; 3]) -> Option<(&Brick, &Agg)> {
        let mut node = self.root.as_deref()?;
        for level in 0..self.depth {
            match &node.kind {
                Kind::Inner(children) => {
                    node = children[child_index(b, level, self.depth)].as_deref()?
                }
                Kind::Leaf(_) => return None,
            }
        }
        match &node.kind {
            Kind::Leaf(brick) => Some((brick, &node.agg)),
            Kind::Inner(_) => None,
        }
    }

    /// The brick at `b` for writing, created empty if missing; the path is copied where
    /// shared and marked dirty.
    pub fn brick_mut(&mut self, b: [u32; 3]) -> &mut Brick {
        let channels = self.channels;
        let depth = self.depth;
        let mut slot = &mut self.root;
        for level in 0..depth {
            let node = Arc::make_mut(slot.get_or_insert_with(|| {
                Arc::new(Node {
                    agg: Agg::empty(channels),
                    kind: Kind::Inner(Box::default()),
                })
            }));
            node.agg.dirty = true;
            slot = match &mut node.kind {
                Kind::Inner(children) => &mut children[child_index(b, level, depth)],
                // Invariant: inner nodes sit exactly at levels 0..depth.
                Kind::Leaf(_) => unreachable!("leaf above the brick level"),
            };
        }
        let node = Arc::make_mut(slot.get_or_insert_with(|| {
            Arc::new(Node {
                agg: Agg::empty(channels),
                kind: Kind::Leaf(Brick {
                    values: vec![0.0; CELLS * channels],
                    counts: vec![0; CELLS],
                }),
            })
        }));
        node.agg.dirty = true;
        match &mut node.kind {
            Kind::Leaf(brick) => brick,
            Kind::Inner(_) => unreachable!("inner node at the brick level"),
        }
    }

    /// Replaces the brick at `b` (used when loading from disk).
    pub fn set_brick(&mut self, b: [u32; 3], values: Vec<f32>, counts: Vec<u32>) {
        let brick = self.brick_mut(b);
        brick.values = values;
        brick.counts = counts;
    }

    /// Recomputes every dirty aggregate and removes empty subtrees.
    pub fn refresh(&mut self) {
        refresh(&mut self.root, self.channels);
    }

    /// Calls `f(first brick, bricks per axis, agg)` for every node `level` levels below the
    /// root (or for a brick above that level).
    pub fn visit_level(&self, level: u32, f: &mut dyn FnMut([u32; 3], u32, &Agg)) {
        fn walk(
            node: &Node,
            origin: [u32; 3],
            size: u32,
            level: u32,
            f: &mut dyn FnMut([u32; 3], u32, &Agg),
        ) {
            match &node.kind {
                Kind::Inner(children) if level > 0 => {
                    let half = size / 2;
                    for (i, child) in children.iter().enumerate() {
                        if let Some(child) = child.as_deref() {
                            walk(child, child_origin(origin, half, i), half, level - 1, f);
                        }
                    }
                }
                _ => f(origin, size, &node.agg),
            }
        }
        if let Some(root) = self.root.as_deref() {
            walk(root, [0, 0, 0], 1 << self.depth, level, f);
        }
    }

    /// Calls `f(brick coords, brick, agg)` for every brick whose node passes `keep`, which
    /// sees each node's brick range `(first brick, bricks per axis)` and aggregate.
    pub fn visit<'a>(
        &'a self,
        keep: &mut dyn FnMut([u32; 3], u32, &Agg) -> bool,
        f: &mut dyn FnMut([u32; 3], &'a Brick, &'a Agg),
    ) {
        if let Some(root) = self.root.as_deref() {
            visit(root, [0, 0, 0], 1 << self.depth, keep, f);
        }
    }
}

fn visit<'a>(
    node: &'a Node,
    origin: [u32; 3],
    size: u32,
    keep: &mut dyn FnMut([u32; 3], u32, &Agg) -> bool,
    f: &mut dyn FnMut([u32; 3], &'a Brick, &'a Agg),
) {
    if !keep(origin, size, &node.agg) {
        return;
    }
    match &node.kind {
        Kind::Leaf(brick) => f(origin, brick, &node.agg),
        Kind::Inner(children) => {
            let half = size / 2;
            for (i, child) in children.iter().enumerate() {
                if let Some(child) = child.as_deref() {
                    visit(child, child_origin(origin, half, i), half, keep, f);
                }
            }
        }
    }
}

/// The aggregate of one brick's cells.
pub fn brick_agg(brick: &Brick, channels: usize) -> Agg {
    /// Lanes of the partial sums and maxima: wide enough for the compiler to vectorize.
    const LANES: usize = 8;
    let mut agg = Agg::empty(channels);
    agg.dirty = false;
    let mut peak = [0.0f32; LANES];
    for (cell, &count) in brick.counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        agg.covered += 1;
        let v = &brick.values[cell * channels..(cell + 1) * channels];
        for (s, x) in agg.sum.iter_mut().zip(v) {
            *s += x;
        }
        let mut sq = [0.0f32; LANES];
        let chunks = v.chunks_exact(LANES);
        let tail = chunks.remainder();
        for c in chunks {
            for i in 0..LANES {
                sq[i] += c[i] * c[i];
                peak[i] = peak[i].max(c[i].abs());
            }
        }
        for (i, x) in tail.iter().enumerate() {
            sq[i] += x * x;
            peak[i] = peak[i].max(x.abs());
        }
        agg.max_norm = agg.max_norm.max(sq.iter().sum::<f32>().sqrt());
    }
    agg.max_abs = peak.iter().fold(0.0, |m, p| m.max(*p));
    agg
}

fn refresh(slot: &mut Option<Arc<Node>>, channels: usize) {
    let Some(arc) = slot else { return };
    if !arc.agg.dirty {
        return;
    }
    let node = Arc::make_mut(arc);
    node.agg = match &mut node.kind {
        Kind::Leaf(brick) => brick_agg(brick, channels),
        Kind::Inner(children) => {
            let mut agg = Agg::empty(channels);
            agg.dirty = false;
            for child in children.iter_mut() {
                refresh(child, channels);
                if let Some(c) = child.as_deref() {
                    agg.covered += c.agg.covered;
                    agg.max_norm = agg.max_norm.max(c.agg.max_norm);
                    agg.max_abs = agg.max_abs.max(c.agg.max_abs);
                    agg.sum
                        .iter_mut()
                        .zip(&c.agg.sum)
                        .for_each(|(s, x)| *s += x);
                }
            }
            agg
        }
    };
    if node.agg.covered == 0 {
        *slot = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morton_round_trips() {
        for b in [[0, 0, 0], [1, 2, 3], [255, 0, 17], [255, 255, 255]] {
            assert_eq!(unmorton(morton(b)), b);
        }
        assert!(morton([1, 0, 0]) < morton([0, 1, 0]));
    }

    #[test]
    fn copy_on_write_leaves_the_original_untouched() {
        let mut a = Octree::new(2, 8);
        let brick = a.brick_mut([1, 2, 3]);
        brick.values[0] = 5.0;
        brick.counts[0] = 1;
        a.refresh();
        let mut b = a.clone();
        b.brick_mut([1, 2, 3]).values[0] = 7.0;
        b.refresh();
        assert_eq!(a.brick([1, 2, 3]).unwrap().0.values[0], 5.0);
        assert_eq!(b.brick([1, 2, 3]).unwrap().0.values[0], 7.0);
        assert_eq!(a.root.as_ref().unwrap().agg.max_abs, 5.0);
        assert_eq!(b.root.as_ref().unwrap().agg.max_abs, 7.0);
    }

    #[test]
    fn empty_bricks_are_pruned_on_refresh() {
        let mut t = Octree::new(1, 4);
        t.brick_mut([3, 3, 3]);
        t.refresh();
        assert!(t.root.is_none());
    }
}
