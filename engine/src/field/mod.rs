//! The voxel field of one map: a sparse octree of bricks holding the Gaussian splats of the
//! map's objects (LANGUAGE.md, "Objects"):
//! `field[c + d] += exp(-|d|²/(2σ²)) · embedding` for every offset `d` with `|d_a| ≤ r`.
//!
//! Values are accumulated in f32 whatever the map's dtype; the dtype is the precision the
//! field is stored and read at: every read rounds a value as its brick would be stored
//! ([`Dtype::quantize`]), so readers see the same numbers before and after a reopen.
//!
//! Each cell also counts the splats covering it. Removing the last one sets the cell to 0
//! exactly, so deleting every object leaves an empty field rather than rounding residue.

mod bulk;
pub mod octree;

use std::sync::Arc;

use tensormap_storage::brick::EDGE;
use tensormap_storage::{Dtype, MapConfig};

use self::octree::{brick_agg, cell_in_brick, morton, Agg, Brick, Octree};
use crate::attention::{self, Ranked};

/// The `(2r+1)³` splat weights of a map, computed once.
#[derive(Debug)]
struct Kernel {
    radius: u32,
    weights: Vec<f32>,
}

impl Kernel {
    fn new(radius: u32, sigma: f64) -> Self {
        let r = radius as i64;
        let mut weights = Vec::new();
        for dz in -r..=r {
            for dy in -r..=r {
                for dx in -r..=r {
                    let d2 = (dx * dx + dy * dy + dz * dz) as f64;
                    weights.push((-d2 / (2.0 * sigma * sigma)).exp() as f32);
                }
            }
        }
        Kernel { radius, weights }
    }
}

/// The voxel field of a map.
#[derive(Debug, Clone)]
pub struct Field {
    config: Arc<MapConfig>,
    kernel: Arc<Kernel>,
    tree: Octree,
}

/// Cells read from the field, in octree order: parallel arrays, values contiguous.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoxelSet {
    /// Values per cell.
    pub channels: usize,
    /// `(i, j, k)` of each cell.
    pub cells: Vec<[u32; 3]>,
    /// World position of each cell's centre.
    pub centers: Vec<[f32; 3]>,
    /// `len × channels` values, as stored at the map's dtype.
    pub values: Vec<f32>,
}

impl VoxelSet {
    /// The number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when there are no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The value of the `n`th cell.
    pub fn value(&self, n: usize) -> &[f32] {
        &self.values[n * self.channels..(n + 1) * self.channels]
    }

    /// Scaled dot-product attention of `query` over these cells: the softmax weight of each
    /// of the top `k` cells (index into this set, weight), ties broken by `(i, j, k)`.
    /// `query` must have `channels` values (checked by the caller).
    pub fn attention(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        let scale = 1.0 / (self.channels as f32).sqrt();
        let mut ranked = Ranked::new(k);
        attention::score_rows(
            &self.values,
            self.channels,
            query,
            scale,
            &mut |first, block| ranked.offer_block(first, block, |n| self.cells[n], |n| n),
        );
        ranked
            .finish()
            .into_iter()
            .map(|(_, n, w)| (n, w))
            .collect()
    }
}

/// A region of the field at a coarse octree level, for drawing it without visiting cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoarseCell {
    /// World position of the region's centre.
    pub center: [f32; 3],
    /// Half its width, world units.
    pub half_size: f32,
    /// The largest cell norm inside it (from the octree's aggregates).
    pub max_norm: f32,
    /// Cells covered inside it.
    pub covered: u32,
}

/// Figures of a field.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FieldStats {
    /// Bricks stored.
    pub bricks: u64,
    /// Cells covered by a splat.
    pub covered_cells: u64,
    /// The largest cell norm.
    pub max_norm: f32,
}

impl Field {
    /// An empty field for a map of `config` (validated by the caller).
    pub fn new(config: Arc<MapConfig>) -> Self {
        let kernel = Arc::new(Kernel::new(config.splat_radius, config.sigma));
        let tree = Octree::new(config.channels as usize, config.resolution / EDGE as u32);
        Field {
            config,
            kernel,
            tree,
        }
    }

    /// The map's settings.
    pub fn config(&self) -> &MapConfig {
        &self.config
    }

    /// The cell of a world position.
    pub fn cell_of(&self, p: [f32; 3]) -> [u32; 3] {
        p.map(|x| self.config.cell_of(x))
    }

    /// Adds (`add`) or removes the splat of `embedding` at `position`, reporting the Morton
    /// code of every brick it touches to `touched`. Returns false if a removal found a cell
    /// with no splat left to remove (the field did not hold this splat: corrupt input).
    pub fn splat(
        &mut self,
        position: [f32; 3],
        embedding: &[f32],
        add: bool,
        touched: &mut dyn FnMut(u64),
    ) -> bool {
        let ch = self.config.channels as usize;
        let r = self.kernel.radius as i64;
        let side = (2 * r + 1) as usize;
        let last = self.config.resolution as i64 - 1;
        let c = self.cell_of(position).map(|v| v as i64);
        let lo = c.map(|v| (v - r).max(0));
        let hi = c.map(|v| (v + r).min(last));
        let e = EDGE as i64;
        let mut consistent = true;
        for bz in lo[2] / e..=hi[2] / e {
            for by in lo[1] / e..=hi[1] / e {
                for bx in lo[0] / e..=hi[0] / e {
                    let b = [bx as u32, by as u32, bz as u32];
                    touched(morton(b));
                    let brick = self.tree.brick_mut(b);
                    for z in lo[2].max(bz * e)..=hi[2].min(bz * e + e - 1) {
                        for y in lo[1].max(by * e)..=hi[1].min(by * e + e - 1) {
                            let krow =
                                ((z - c[2] + r) as usize * side + (y - c[1] + r) as usize) * side;
                            for x in lo[0].max(bx * e)..=hi[0].min(bx * e + e - 1) {
                                let w = self.kernel.weights[krow + (x - c[0] + r) as usize];
                                let cell = cell_in_brick(x as u32, y as u32, z as u32);
                                consistent &= apply(brick, cell, ch, w, embedding, add);
                            }
                        }
                    }
                }
            }
        }
        consistent
    }

    /// Recomputes aggregates after writes and drops empty bricks. Must run before a field
    /// is published or its bricks are stored.
    pub fn refresh(&mut self) {
        self.tree.refresh();
    }

    /// Empties the brick at `b` (a brick file's removal entry); `refresh` prunes it.
    pub fn clear_brick(&mut self, b: [u32; 3]) {
        let ch = self.config.channels as usize;
        self.tree.set_brick(
            b,
            vec![0.0; tensormap_storage::brick::CELLS * ch],
            vec![0; tensormap_storage::brick::CELLS],
        );
    }

    /// Installs a brick read from storage.
    pub fn load_brick(&mut self, b: [u32; 3], values: Vec<f32>, counts: Vec<u32>) {
        self.tree.set_brick(b, values, counts);
    }

    /// The brick at `b` and its aggregate, if stored (after [`Field::refresh`]).
    pub fn brick(&self, b: [u32; 3]) -> Option<(&Brick, &Agg)> {
        self.tree.brick(b)
    }

    /// Calls `f` on every brick (coords, brick, aggregate).
    pub fn for_each_brick<'a>(&'a self, f: &mut dyn FnMut([u32; 3], &'a Brick, &'a Agg)) {
        self.tree.visit(&mut |_, _, _| true, f);
    }

    /// The value of cell `(i, j, k)` as stored (zeros where nothing is splatted).
    /// The caller checks the indices are inside the grid.
    pub fn voxel(&self, cell: [u32; 3]) -> Vec<f32> {
        let ch = self.config.channels as usize;
        let b = cell.map(|v| v / EDGE as u32);
        match self.tree.brick(b) {
            None => vec![0.0; ch],
            Some((brick, agg)) => {
                let n = cell_in_brick(cell[0], cell[1], cell[2]);
                let scale = self.max_abs(brick, agg);
                brick.values[n * ch..(n + 1) * ch]
                    .iter()
                    .map(|v| self.config.dtype.quantize(*v, scale))
                    .collect()
            }
        }
    }

    /// The largest magnitude in `brick`: from its aggregate when current.
    fn max_abs(&self, brick: &Brick, agg: &Agg) -> f32 {
        if agg.dirty {
            tensormap_storage::brick::max_abs(&brick.values)
        } else {
            agg.max_abs
        }
    }

    /// Every occupied cell (covered, non-zero value) whose centre lies within `radius` of
    /// `center`, pruning octree nodes whose cells are all farther.
    pub fn voxels_within(&self, center: [f32; 3], radius: f32) -> VoxelSet {
        let ch = self.config.channels as usize;
        let cfg = &*self.config;
        let r2 = radius as f64 * radius as f64;
        let e = EDGE as u32;
        let cell = cfg.cell_size();
        // Squared distance from `center` to the box of cell centres of a node.
        let box_dist2 = |origin: [u32; 3], size: u32| -> f64 {
            let mut d2 = 0.0;
            for a in 0..3 {
                let lo = cfg.cell_center(origin[a] * e) as f64;
                let hi = lo + ((size * e - 1) as f64) * cell;
                let p = center[a] as f64;
                let d = if p < lo {
                    lo - p
                } else if p > hi {
                    p - hi
                } else {
                    0.0
                };
                d2 += d * d;
            }
            d2
        };
        let mut out = VoxelSet {
            channels: ch,
            ..Default::default()
        };
        // The cells whose centres can lie in the sphere, per axis; each brick scans only its
        // part of that box. Centres are computed in f64 exactly as `cell_center` does.
        let last = cfg.resolution - 1;
        let lo = center.map(|c| cfg.cell_of(c - radius).saturating_sub(1));
        let hi = center.map(|c| (cfg.cell_of(c + radius) + 1).min(last));
        let axis_d2 = |a: usize, i: u32| {
            let d = cfg.cell_center(i) as f64 - center[a] as f64;
            d * d
        };
        let dtype = cfg.dtype;
        self.tree.visit(
            &mut |origin, size, _| box_dist2(origin, size) <= r2,
            &mut |b, brick, agg| {
                let scale = self.max_abs(brick, agg);
                let range = |a: usize| (lo[a].max(b[a] * e), hi[a].min(b[a] * e + e - 1));
                let ((x0, x1), (y0, y1), (z0, z1)) = (range(0), range(1), range(2));
                for k in z0..=z1 {
                    let dz = axis_d2(2, k);
                    if dz > r2 {
                        continue;
                    }
                    for j in y0..=y1 {
                        let dyz = dz + axis_d2(1, j);
                        if dyz > r2 {
                            continue;
                        }
                        for i in x0..=x1 {
                            if dyz + axis_d2(0, i) > r2 {
                                continue;
                            }
                            let n = cell_in_brick(i, j, k);
                            if brick.counts[n] == 0 {
                                continue;
                            }
                            let v = &brick.values[n * ch..(n + 1) * ch];
                            let start = out.values.len();
                            if dtype == Dtype::F32 {
                                out.values.extend_from_slice(v);
                            } else {
                                out.values
                                    .extend(v.iter().map(|x| dtype.quantize(*x, scale)));
                            }
                            if out.values[start..].iter().all(|x| *x == 0.0) {
                                out.values.truncate(start);
                                continue;
                            }
                            out.cells.push([i, j, k]);
                            out.centers.push([i, j, k].map(|c| cfg.cell_center(c)));
                        }
                    }
                }
            },
        );
        out
    }

    /// The field summarized by at most `max_regions` octree nodes: the deepest level with
    /// no more nodes than that (8^level), never finer than a brick. Read from the nodes'
    /// aggregates alone.
    pub fn coarse(&self, max_regions: usize) -> Vec<CoarseCell> {
        let mut level = 0;
        while level < self.tree.depth && 8usize.saturating_pow(level + 1) <= max_regions {
            level += 1;
        }
        let e = EDGE as u32;
        let cell = self.config.cell_size();
        let mut out = Vec::new();
        self.tree.visit_level(level, &mut |origin, size, agg| {
            let cells = (size * e) as f64;
            let center = origin
                .map(|b| (-self.config.bounds + (b * e) as f64 * cell + cells * cell / 2.0) as f32);
            out.push(CoarseCell {
                center,
                half_size: (cells * cell / 2.0) as f32,
                max_norm: agg.max_norm,
                covered: agg.covered,
            });
        });
        out
    }

    /// Figures of the field (after [`Field::refresh`]).
    pub fn stats(&self) -> FieldStats {
        let mut s = FieldStats::default();
        self.for_each_brick(&mut |_, brick, agg| {
            let agg = if agg.dirty {
                brick_agg(brick, self.config.channels as usize)
            } else {
                agg.clone()
            };
            s.bricks += 1;
            s.covered_cells += agg.covered as u64;
            s.max_norm = s.max_norm.max(agg.max_norm);
        });
        s
    }

    /// The root aggregate (None for an empty field).
    pub fn root_agg(&self) -> Option<&Agg> {
        self.tree.root.as_deref().map(|n| &n.agg)
    }

    /// The dtype reads are rounded to.
    pub fn dtype(&self) -> Dtype {
        self.config.dtype
    }
}

/// Adds or removes `w · embedding` at one cell; false on a removal from an uncovered cell.
#[inline]
fn apply(brick: &mut Brick, cell: usize, ch: usize, w: f32, embedding: &[f32], add: bool) -> bool {
    let v = &mut brick.values[cell * ch..(cell + 1) * ch];
    let count = &mut brick.counts[cell];
    if add {
        *count += 1;
        v.iter_mut().zip(embedding).for_each(|(a, x)| *a += w * x);
        true
    } else if *count == 0 {
        false
    } else {
        *count -= 1;
        if *count == 0 {
            v.fill(0.0);
        } else {
            v.iter_mut().zip(embedding).for_each(|(a, x)| *a -= w * x);
        }
        true
    }
}
