//! The brick codec: one 8³-cell block of the voxel field, quantized by the map's dtype and
//! zstd-compressed, inside a record frame (see [`crate::codec`]).
//!
//! Payload before compression (all little-endian):
//! ```text
//! dtype u8 | channels u16 | scale f32 (i8 only, else 0) | counts: 512 × u32 | values
//! ```
//! `values` holds 512 × channels numbers in cell order `x + 8y + 64z`, as f32, f16 or i8
//! (`value = q · scale`). `counts[c]` is how many objects' splats cover cell `c`; a cell with
//! count 0 has value 0 exactly.

use crate::{codec, Dtype, Error, Result};

/// Cells along one edge of a brick.
pub const EDGE: usize = 8;
/// Cells in one brick.
pub const CELLS: usize = EDGE * EDGE * EDGE;

const ZSTD_LEVEL: i32 = 1;
const HEADER: usize = 1 + 2 + 4;

/// The decoded contents of one brick.
#[derive(Debug, Clone, PartialEq)]
pub struct BrickData {
    /// `CELLS × channels` values.
    pub values: Vec<f32>,
    /// `CELLS` splat counts.
    pub counts: Vec<u32>,
}

/// The Morton code of brick `b`: the coordinates' bits interleaved x, y, z from bit 0.
pub fn morton(b: [u32; 3]) -> u64 {
    let mut m = 0u64;
    for bit in 0..21 {
        for (axis, v) in b.iter().enumerate() {
            m |= (((*v >> bit) & 1) as u64) << (3 * bit + axis);
        }
    }
    m
}

/// The brick coordinates of Morton code `m`.
pub fn unmorton(m: u64) -> [u32; 3] {
    let mut b = [0u32; 3];
    for bit in 0..21 {
        for (axis, v) in b.iter_mut().enumerate() {
            *v |= (((m >> (3 * bit + axis)) & 1) as u32) << bit;
        }
    }
    b
}

fn dtype_code(d: Dtype) -> u8 {
    match d {
        Dtype::F32 => 0,
        Dtype::F16 => 1,
        Dtype::I8 => 2,
    }
}

fn value_width(d: Dtype) -> usize {
    match d {
        Dtype::F32 => 4,
        Dtype::F16 => 2,
        Dtype::I8 => 1,
    }
}

fn raw_len(channels: usize, dtype: Dtype) -> usize {
    HEADER + CELLS * 4 + CELLS * channels * value_width(dtype)
}

/// The largest magnitude among `values` (the i8 scale is this / 127).
pub fn max_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Encodes a brick for storage in `dtype`.
pub fn encode(values: &[f32], counts: &[u32], channels: usize, dtype: Dtype) -> Result<Vec<u8>> {
    if counts.len() != CELLS || values.len() != CELLS * channels || channels > u16::MAX as usize {
        return Err(Error::Encode {
            what: "brick".into(),
            reason: format!(
                "{} values and {} counts for {channels} channels",
                values.len(),
                counts.len()
            ),
        });
    }
    let mut raw = Vec::with_capacity(raw_len(channels, dtype));
    raw.push(dtype_code(dtype));
    raw.extend_from_slice(&(channels as u16).to_le_bytes());
    let peak = max_abs(values);
    let scale = if dtype == Dtype::I8 {
        peak / 127.0
    } else {
        0.0
    };
    raw.extend_from_slice(&scale.to_le_bytes());
    for c in counts {
        raw.extend_from_slice(&c.to_le_bytes());
    }
    match dtype {
        Dtype::F32 => values
            .iter()
            .for_each(|v| raw.extend_from_slice(&v.to_le_bytes())),
        Dtype::F16 => values
            .iter()
            .for_each(|v| raw.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
        Dtype::I8 => values.iter().for_each(|v| {
            let q = if scale > 0.0 {
                (v / scale).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            };
            raw.push(q as u8);
        }),
    }
    let packed = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|e| Error::Encode {
        what: "brick".into(),
        reason: e.to_string(),
    })?;
    Ok(codec::frame(&packed))
}

/// Decodes the brick stored at `key` for a map of `channels` and `dtype`.
pub fn decode(key: &[u8], bytes: &[u8], channels: usize, dtype: Dtype) -> Result<BrickData> {
    let packed = codec::unframe(key, bytes)?;
    let expected = raw_len(channels, dtype);
    // The capacity bounds the allocation whatever the compressed stream claims.
    let raw = zstd::bulk::decompress(packed, expected)
        .map_err(|e| Error::corrupt(key, format!("brick does not decompress: {e}")))?;
    if raw.len() != expected {
        return Err(Error::corrupt(
            key,
            format!("brick holds {} bytes, expected {expected}", raw.len()),
        ));
    }
    if raw[0] != dtype_code(dtype) {
        return Err(Error::corrupt(
            key,
            format!(
                "brick dtype code {} does not match the map's {}",
                raw[0],
                dtype.name()
            ),
        ));
    }
    let stored_channels = u16::from_le_bytes([raw[1], raw[2]]) as usize;
    if stored_channels != channels {
        return Err(Error::corrupt(
            key,
            format!("brick has {stored_channels} channels, the map {channels}"),
        ));
    }
    let scale = f32::from_le_bytes([raw[3], raw[4], raw[5], raw[6]]);
    if !scale.is_finite() || scale < 0.0 {
        return Err(Error::corrupt(
            key,
            format!("brick scale {scale} is invalid"),
        ));
    }
    let (count_bytes, value_bytes) = raw[HEADER..].split_at(CELLS * 4);
    let counts: Vec<u32> = count_bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let values: Vec<f32> = match dtype {
        Dtype::F32 => value_bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => value_bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::I8 => value_bytes
            .iter()
            .map(|&q| q as i8 as f32 * scale)
            .collect(),
    };
    if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::corrupt(
            key,
            format!("brick value {bad} is not finite"),
        ));
    }
    for (cell, &count) in counts.iter().enumerate() {
        if count == 0
            && values[cell * channels..(cell + 1) * channels]
                .iter()
                .any(|v| *v != 0.0)
        {
            return Err(Error::corrupt(
                key,
                format!("cell {cell} has a value but no splat covers it"),
            ));
        }
    }
    Ok(BrickData { values, counts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(channels: usize) -> (Vec<f32>, Vec<u32>) {
        let mut values = vec![0.0; CELLS * channels];
        let mut counts = vec![0; CELLS];
        for cell in (0..CELLS).step_by(3) {
            counts[cell] = 1 + (cell as u32 % 5);
            for ch in 0..channels {
                values[cell * channels + ch] = ((cell * 31 + ch * 7) % 97) as f32 / 13.0 - 3.0;
            }
        }
        (values, counts)
    }

    #[test]
    fn round_trips_within_each_dtype_precision() {
        let (values, counts) = sample(5);
        let peak = max_abs(&values);
        for (dtype, tol) in [
            (Dtype::F32, 0.0),
            (Dtype::F16, 4e-3),
            (Dtype::I8, peak / 254.0 + 1e-6),
        ] {
            let bytes = encode(&values, &counts, 5, dtype).unwrap();
            let back = decode(b"k", &bytes, 5, dtype).unwrap();
            assert_eq!(back.counts, counts);
            for (a, b) in values.iter().zip(&back.values) {
                assert!((a - b).abs() <= tol, "{dtype:?}: {a} vs {b}");
                assert_eq!(
                    dtype.quantize(*a, peak),
                    *b,
                    "{dtype:?}: read-quantize differs"
                );
            }
        }
    }

    #[test]
    fn wrong_shape_and_damage_are_errors() {
        let (values, counts) = sample(3);
        let bytes = encode(&values, &counts, 3, Dtype::F32).unwrap();
        assert!(decode(b"k", &bytes, 4, Dtype::F32).is_err());
        assert!(decode(b"k", &bytes, 3, Dtype::F16).is_err());
        assert!(decode(b"k", &bytes[..bytes.len() - 1], 3, Dtype::F32).is_err());
        let mut flipped = bytes.clone();
        flipped[10] ^= 4;
        assert!(decode(b"k", &flipped, 3, Dtype::F32).is_err());
        // A well-framed stream that decompresses to too much is refused, not allocated.
        let big = zstd::bulk::compress(&vec![0u8; 10 << 20], 1).unwrap();
        assert!(decode(b"k", &codec::frame(&big), 3, Dtype::F32).is_err());
    }
}
