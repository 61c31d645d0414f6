//! The bulk splat: many objects added to the field at once.
//!
//! The splat kernel depends only on the offset between cells, so objects in one cell
//! splat alike: the field they add is the kernel convolved with the per-cell sums of their
//! embeddings. The kernel is a product of one 1-D Gaussian per axis, cut per axis at the
//! splat radius, so the convolution runs as three 1-D passes (x, then y, then z), each over
//! the bricks its input reaches: `3 · (2r+1)` multiply-adds of a vector per cell, against
//! `(2r+1)³` per object for the object-by-object splat — with r = 3 the passes win above
//! about 8 objects a cell-neighbourhood, i.e. ~25 objects a brick. Splat counts are the same
//! passes over per-cell object counts, in integers (exact).
//!
//! The result is a deterministic function of the rows in the order given (and of nothing
//! else: not of the thread count), so replaying a journaled bulk add reproduces the field
//! bit for bit. It equals the object-by-object splat to float rounding.

use rustc_hash::{FxHashMap, FxHashSet};
use tensormap_storage::brick::{CELLS, EDGE};

use super::octree::{cell_in_brick, morton};
use super::Field;

/// Objects per destination brick above which the convolution beats splatting each object.
const CONV_MIN_OBJECTS_PER_BRICK: usize = 24;

/// Per-cell vectors and counts of one brick (cell order `x + 8y + 64z`).
struct Block {
    values: Vec<f32>,
    counts: Vec<u32>,
}

impl Block {
    fn zero(channels: usize) -> Self {
        Block {
            values: vec![0.0; CELLS * channels],
            counts: vec![0; CELLS],
        }
    }

    /// A zeroed block, reusing `pool`'s memory when it has some (fresh pages cost a
    /// page fault each; a bulk splat of a dense field moves ~100 MB through blocks).
    fn take(pool: &mut Vec<Block>, channels: usize) -> Block {
        match pool.pop() {
            Some(mut b) => {
                b.values.fill(0.0);
                b.counts.fill(0);
                b
            }
            None => Block::zero(channels),
        }
    }
}

type Blocks = FxHashMap<[u32; 3], Block>;

/// `o += w · s`, element by element.
#[inline]
fn axpy(o: &mut [f32], w: f32, s: &[f32]) {
    for (o, s) in o.iter_mut().zip(s) {
        *o += w * s;
    }
}

impl Field {
    /// Adds the splats of `positions.len()` objects (positions inside the bounds,
    /// `embeddings` row-major `len × channels`), reporting every brick changed.
    pub fn add_bulk(
        &mut self,
        positions: &[[f32; 3]],
        embeddings: &[f32],
        touched: &mut dyn FnMut(u64),
    ) {
        let ch = self.config.channels as usize;
        let e = EDGE as u32;
        let r = self.kernel.radius as usize;
        let sources: FxHashSet<[u32; 3]> = positions
            .iter()
            .map(|p| self.cell_of(*p).map(|c| c / e))
            .collect();
        let reach = if r == 0 { 0 } else { 27 };
        if positions.len() < CONV_MIN_OBJECTS_PER_BRICK * sources.len() * reach.max(1) / 4 {
            for (i, p) in positions.iter().enumerate() {
                self.splat(*p, &embeddings[i * ch..(i + 1) * ch], true, touched);
            }
            return;
        }
        // Per-cell sums, in row order.
        let mut blocks: Blocks = FxHashMap::default();
        let mut pool: Vec<Block> = Vec::new();
        for (i, p) in positions.iter().enumerate() {
            let c = self.cell_of(*p);
            let block = blocks
                .entry(c.map(|v| v / e))
                .or_insert_with(|| Block::zero(ch));
            let n = cell_in_brick(c[0], c[1], c[2]);
            block.counts[n] += 1;
            axpy(
                &mut block.values[n * ch..(n + 1) * ch],
                1.0,
                &embeddings[i * ch..(i + 1) * ch],
            );
        }
        let pass = Pass {
            channels: ch,
            weights: self.kernel_1d(),
            bricks_per_axis: self.config.resolution / e,
        };
        for axis in 0..3 {
            let next = pass.run(&blocks, axis, &mut pool);
            pool.extend(blocks.into_values());
            blocks = next;
        }
        let mut out: Vec<([u32; 3], Block)> = blocks.into_iter().collect();
        out.sort_unstable_by_key(|(b, _)| morton(*b));
        for (b, d) in out {
            touched(morton(b));
            let brick = self.tree.brick_mut(b);
            for (v, x) in brick.values.iter_mut().zip(&d.values) {
                *v += x;
            }
            for (c, x) in brick.counts.iter_mut().zip(&d.counts) {
                *c += x;
            }
        }
    }

    /// The 1-D kernel, offsets `-r..=r`: `exp(-d²/(2σ²))`.
    fn kernel_1d(&self) -> Vec<f32> {
        let r = self.kernel.radius as i64;
        let sigma = self.config.sigma;
        (-r..=r)
            .map(|d| (-((d * d) as f64) / (2.0 * sigma * sigma)).exp() as f32)
            .collect()
    }
}

/// One 1-D convolution pass over sparse bricks.
struct Pass {
    channels: usize,
    weights: Vec<f32>,
    bricks_per_axis: u32,
}

impl Pass {
    /// Convolves `input` along `axis`: every brick the input reaches along that axis (the
    /// radius is at most one brick edge), computed on every core, each the same way.
    fn run(&self, input: &Blocks, axis: usize, pool: &mut Vec<Block>) -> Blocks {
        let reach = self.weights.len() > 1;
        let mut keys: FxHashSet<[u32; 3]> = FxHashSet::default();
        for b in input.keys() {
            keys.insert(*b);
            if reach {
                if b[axis] > 0 {
                    let mut n = *b;
                    n[axis] -= 1;
                    keys.insert(n);
                }
                if b[axis] + 1 < self.bricks_per_axis {
                    let mut n = *b;
                    n[axis] += 1;
                    keys.insert(n);
                }
            }
        }
        let mut keys: Vec<[u32; 3]> = keys.into_iter().collect();
        keys.sort_unstable_by_key(|b| morton(*b));
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let per = keys.len().div_ceil(threads).max(1);
        let mut jobs: Vec<Vec<([u32; 3], Block)>> = keys
            .chunks(per)
            .map(|part| {
                part.iter()
                    .map(|b| (*b, Block::take(pool, self.channels)))
                    .collect()
            })
            .collect();
        let done: Vec<Vec<([u32; 3], Block, bool)>> = std::thread::scope(|s| {
            let workers: Vec<_> = jobs
                .drain(..)
                .map(|job| {
                    s.spawn(move || {
                        job.into_iter()
                            .map(|(b, mut out)| {
                                let any = self.brick(input, b, axis, &mut out);
                                (b, out, any)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut out = FxHashMap::default();
        for (b, block, any) in done.into_iter().flatten() {
            if any {
                out.insert(b, block);
            } else {
                pool.push(block);
            }
        }
        out
    }

    /// Brick `b` of the pass along `axis` into `out` (zeroed); false when nothing reaches it.
    fn brick(&self, input: &Blocks, b: [u32; 3], axis: usize, out: &mut Block) -> bool {
        let ch = self.channels;
        let e = EDGE as i64;
        let r = (self.weights.len() / 2) as i64;
        // The input bricks before, at and after `b` along the axis.
        let near: [Option<&Block>; 3] = [-1i64, 0, 1].map(|d| {
            let n = b[axis] as i64 + d;
            if n < 0 {
                return None;
            }
            let mut k = b;
            k[axis] = n as u32;
            input.get(&k)
        });
        if near.iter().all(Option::is_none) {
            return false;
        }
        let stride = [1, EDGE, EDGE * EDGE][axis];
        let (u, v) = [(1, 2), (0, 2), (0, 1)][axis];
        let unit = [1, EDGE, EDGE * EDGE];
        let mut any = false;
        // One line of cells along the axis at a time: its 8 cells and the r before and
        // after, from the three bricks; then each output cell sums its 2r+1 neighbours.
        let mut line: Vec<Option<(u32, &[f32])>> = vec![None; EDGE + 2 * r as usize];
        for j in 0..EDGE {
            for i in 0..EDGE {
                let base = i * unit[u] + j * unit[v];
                for (k, slot) in line.iter_mut().enumerate() {
                    let at = k as i64 - r;
                    let (which, local) = (at.div_euclid(e), at.rem_euclid(e) as usize);
                    *slot = near[(which + 1) as usize].and_then(|src| {
                        let n = base + local * stride;
                        let count = src.counts[n];
                        (count > 0).then(|| (count, &src.values[n * ch..(n + 1) * ch]))
                    });
                }
                for x in 0..EDGE {
                    let cell = base + x * stride;
                    let o = &mut out.values[cell * ch..(cell + 1) * ch];
                    for (t, &w) in self.weights.iter().enumerate() {
                        if let Some((count, values)) = line[x + t] {
                            any = true;
                            out.counts[cell] += count;
                            axpy(o, w, values);
                        }
                    }
                }
            }
        }
        any
    }
}
