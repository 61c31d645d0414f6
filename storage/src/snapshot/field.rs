//! The field in a snapshot: the octree topology (child masks, breadth first) and brick
//! records, quantized to the file's dtype.
//!
//! **Topology.** The grid of `b = resolution / 8` bricks per axis is an octree of
//! `depth = log2(b)` inner levels. Level 0 is the root; each inner node is one byte whose
//! bit `i` says child `i` exists (child `i` covers the octant with x = bit 0, y = bit 1,
//! z = bit 2 of `i`). Levels follow one another; within a level nodes are in Morton order,
//! so level `l + 1` has as many bytes as there are bits set in level `l`, and the leaves
//! (the bits of the last level) are the stored bricks in Morton order. No mask is zero. An
//! empty field has no bytes; a one-brick grid (`depth` 0) has no bytes either, and the
//! footer's brick count (0 or 1) says whether its brick is stored.
//!
//! **Brick record** (`channels = c`), the unit of a field block:
//! ```text
//! counts 512×u32 (shuffled) | scale f32 (i8 only) | values 512×c (f32, f16 shuffled; i8)
//! ```
//! in cell order `x + 8y + 64z`, channel fastest. `counts[cell]` is the number of objects
//! whose splat covers the cell; a cell with count 0 holds 0 exactly; a stored brick covers
//! at least one cell. For i8 `value = q · scale`, `scale = max|v| / 127` over the brick.

use half::f16;

use super::block;
use super::layout::dtype_width;
use crate::brick::CELLS;
use crate::Dtype;

/// One brick of the field: its coordinates, its values as f32 and its splat counts.
#[derive(Debug, Clone, PartialEq)]
pub struct BrickEntry {
    /// Brick coordinates (cell coordinates divided by 8).
    pub coords: [u32; 3],
    /// `512 × channels` values, cell order `x + 8y + 64z`, channel fastest.
    pub values: Vec<f32>,
    /// `512` splat counts.
    pub counts: Vec<u32>,
}

pub use crate::brick::{morton, unmorton};

/// Inner levels above the bricks for a grid of `resolution` cells per axis.
pub fn depth_of(resolution: u32) -> u32 {
    (resolution / crate::brick::EDGE as u32).trailing_zeros()
}

/// The child masks of the octree whose leaves are `mortons` (strictly ascending, each
/// below `8^depth`).
pub fn encode_topology(mortons: &[u64], depth: u32) -> Vec<u8> {
    let mut out = Vec::new();
    if mortons.is_empty() {
        return out;
    }
    for level in 0..depth {
        let shift = 3 * (depth - 1 - level);
        let mut node = None;
        for &m in mortons {
            let parent = m >> (shift + 3);
            let bit = 1u8 << ((m >> shift) & 7);
            match node {
                Some(p) if p == parent => {
                    if let Some(last) = out.last_mut() {
                        *last |= bit;
                    }
                }
                _ => {
                    out.push(bit);
                    node = Some(parent);
                }
            }
        }
    }
    out
}

/// Checks topology bytes for a tree of `depth` levels; returns the number of leaves, or
/// the offset in the bytes and what is wrong. Allocates nothing.
pub fn check_topology(bytes: &[u8], depth: u32) -> Result<u64, (u64, String)> {
    if bytes.is_empty() {
        return Ok(0);
    }
    if depth == 0 {
        return Err((0, "a one-brick grid has no topology bytes".into()));
    }
    let mut start = 0usize;
    let mut nodes = 1usize;
    for level in 0..depth {
        let end = match start.checked_add(nodes) {
            Some(end) if end <= bytes.len() => end,
            _ => {
                return Err((
                    start as u64,
                    format!(
                        "level {level} needs {nodes} masks, {} bytes are left",
                        bytes.len() - start
                    ),
                ))
            }
        };
        let mut children = 0usize;
        for (i, m) in bytes[start..end].iter().enumerate() {
            if *m == 0 {
                return Err((
                    (start + i) as u64,
                    format!("an empty mask at level {level}"),
                ));
            }
            children += m.count_ones() as usize;
        }
        start = end;
        nodes = children;
    }
    if start != bytes.len() {
        return Err((
            start as u64,
            format!("{} bytes after the last level", bytes.len() - start),
        ));
    }
    Ok(nodes as u64)
}

/// The leaves of checked topology bytes, in Morton order, one at a time (no allocation
/// proportional to the leaves).
#[derive(Debug, Clone)]
pub struct Leaves<'a> {
    levels: Vec<&'a [u8]>,
    /// Per level: the next mask to read, the current node's prefix and its bits not yet
    /// visited.
    pos: Vec<usize>,
    prefix: Vec<u64>,
    bits: Vec<u8>,
    root_taken: bool,
    /// For a one-brick grid: whether brick 0 is stored and not yet yielded.
    single: bool,
}

impl<'a> Leaves<'a> {
    /// Leaves of `bytes`, which [`check_topology`] accepted for `depth` with `bricks` leaves.
    pub fn new(bytes: &'a [u8], depth: u32, bricks: u64) -> Self {
        let mut levels = Vec::new();
        if !bytes.is_empty() {
            let (mut start, mut nodes) = (0usize, 1usize);
            for _ in 0..depth {
                let end = (start + nodes).min(bytes.len());
                levels.push(&bytes[start..end]);
                nodes = bytes[start..end]
                    .iter()
                    .map(|m| m.count_ones() as usize)
                    .sum();
                start = end;
            }
        }
        let d = levels.len();
        Leaves {
            levels,
            pos: vec![0; d],
            prefix: vec![0; d],
            bits: vec![0; d],
            root_taken: false,
            single: depth == 0 && bricks == 1,
        }
    }

    /// The next node of level `l + 1` (a child of level `l`), as its Morton prefix.
    fn next_child(&mut self, l: usize) -> Option<u64> {
        loop {
            if self.bits[l] != 0 {
                let b = self.bits[l].trailing_zeros() as u64;
                self.bits[l] &= self.bits[l] - 1;
                return Some((self.prefix[l] << 3) | b);
            }
            let p = if l == 0 {
                if self.root_taken {
                    return None;
                }
                self.root_taken = true;
                0
            } else {
                self.next_child(l - 1)?
            };
            let mask = *self.levels[l].get(self.pos[l])?;
            self.pos[l] += 1;
            self.prefix[l] = p;
            self.bits[l] = mask;
        }
    }
}

impl Iterator for Leaves<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.levels.is_empty() {
            return std::mem::take(&mut self.single).then_some(0);
        }
        let last = self.levels.len() - 1;
        self.next_child(last)
    }
}

/// Bytes of one brick record.
pub fn record_len(channels: usize, dtype: Dtype) -> usize {
    CELLS * 4 + if dtype == Dtype::I8 { 4 } else { 0 } + CELLS * channels * dtype_width(dtype)
}

/// Checks a brick a writer was given: its shape, finite values, zero where uncovered, at
/// least one covered cell, no count above the number of objects.
pub fn check_brick(
    values: &[f32],
    counts: &[u32],
    channels: usize,
    objects: u64,
) -> Result<(), String> {
    if counts.len() != CELLS || values.len() != CELLS * channels {
        return Err(format!(
            "a brick needs {} values and {CELLS} counts, found {} and {}",
            CELLS * channels,
            values.len(),
            counts.len()
        ));
    }
    check_cells(values, counts, channels, objects)
}

fn check_cells(
    values: &[f32],
    counts: &[u32],
    channels: usize,
    objects: u64,
) -> Result<(), String> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "value {} of cell {} is not finite",
            values[i],
            i / channels
        ));
    }
    let mut covered = false;
    for (cell, &count) in counts.iter().enumerate() {
        if count as u64 > objects {
            return Err(format!(
                "cell {cell} counts {count} splats, the map has {objects} objects"
            ));
        }
        covered |= count > 0;
        if count == 0
            && values[cell * channels..(cell + 1) * channels]
                .iter()
                .any(|v| *v != 0.0)
        {
            return Err(format!("cell {cell} has a value but no splat covers it"));
        }
    }
    if !covered {
        return Err("no cell of the brick is covered by a splat".into());
    }
    Ok(())
}

/// Appends the record of a checked brick, quantized to `dtype`. Fails only for a value
/// beyond the f16 range.
pub fn encode_brick(
    out: &mut Vec<u8>,
    values: &[f32],
    counts: &[u32],
    dtype: Dtype,
) -> Result<(), String> {
    block::put_u32(out, counts);
    match dtype {
        Dtype::F32 => block::put_f32(out, values),
        Dtype::F16 => {
            let h: Vec<f16> = values.iter().map(|v| f16::from_f32(*v)).collect();
            if let Some(i) = h.iter().position(|x| x.is_infinite()) {
                return Err(format!(
                    "value {} exceeds the f16 range (±65504): snapshot this map as f32",
                    values[i]
                ));
            }
            block::put_f16(out, &h);
        }
        Dtype::I8 => {
            let peak = crate::brick::max_abs(values);
            let scale = peak / 127.0;
            out.extend_from_slice(&scale.to_le_bytes());
            out.extend(values.iter().map(|v| {
                if scale > 0.0 {
                    (v / scale).round().clamp(-127.0, 127.0) as i8 as u8
                } else {
                    0
                }
            }));
        }
    }
    Ok(())
}

/// Decodes and checks one brick record at `coords` (exactly [`record_len`] bytes).
pub fn decode_brick(
    rec: &[u8],
    coords: [u32; 3],
    channels: usize,
    dtype: Dtype,
    objects: u64,
) -> Result<BrickEntry, String> {
    let n = CELLS * channels;
    let mut c = block::Cursor::new(rec);
    let mut counts = Vec::with_capacity(CELLS);
    block::get_u32(c.take(CELLS * 4, "counts")?, CELLS, &mut counts);
    let mut values = Vec::with_capacity(n);
    match dtype {
        Dtype::F32 => block::get_f32(c.take(n * 4, "values")?, n, &mut values),
        Dtype::F16 => {
            let mut h = Vec::with_capacity(n);
            block::get_f16(c.take(n * 2, "values")?, n, &mut h);
            values.extend(h.iter().map(|x| x.to_f32()));
        }
        Dtype::I8 => {
            let scale = f32::from_le_bytes(
                c.take(4, "scale")?
                    .try_into()
                    .map_err(|_| "scale".to_string())?,
            );
            if !scale.is_finite() || scale < 0.0 {
                return Err(format!("i8 scale {scale} is not a finite number ≥ 0"));
            }
            values.extend(c.take(n, "values")?.iter().map(|&q| q as i8 as f32 * scale));
        }
    }
    c.finish()?;
    check_cells(&values, &counts, channels, objects)?;
    Ok(BrickEntry {
        coords,
        values,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_round_trips_through_the_leaves() {
        for depth in 1..=4u32 {
            let all = 1u64 << (3 * depth);
            for step in [1, 3, 7, 64, all] {
                let mortons: Vec<u64> = (0..all).step_by(step as usize).collect();
                let bytes = encode_topology(&mortons, depth);
                assert_eq!(check_topology(&bytes, depth).unwrap(), mortons.len() as u64);
                let back: Vec<u64> = Leaves::new(&bytes, depth, mortons.len() as u64).collect();
                assert_eq!(back, mortons, "depth {depth} step {step}");
            }
        }
        assert_eq!(encode_topology(&[], 3), Vec::<u8>::new());
        assert_eq!(Leaves::new(&[], 0, 1).collect::<Vec<_>>(), vec![0]);
        assert_eq!(Leaves::new(&[], 0, 0).count(), 0);
        assert_eq!(Leaves::new(&[], 2, 0).count(), 0);
    }

    #[test]
    fn bad_topology_is_refused() {
        assert!(check_topology(&[1], 0).is_err());
        assert!(check_topology(&[0], 1).is_err());
        assert!(check_topology(&[3], 2).is_err()); // level 1 missing
        assert!(check_topology(&[1, 1, 9], 2).is_err()); // a byte too many
        assert!(check_topology(&[0xff; 9], 2).is_ok());
        assert_eq!(check_topology(&[0xff; 9], 2).unwrap(), 64);
    }

    #[test]
    fn morton_round_trips_and_orders_x_first() {
        for b in [[0, 0, 0], [1, 2, 3], [255, 0, 17], [255, 255, 255]] {
            assert_eq!(unmorton(morton(b)), b);
        }
        assert_eq!(morton([1, 0, 0]), 1);
        assert_eq!(morton([0, 1, 0]), 2);
        assert_eq!(morton([0, 0, 1]), 4);
    }

    #[test]
    fn a_brick_round_trips_within_its_dtype() {
        let ch = 3;
        let mut values = vec![0.0f32; CELLS * ch];
        let mut counts = vec![0u32; CELLS];
        for cell in (0..CELLS).step_by(5) {
            counts[cell] = 2;
            for c in 0..ch {
                values[cell * ch + c] = ((cell * 7 + c) % 23) as f32 / 3.0 - 3.5;
            }
        }
        let peak = crate::brick::max_abs(&values);
        for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
            let mut rec = Vec::new();
            check_brick(&values, &counts, ch, 2).unwrap();
            encode_brick(&mut rec, &values, &counts, dtype).unwrap();
            assert_eq!(rec.len(), record_len(ch, dtype));
            let b = decode_brick(&rec, [1, 2, 3], ch, dtype, 2).unwrap();
            assert_eq!(b.counts, counts);
            for (v, w) in values.iter().zip(&b.values) {
                // Exactly what the map's own storage at that dtype gives.
                assert_eq!(dtype.quantize(*v, peak), *w, "{dtype:?}");
            }
            assert!(decode_brick(&rec, [1, 2, 3], ch, dtype, 1).is_err());
        }
        let mut big = values.clone();
        big[0] = 70000.0;
        let mut rec = Vec::new();
        assert!(encode_brick(&mut rec, &big, &counts, Dtype::F16).is_err());
        let mut uncovered = values.clone();
        uncovered[ch] = 1.0; // cell 1 has count 0
        assert!(check_brick(&uncovered, &counts, ch, 2).is_err());
        assert!(check_brick(&values, &vec![0; CELLS], ch, 2).is_err());
    }
}
