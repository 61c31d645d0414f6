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

    /// A block whose every cell the caller overwrites, reusing `pool`'s memory when it
    /// has some (fresh pages cost a page fault each; a bulk splat of a dense field moves
    /// ~100 MB through blocks).
    fn take(pool: &mut Vec<Block>, channels: usize) -> Block {
        pool.pop().unwrap_or_else(|| Block::zero(channels))
    }

    /// A zeroed block, reusing `pool`'s memory when it has some.
    fn zeroed(pool: &mut Vec<Block>, channels: usize) -> Block {
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

/// Blocks kept from one bulk splat for the next, at most [`KEPT_BYTES`] of them: a bulk
/// load splats batch after batch, and reused blocks are pages already mapped.
static KEPT: parking_lot::Mutex<Vec<Block>> = parking_lot::Mutex::new(Vec::new());

/// The memory [`KEPT`] may hold: the blocks of two passes over a dense 64³ × 32 field.
const KEPT_BYTES: usize = 72 << 20;

/// The kept blocks of `channels` channels (others are freed).
fn take_kept(channels: usize) -> Vec<Block> {
    let mut kept = std::mem::take(&mut *KEPT.lock());
    kept.retain(|b| b.values.len() == CELLS * channels);
    kept
}

/// Keeps `blocks` for the next bulk splat, up to [`KEPT_BYTES`].
fn keep(mut blocks: Vec<Block>, channels: usize) {
    let per = CELLS * (channels + 1) * 4;
    let mut kept = KEPT.lock();
    let room = (KEPT_BYTES / per).saturating_sub(kept.len());
    blocks.truncate(room);
    kept.append(&mut blocks);
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
        // The bricks the splats reach: the sources and (r > 0) their neighbours.
        let per_axis = (self.config.resolution / e) as i64;
        let reach: i64 = if r == 0 { 0 } else { 1 };
        let mut dest: FxHashSet<[u32; 3]> = FxHashSet::default();
        for b in &sources {
            for d in 0..(2 * reach + 1).pow(3) {
                let w = 2 * reach + 1;
                let n = [d % w, d / w % w, d / (w * w)].map(|v| v - reach);
                let n = [0, 1, 2].map(|a| b[a] as i64 + n[a]);
                if n.iter().all(|v| (0..per_axis).contains(v)) {
                    dest.insert(n.map(|v| v as u32));
                }
            }
        }
        if positions.len() < CONV_MIN_OBJECTS_PER_BRICK * dest.len() {
            for (i, p) in positions.iter().enumerate() {
                self.splat(*p, &embeddings[i * ch..(i + 1) * ch], true, touched);
            }
            return;
        }
        // Per-cell sums, in row order.
        let mut blocks: Blocks = FxHashMap::default();
        let mut pool = take_kept(ch);
        for (i, p) in positions.iter().enumerate() {
            let c = self.cell_of(*p);
            let block = blocks
                .entry(c.map(|v| v / e))
                .or_insert_with(|| Block::zeroed(&mut pool, ch));
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
            pool.push(d);
        }
        keep(pool, ch);
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

    /// Brick `b` of the pass along `axis` into `out` (every cell written); false when
    /// nothing reaches it.
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
                    // Every value of `out` is written: the first term sets it (as
                    // `0.0 + w·s`, the sum from zero), the others add to it.
                    let o = &mut out.values[cell * ch..(cell + 1) * ch];
                    let mut count = 0;
                    for (t, &w) in self.weights.iter().enumerate() {
                        if let Some((c, values)) = line[x + t] {
                            if count == 0 {
                                for (o, s) in o.iter_mut().zip(values) {
                                    *o = 0.0 + w * s;
                                }
                            } else {
                                axpy(o, w, values);
                            }
                            count += c;
                        }
                    }
                    if count == 0 {
                        o.fill(0.0);
                    }
                    any |= count > 0;
                    out.counts[cell] = count;
                }
            }
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use tensormap_storage::MapConfig;

    use super::*;

    /// Every cell of `a` and `b`: counts equal, values within float tolerance.
    fn assert_close(a: &Field, b: &Field) {
        let mut cells = 0;
        let mut bricks_a = Vec::new();
        a.for_each_brick(&mut |p, brick, _| bricks_a.push((p, brick.clone())));
        let mut n = 0;
        b.for_each_brick(&mut |_, _, _| n += 1);
        assert_eq!(bricks_a.len(), n, "brick counts differ");
        for (p, ba) in bricks_a {
            let (bb, _) = b.brick(p).expect("brick missing");
            assert_eq!(ba.counts, bb.counts, "counts of brick {p:?}");
            for (x, y) in ba.values.iter().zip(&bb.values) {
                assert!(
                    (x - y).abs() <= 1e-4 * x.abs().max(1.0),
                    "{x} vs {y} in {p:?}"
                );
            }
            cells += ba.counts.iter().filter(|c| **c > 0).count();
        }
        assert!(cells > 0);
    }

    #[test]
    fn the_bulk_splat_equals_splatting_each_object() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        // The last case is sparse: it takes the object-by-object path.
        for (radius, resolution, n) in [
            (3, 32, 6000),
            (1, 16, 3000),
            (0, 16, 3000),
            (8, 16, 20_000),
            (2, 64, 40),
        ] {
            let config = Arc::new(MapConfig {
                resolution,
                channels: 5,
                bounds: 100.0,
                splat_radius: radius,
                sigma: 1.5,
                ..Default::default()
            });
            // Clustered near a corner and the faces too, so the grid's edges clip splats.
            let positions: Vec<[f32; 3]> = (0..n)
                .map(|i| {
                    if i % 3 == 0 {
                        [0; 3].map(|_| rng.random_range(90.0f32..=100.0))
                    } else {
                        [0; 3].map(|_| rng.random_range(-100.0f32..=100.0))
                    }
                })
                .collect();
            let embeddings: Vec<f32> = (0..n * 5).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let mut bulk = Field::new(config.clone());
            let mut touched = Vec::new();
            bulk.add_bulk(&positions, &embeddings, &mut |m| touched.push(m));
            bulk.refresh();
            let mut each = Field::new(config.clone());
            for (i, p) in positions.iter().enumerate() {
                each.splat(*p, &embeddings[i * 5..(i + 1) * 5], true, &mut |_| {});
            }
            each.refresh();
            assert_close(&bulk, &each);
            let mut all = Vec::new();
            bulk.for_each_brick(&mut |p, _, _| all.push(morton(p)));
            assert!(
                all.iter().all(|m| touched.contains(m)),
                "an untouched brick changed"
            );
            // The same rows give the same bits.
            let mut again = Field::new(config);
            again.add_bulk(&positions, &embeddings, &mut |_| {});
            again.refresh();
            let mut a = Vec::new();
            bulk.for_each_brick(&mut |p, b, _| a.push((p, b.values.clone())));
            let mut c = Vec::new();
            again.for_each_brick(&mut |p, b, _| c.push((p, b.values.clone())));
            assert!(a == c, "not deterministic");
        }
    }
}
