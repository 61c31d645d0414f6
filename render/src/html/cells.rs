//! Objects in octree-cell order, for level of detail.
//!
//! The objects' bounding cube is cut into `8^depth` cells; objects are ordered by the Morton
//! code of their cell, and inside a cell by a hash of their id. The hash order makes every
//! prefix of a cell a uniform sample of it that does not depend on the order rows arrived
//! in, so the page can draw the first `k` objects of each cell in view to keep to a point
//! budget (as Potree draws octree nodes), a sampled file keeps prefixes, and the served
//! viewer asks for prefixes of cells and grows them.

use super::input::ViewObjects;

/// Objects per cell the depth is chosen for (about; cells are uneven).
const TARGET_PER_CELL: usize = 256;
/// The deepest level: 8^7 ≈ 2M cells, Morton codes of 21 bits.
pub const MAX_DEPTH: u32 = 7;

/// One non-empty cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Morton code of the cell's `(x, y, z)` at the index's depth (x in the lowest bit).
    pub code: u32,
    /// Its first object in [`CellIndex::order`].
    pub start: u32,
    /// Its objects.
    pub count: u32,
}

/// The objects' order by cell, and the cells.
#[derive(Debug, Clone, PartialEq)]
pub struct CellIndex {
    /// The bounding cube's lowest corner, world units.
    pub origin: [f64; 3],
    /// The cube's edge, world units (> 0).
    pub size: f64,
    /// Levels below the cube: `2^depth` cells per axis.
    pub depth: u32,
    /// Object indices (into the input) in cell order.
    pub order: Vec<u32>,
    /// The non-empty cells, by Morton code.
    pub cells: Vec<Cell>,
}

/// A 64-bit hash of an id (FNV-1a, then the splitmix64 finalizer to spread low bits).
pub fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Spreads the low 10 bits of `v` to every third bit.
fn spread(v: u32) -> u32 {
    let mut x = v & 0x3ff;
    x = (x | (x << 16)) & 0x0300_00ff;
    x = (x | (x << 8)) & 0x0300_f00f;
    x = (x | (x << 4)) & 0x030c_30c3;
    (x | (x << 2)) & 0x0924_9249
}

/// The Morton code of cell `(x, y, z)` (each < 1024).
pub fn morton(c: [u32; 3]) -> u32 {
    spread(c[0]) | (spread(c[1]) << 1) | (spread(c[2]) << 2)
}

/// The depth that gives about [`TARGET_PER_CELL`] objects per cell for `n` objects.
fn depth_for(n: usize) -> u32 {
    let mut depth = 0;
    while depth < MAX_DEPTH && (n >> (3 * depth)) > TARGET_PER_CELL {
        depth += 1;
    }
    depth
}

impl CellIndex {
    /// Orders `objects` (validated: finite positions) by cell.
    pub fn new(objects: &ViewObjects) -> CellIndex {
        let n = objects.len();
        let depth = depth_for(n);
        let (origin, size) = bounding_cube(&objects.positions);
        let per_axis = 1u32 << depth;
        let scale = per_axis as f64 / size;
        let cell_of = |p: &[f32; 3]| {
            let c = [0, 1, 2].map(|a| {
                let v = ((p[a] as f64 - origin[a]) * scale).floor();
                v.clamp(0.0, (per_axis - 1) as f64) as u32
            });
            morton(c)
        };
        let mut keys: Vec<(u32, u64, u32)> = objects
            .positions
            .iter()
            .zip(&objects.ids)
            .enumerate()
            .map(|(i, (p, id))| (cell_of(p), id_hash(id), i as u32))
            .collect();
        keys.sort_unstable();
        let mut cells: Vec<Cell> = Vec::new();
        for (k, &(code, _, _)) in keys.iter().enumerate() {
            match cells.last_mut() {
                Some(c) if c.code == code => c.count += 1,
                _ => cells.push(Cell {
                    code,
                    start: k as u32,
                    count: 1,
                }),
            }
        }
        CellIndex {
            origin,
            size,
            depth,
            order: keys.into_iter().map(|(_, _, i)| i).collect(),
            cells,
        }
    }

    /// How many objects of each cell a stratified sample of `total` objects takes (largest
    /// remainder: the counts sum to `min(total, n)` and each is within one of proportional).
    pub fn sample_counts(&self, total: usize) -> Vec<u32> {
        let n = self.order.len();
        if total >= n {
            return self.cells.iter().map(|c| c.count).collect();
        }
        let mut counts = Vec::with_capacity(self.cells.len());
        let mut rest = Vec::with_capacity(self.cells.len());
        let mut given = 0usize;
        for (k, c) in self.cells.iter().enumerate() {
            // Exact in u128: count · total < 2^64 · 2^32.
            let share = c.count as u128 * total as u128;
            let whole = (share / n as u128) as u32;
            counts.push(whole);
            rest.push((share % n as u128, k));
            given += whole as usize;
        }
        // Largest remainders first; ties by cell order, so the result is deterministic.
        rest.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, k) in rest.iter().take(total - given) {
            counts[k] += 1;
        }
        counts
    }

    /// The cells' bounding boxes in world units: `(min, max)` of each cell's cube.
    pub fn cell_box(&self, code: u32) -> ([f64; 3], [f64; 3]) {
        let edge = self.size / (1u64 << self.depth) as f64;
        let c = [0, 1, 2].map(|a| {
            let mut v = 0u32;
            for bit in 0..10 {
                v |= ((code >> (3 * bit + a)) & 1) << bit;
            }
            v
        });
        let lo = [0, 1, 2].map(|a| self.origin[a] + c[a] as f64 * edge);
        (lo, lo.map(|v| v + edge))
    }
}

/// The smallest axis-aligned cube holding every point, a little larger so that the highest
/// point falls inside the last cell; a unit cube at the origin when there are no points.
fn bounding_cube(points: &[[f32; 3]]) -> ([f64; 3], f64) {
    if points.is_empty() {
        return ([-0.5; 3], 1.0);
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in points {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a] as f64);
            hi[a] = hi[a].max(p[a] as f64);
        }
    }
    let extent = (0..3).map(|a| hi[a] - lo[a]).fold(0.0, f64::max);
    let size = if extent > 0.0 {
        extent * (1.0 + 1e-9)
    } else {
        1.0
    };
    (lo, size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, seed: u64) -> ViewObjects {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut o = ViewObjects::default();
        for i in 0..n {
            let p = [0; 3].map(|_| rng.random_range(-100.0f32..100.0));
            o.push(format!("o{i}"), "t", p, 1.0);
        }
        o
    }

    #[test]
    fn morton_interleaves_x_lowest() {
        assert_eq!(morton([1, 0, 0]), 1);
        assert_eq!(morton([0, 1, 0]), 2);
        assert_eq!(morton([0, 0, 1]), 4);
        assert_eq!(morton([3, 3, 3]), 63);
        assert_eq!(morton([1023, 0, 0]), 0x0924_9249);
    }

    #[test]
    fn every_object_lies_in_its_cell_and_cells_partition_the_order() {
        for &n in &[0usize, 1, 7, 300, 20_000] {
            let o = random(n, n as u64);
            let ix = CellIndex::new(&o);
            let mut seen = vec![false; n];
            let mut next = 0u32;
            for c in &ix.cells {
                assert_eq!(c.start, next, "cells are contiguous");
                assert!(c.count > 0);
                next += c.count;
                let (lo, hi) = ix.cell_box(c.code);
                for &i in &ix.order[c.start as usize..(c.start + c.count) as usize] {
                    let p = o.positions[i as usize];
                    // Within rounding of the cell's box.
                    let eps = ix.size * 1e-9;
                    for a in 0..3 {
                        let v = p[a] as f64;
                        assert!(
                            lo[a] - eps <= v && v <= hi[a] + eps,
                            "{p:?} in {lo:?}..{hi:?}"
                        );
                    }
                    assert!(!seen[i as usize]);
                    seen[i as usize] = true;
                }
            }
            assert_eq!(next as usize, n);
            assert!(seen.iter().all(|s| *s));
            assert!(ix.cells.windows(2).all(|w| w[0].code < w[1].code));
        }
    }

    #[test]
    fn order_does_not_depend_on_row_order() {
        let o = random(5000, 1);
        let mut reversed = o.clone();
        reversed.ids.reverse();
        reversed.positions.reverse();
        reversed.kinds.reverse();
        reversed.confidence.reverse();
        let a = CellIndex::new(&o);
        let b = CellIndex::new(&reversed);
        let ids = |ix: &CellIndex, o: &ViewObjects| -> Vec<String> {
            ix.order
                .iter()
                .map(|&i| o.ids[i as usize].clone())
                .collect()
        };
        assert_eq!(ids(&a, &o), ids(&b, &reversed));
        assert!(a.depth >= 1);
    }

    #[test]
    fn samples_are_proportional_and_exact() {
        let o = random(20_000, 3);
        let ix = CellIndex::new(&o);
        for total in [1usize, 999, 10_000, 19_999, 20_000, 50_000] {
            let counts = ix.sample_counts(total);
            let sum: usize = counts.iter().map(|&c| c as usize).sum();
            assert_eq!(sum, total.min(20_000));
            for (c, &k) in ix.cells.iter().zip(&counts) {
                let exact = c.count as f64 * total.min(20_000) as f64 / 20_000.0;
                assert!((k as f64 - exact).abs() < 1.0 + 1e-9, "{k} vs {exact}");
                assert!(k <= c.count);
            }
        }
    }
}
