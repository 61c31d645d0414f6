//! What blocks are made of: byte-plane shuffling of number arrays, compression of a
//! block's bytes, and a bounds-checked cursor for parsing them.
//!
//! Every array of multi-byte numbers in a block is stored *byte-plane shuffled* (the HDF5
//! and Blosc "shuffle" filter): for `n` numbers of `w` bytes, byte `p` (little-endian) of
//! number `i` is at `p·n + i`. The high bytes of floats (sign, exponent) and of small
//! integers then sit together, where zstd finds them alike; with compression `none` it
//! costs a copy.

use half::f16;
use tensormap_bytes::{ReadError, Reader};

use super::layout::{Compression, MAX_BLOCK_RAW};

/// Bytes of raw data a writer gathers into one block before compressing it (objects or
/// bricks; a single brick larger than this is a block of its own).
pub const BLOCK_TARGET: usize = 1 << 20;

/// zstd's level for blocks: the fastest positive level (measured in BENCHMARKS.md).
pub const ZSTD_LEVEL: i32 = 1;

macro_rules! planes {
    ($put:ident, $get:ident, $t:ty, $bits:ty, $w:expr, $to:expr, $from:expr) => {
        /// Appends `vals` to `out`, byte-plane shuffled.
        pub fn $put(out: &mut Vec<u8>, vals: &[$t]) {
            let n = vals.len();
            let start = out.len();
            out.resize(start + n * $w, 0);
            let dst = &mut out[start..];
            for p in 0..$w {
                let shift = 8 * p as u32;
                for (d, v) in dst[p * n..(p + 1) * n].iter_mut().zip(vals) {
                    let bits: $bits = $to(*v);
                    *d = (bits >> shift) as u8;
                }
            }
        }

        /// Reads `n` shuffled numbers from `src` (exactly `n · width` bytes) into `out`.
        pub fn $get(src: &[u8], n: usize, out: &mut Vec<$t>) {
            debug_assert_eq!(src.len(), n * $w);
            let mut acc: Vec<$bits> = vec![0; n];
            for p in 0..$w {
                let shift = 8 * p as u32;
                for (a, b) in acc.iter_mut().zip(&src[p * n..(p + 1) * n]) {
                    *a |= (*b as $bits) << shift;
                }
            }
            out.extend(acc.into_iter().map($from));
        }
    };
}

planes!(put_u16, get_u16, u16, u16, 2, |v: u16| v, |b: u16| b);
planes!(put_u32, get_u32, u32, u32, 4, |v: u32| v, |b: u32| b);
planes!(put_u64, get_u64, u64, u64, 8, |v: u64| v, |b: u64| b);
planes!(
    put_f32,
    get_f32,
    f32,
    u32,
    4,
    |v: f32| v.to_bits(),
    f32::from_bits
);
planes!(
    put_f16,
    get_f16,
    f16,
    u16,
    2,
    |v: f16| v.to_bits(),
    f16::from_bits
);

/// The most bytes a block of `raw_len` bytes may take once compressed.
pub fn stored_bound(compression: Compression, raw_len: usize) -> usize {
    match compression {
        Compression::None => raw_len,
        Compression::Zstd => zstd::zstd_safe::compress_bound(raw_len),
    }
}

/// Compresses one block's bytes.
pub fn compress(raw: Vec<u8>, compression: Compression) -> std::io::Result<Vec<u8>> {
    match compression {
        Compression::None => Ok(raw),
        Compression::Zstd => zstd::bulk::compress(&raw, ZSTD_LEVEL),
    }
}

/// Decompresses a block's stored bytes into exactly `raw_len` bytes (≤ [`MAX_BLOCK_RAW`]:
/// the allocation is bounded whatever the stream claims).
pub fn decompress(
    stored: Vec<u8>,
    raw_len: usize,
    compression: Compression,
) -> Result<Vec<u8>, String> {
    debug_assert!(raw_len <= MAX_BLOCK_RAW);
    let raw = match compression {
        Compression::None => stored,
        Compression::Zstd => zstd::bulk::decompress(&stored, raw_len)
            .map_err(|e| format!("block does not decompress: {e}"))?,
    };
    if raw.len() != raw_len {
        return Err(format!(
            "block decompresses to {} bytes, its header says {raw_len}",
            raw.len()
        ));
    }
    Ok(raw)
}

/// Reads a block's bytes front to back (tensormap-bytes' [`Reader`]); running past the end
/// is an error naming the block byte, not a panic.
#[derive(Debug)]
pub struct Cursor<'a>(Reader<'a>);

/// A read error as the snapshot's messages put it: with the block byte.
fn message(e: ReadError) -> String {
    format!("{} (at block byte {})", e.message, e.offset)
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor(Reader::new(bytes))
    }

    /// The next `n` bytes (`what` names them in the error).
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        self.0.take(n, what).map_err(message)
    }

    /// The next `n` numbers of `width` bytes each (`n · width` checked for overflow).
    pub fn take_array(&mut self, n: usize, width: usize, what: &str) -> Result<&'a [u8], String> {
        self.0.take_array(n, width, what).map_err(message)
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), String> {
        self.0.finish("the end of the block").map_err(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffling_round_trips_and_groups_bytes_by_plane() {
        let v = [0x0102_0304u32, 0x0506_0708];
        let mut out = Vec::new();
        put_u32(&mut out, &v);
        assert_eq!(out, [4, 8, 3, 7, 2, 6, 1, 5]);
        let mut back = Vec::new();
        get_u32(&out, 2, &mut back);
        assert_eq!(back, v);
        let f = [1.5f32, -0.0, f32::MIN_POSITIVE, 3.25e7];
        let mut out = Vec::new();
        put_f32(&mut out, &f);
        let mut back = Vec::new();
        get_f32(&out, 4, &mut back);
        assert_eq!(
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            f.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let w = [u64::MAX, 1, 1 << 40];
        let mut out = Vec::new();
        put_u64(&mut out, &w);
        let mut back = Vec::new();
        get_u64(&out, 3, &mut back);
        assert_eq!(back, w);
    }

    #[test]
    fn decompression_is_bounded_and_exact() {
        let raw = vec![7u8; 5000];
        let z = compress(raw.clone(), Compression::Zstd).unwrap();
        assert_eq!(decompress(z.clone(), 5000, Compression::Zstd).unwrap(), raw);
        assert!(decompress(z.clone(), 4999, Compression::Zstd).is_err());
        assert!(decompress(z, 5001, Compression::Zstd).is_err());
        assert!(decompress(vec![1, 2, 3], 4, Compression::None).is_err());
    }

    #[test]
    fn the_cursor_never_reads_past_the_end() {
        let b = [1u8, 2, 3];
        let mut c = Cursor::new(&b);
        assert_eq!(c.take(2, "x").unwrap(), &[1, 2]);
        assert!(c.take(2, "y").is_err());
        assert!(c.take_array(usize::MAX, 2, "z").is_err());
        assert!(c.finish().is_err());
        c.take(1, "x").unwrap();
        c.finish().unwrap();
    }
}
