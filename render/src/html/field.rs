//! The field as the page gets it: the norm max-pooled down to at most `field_resolution`
//! cells per axis (a coarser octree level, as the map's own aggregates keep the largest
//! norm), non-zero bricks only, in Morton order.
//!
//! Max rather than mean pooling so that a narrow splat still shows at a coarse level: the
//! heat map and the glow samples are about where the field is strong.

use std::collections::HashMap;

use super::cells::morton;
use super::input::{ViewField, BRICK_CELLS, BRICK_EDGE};

/// A field ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct PageField {
    /// Cells per axis after pooling.
    pub resolution: u32,
    /// The map's cells per axis.
    pub source_resolution: u32,
    /// The grid spans `[-bounds, bounds]³`.
    pub bounds: f64,
    /// Brick coordinates at `resolution`, Morton order.
    pub coords: Vec<[u32; 3]>,
    /// `BRICK_CELLS` norms per brick, in the order of `coords`, cell `x + 8y + 64z`.
    pub norms: Vec<f32>,
    /// The largest norm.
    pub max_norm: f32,
}

impl PageField {
    /// Pools `field` (validated) down to at most `cap` cells per axis (a power of two ≥ 8).
    pub fn new(field: &ViewField, cap: u32) -> PageField {
        let factor = (field.resolution / cap.max(BRICK_EDGE)).max(1);
        let e = BRICK_EDGE;
        let mut out: HashMap<[u32; 3], Vec<f32>> = HashMap::new();
        for b in &field.bricks {
            if b.norms.iter().all(|v| *v == 0.0) {
                continue;
            }
            for z in 0..e {
                for y in 0..e {
                    for x in 0..e {
                        let v = b.norms[(x + e * (y + e * z)) as usize];
                        if v == 0.0 {
                            continue;
                        }
                        let global = [
                            (b.coords[0] * e + x) / factor,
                            (b.coords[1] * e + y) / factor,
                            (b.coords[2] * e + z) / factor,
                        ];
                        let brick = global.map(|c| c / e);
                        let cell = global.map(|c| c % e);
                        let slot = out.entry(brick).or_insert_with(|| vec![0.0; BRICK_CELLS]);
                        let i = (cell[0] + e * (cell[1] + e * cell[2])) as usize;
                        slot[i] = slot[i].max(v);
                    }
                }
            }
        }
        let mut bricks: Vec<([u32; 3], Vec<f32>)> = out.into_iter().collect();
        bricks.sort_unstable_by_key(|(c, _)| morton(*c));
        let mut norms = Vec::with_capacity(bricks.len() * BRICK_CELLS);
        let mut coords = Vec::with_capacity(bricks.len());
        for (c, n) in bricks {
            coords.push(c);
            norms.extend_from_slice(&n);
        }
        let max_norm = norms.iter().fold(0.0f32, |m, v| m.max(*v));
        PageField {
            resolution: field.resolution / factor,
            source_resolution: field.resolution,
            bounds: field.bounds,
            coords,
            norms,
            max_norm,
        }
    }

    /// The norms of brick `k`.
    pub fn brick(&self, k: usize) -> &[f32] {
        &self.norms[k * BRICK_CELLS..(k + 1) * BRICK_CELLS]
    }

    /// What one unit of a quantized norm is worth: `max_norm / 65535` (1 for an empty field).
    pub fn quantum(&self) -> f32 {
        if self.max_norm > 0.0 {
            self.max_norm / 65535.0
        } else {
            1.0
        }
    }

    /// A norm as 16 bits: `round(norm / quantum)`. The page multiplies back; the error is at
    /// most half a quantum (1/131070 of the largest norm), and only 0 reads back as 0 …
    /// or a norm under half a quantum, which the heat map could not show anyway.
    pub fn quantize(&self, v: f32) -> u16 {
        (v / self.quantum()).round().clamp(0.0, 65535.0) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::input::FieldBrick;

    fn brick(coords: [u32; 3], f: impl Fn(u32, u32, u32) -> f32) -> FieldBrick {
        let mut norms = vec![0.0; BRICK_CELLS];
        for z in 0..8 {
            for y in 0..8 {
                for x in 0..8 {
                    norms[(x + 8 * y + 64 * z) as usize] = f(x, y, z);
                }
            }
        }
        FieldBrick { coords, norms }
    }

    #[test]
    fn pooling_keeps_the_largest_norm_of_each_block() {
        // 32 cells per axis pooled to 8: each output cell is the max of a 4³ block.
        let field = ViewField {
            resolution: 32,
            bounds: 10.0,
            bricks: vec![
                brick([0, 0, 0], |x, y, z| (x + 10 * y + 100 * z) as f32),
                brick(
                    [3, 3, 3],
                    |x, y, z| if (x, y, z) == (7, 7, 7) { 5.0 } else { 0.0 },
                ),
                brick([1, 0, 0], |_, _, _| 0.0),
            ],
        };
        let p = PageField::new(&field, 8);
        assert_eq!((p.resolution, p.source_resolution), (8, 32));
        assert_eq!(p.coords, vec![[0, 0, 0]]);
        let b = p.brick(0);
        // Output cell (1, 1, 1) pools input cells 4..8 of brick 0 on each axis.
        assert_eq!(b[1 + 8 + 64], (7 + 70 + 700) as f32);
        assert_eq!(b[0], (3 + 30 + 300) as f32);
        // Input brick (3, 3, 3), cell (7, 7, 7) = global 31 → output cell 7.
        assert_eq!(b[7 + 56 + 448], 5.0);
        assert_eq!(b[2], 0.0, "nothing pooled there");
        assert_eq!(p.max_norm, 777.0);
        // No pooling below the cap; zero bricks dropped; Morton order.
        let q = PageField::new(&field, 128);
        assert_eq!(q.resolution, 32);
        assert_eq!(q.coords, vec![[0, 0, 0], [3, 3, 3]]);
        assert_eq!(q.brick(0), field.bricks[0].norms.as_slice());
    }
}
