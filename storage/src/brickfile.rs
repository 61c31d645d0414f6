//! The brick file: bricks of a map's voxel field written by one field checkpoint.
//!
//! A checkpoint writes the bricks changed since the previous one into a new immutable file;
//! a map's field is its brick files read oldest first, a later file's entry replacing an
//! earlier one's, then its journal replayed. Byte layout (integers little-endian;
//! docs/FORMATS.md has the table):
//! ```text
//! 0    header, 64 bytes: magic "TMAPBRK\0", version u32, flags u32, map id u32,
//!      channels u32, dtype u8 (0 f32, 1 f16, 2 i8), 7 zero bytes, entries u64,
//!      directory offset u64, directory CRC32 u32, zero padding, header CRC32 (last 4 bytes)
//! 64   the bricks, one after another: each a framed record of `brick.rs` (CRC'd, zstd)
//! D    directory, sorted by Morton code: per entry Morton u64, offset u64, length u64;
//!      length 0 = the brick is empty (it was removed since the previous file)
//! ```

use crate::{brick, AlignedBuf, Blob, Dtype, Error, Result};
use tensormap_bytes::{u32_or_0, u64_or_0};

/// The first 8 bytes of every brick file.
pub const MAGIC: [u8; 8] = *b"TMAPBRK\0";
/// The brick-file format version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER: usize = 64;
const ENTRY: usize = 24;

fn dtype_code(d: Dtype) -> u8 {
    match d {
        Dtype::F32 => 0,
        Dtype::F16 => 1,
        Dtype::I8 => 2,
    }
}

/// Writes a brick file of `entries` (Morton code, encoded brick or None for a removed
/// brick), which must be sorted by Morton code without repeats.
pub fn build(
    map_id: u32,
    channels: usize,
    dtype: Dtype,
    entries: &[(u64, Option<Vec<u8>>)],
) -> Result<Blob> {
    if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(Error::Encode {
            what: "brick file".into(),
            reason: "entries are not sorted by Morton code".into(),
        });
    }
    let data: usize = entries
        .iter()
        .map(|e| e.1.as_ref().map_or(0, Vec::len))
        .sum();
    let mut buf = AlignedBuf::with_capacity(HEADER + data + entries.len() * ENTRY);
    buf.grow(HEADER);
    let mut dir = Vec::with_capacity(entries.len() * ENTRY);
    for (m, bytes) in entries {
        let (off, len) = match bytes {
            Some(b) => {
                let off = buf.len();
                buf.extend_from_slice(b);
                (off as u64, b.len() as u64)
            }
            None => (0, 0),
        };
        dir.extend_from_slice(&m.to_le_bytes());
        dir.extend_from_slice(&off.to_le_bytes());
        dir.extend_from_slice(&len.to_le_bytes());
    }
    let dir_offset = buf.len() as u64;
    buf.extend_from_slice(&dir);
    let h = &mut buf.as_bytes_mut()[..HEADER];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..20].copy_from_slice(&map_id.to_le_bytes());
    h[20..24].copy_from_slice(&(channels as u32).to_le_bytes());
    h[24] = dtype_code(dtype);
    h[32..40].copy_from_slice(&(entries.len() as u64).to_le_bytes());
    h[40..48].copy_from_slice(&dir_offset.to_le_bytes());
    h[48..52].copy_from_slice(&crc32fast::hash(&dir).to_le_bytes());
    let crc = crc32fast::hash(&h[..60]);
    h[60..64].copy_from_slice(&crc.to_le_bytes());
    Ok(buf.into_blob())
}

/// A validated brick file: its directory checked; each brick is checked when decoded.
#[derive(Clone)]
pub struct BrickFile {
    blob: Blob,
    id: u64,
    channels: usize,
    dtype: Dtype,
    dir_at: usize,
    entries: usize,
}

impl std::fmt::Debug for BrickFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BrickFile({:016x}, {} entries)", self.id, self.entries)
    }
}

impl BrickFile {
    /// Validates `blob` as brick file `id` of a map of `map_id`, `channels` and `dtype`.
    pub fn open(id: u64, blob: Blob, map_id: u32, channels: usize, dtype: Dtype) -> Result<Self> {
        let bad = |offset: usize, reason: String| Error::CorruptSegment {
            segment: id,
            offset: offset as u64,
            reason: format!("brick file: {reason}"),
        };
        let b = blob.bytes();
        if b.len() < HEADER {
            return Err(bad(
                0,
                format!("{} bytes is shorter than the header", b.len()),
            ));
        }
        if b[0..8] != MAGIC {
            return Err(bad(0, "bad magic".into()));
        }
        if u32_or_0(b, 60) != crc32fast::hash(&b[..60]) {
            return Err(bad(60, "header checksum mismatch".into()));
        }
        if u32_or_0(b, 8) != VERSION {
            return Err(bad(8, format!("unknown version {}", u32_or_0(b, 8))));
        }
        if u32_or_0(b, 16) != map_id
            || u32_or_0(b, 20) as usize != channels
            || b[24] != dtype_code(dtype)
        {
            return Err(bad(16, format!(
                "written for map {} with {} channels (dtype code {}), expected map {map_id} with {channels} ({})",
                u32_or_0(b, 16),
                u32_or_0(b, 20),
                b[24],
                dtype.name()
            )));
        }
        let entries = u64_or_0(b, 32);
        let dir_at = u64_or_0(b, 40);
        let fits = entries
            .checked_mul(ENTRY as u64)
            .and_then(|d| d.checked_add(dir_at))
            .is_some_and(|end| end == b.len() as u64 && dir_at >= HEADER as u64);
        if !fits {
            return Err(bad(
                32,
                format!(
                    "{entries} entries at {dir_at} do not end the {}-byte file",
                    b.len()
                ),
            ));
        }
        let (entries, dir_at) = (entries as usize, dir_at as usize);
        let dir = &b[dir_at..];
        if u32_or_0(b, 48) != crc32fast::hash(dir) {
            return Err(bad(dir_at, "directory checksum mismatch".into()));
        }
        let mut prev = None;
        for i in 0..entries {
            let e = i * ENTRY;
            let (m, off, len) = (
                u64_or_0(dir, e),
                u64_or_0(dir, e + 8),
                u64_or_0(dir, e + 16),
            );
            if prev.is_some_and(|p| p >= m) {
                return Err(bad(
                    dir_at + e,
                    "directory not sorted by Morton code".into(),
                ));
            }
            prev = Some(m);
            let inside = off.checked_add(len).is_some_and(|end| end <= dir_at as u64);
            if len > 0 && (off < HEADER as u64 || !inside) {
                return Err(bad(
                    dir_at + e,
                    format!("brick {m} at {off} of {len} bytes lies outside the data"),
                ));
            }
        }
        Ok(BrickFile {
            blob,
            id,
            channels,
            dtype,
            dir_at,
            entries,
        })
    }

    /// The blob id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The same file read from `blob`, the file its bytes were just written to (only the
    /// length and header are compared: the bytes are the ones validated already).
    pub fn rebind(mut self, blob: Blob) -> Result<BrickFile> {
        if blob.len() != self.blob.len()
            || blob.bytes().get(..HEADER) != self.blob.bytes().get(..HEADER)
        {
            return Err(Error::CorruptSegment {
                segment: self.id,
                offset: 0,
                reason: "brick file: the file does not hold what was written to it".into(),
            });
        }
        self.blob = blob;
        Ok(self)
    }

    /// The file's size in bytes.
    pub fn len(&self) -> usize {
        self.blob.len()
    }

    /// True when the file holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The entries: Morton code and stored length (0 = removed), in Morton order.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let dir = &self.blob.bytes()[self.dir_at..];
        (0..self.entries).map(move |i| (u64_or_0(dir, i * ENTRY), u64_or_0(dir, i * ENTRY + 16)))
    }

    /// Decodes every entry in Morton order: `(Morton code, None)` for a removed brick.
    pub fn for_each(
        &self,
        f: &mut dyn FnMut(u64, Option<brick::BrickData>) -> Result<()>,
    ) -> Result<()> {
        let b = self.blob.bytes();
        let dir = &b[self.dir_at..];
        for i in 0..self.entries {
            let e = i * ENTRY;
            let (m, off, len) = (
                u64_or_0(dir, e),
                u64_or_0(dir, e + 8) as usize,
                u64_or_0(dir, e + 16) as usize,
            );
            if len == 0 {
                f(m, None)?;
                continue;
            }
            let data =
                brick::decode(&[], &b[off..off + len], self.channels, self.dtype).map_err(|e| {
                    let reason = match e {
                        Error::Corrupt { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    Error::CorruptSegment {
                        segment: self.id,
                        offset: off as u64,
                        reason: format!("brick file: brick {m}: {reason}"),
                    }
                })?;
            f(m, Some(data))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brick::CELLS;

    fn file() -> Vec<u8> {
        let values = vec![0.5; CELLS * 2];
        let counts = vec![1; CELLS];
        let enc = brick::encode(&values, &counts, 2, Dtype::F32).unwrap();
        build(
            3,
            2,
            Dtype::F32,
            &[(1, Some(enc.clone())), (5, None), (9, Some(enc))],
        )
        .unwrap()
        .bytes()
        .to_vec()
    }

    #[test]
    fn round_trip() {
        let f = BrickFile::open(7, Blob::copy_from(&file()), 3, 2, Dtype::F32).unwrap();
        assert_eq!(f.entries().map(|e| e.0).collect::<Vec<_>>(), [1, 5, 9]);
        let mut seen = Vec::new();
        f.for_each(&mut |m, b| {
            seen.push((m, b.map(|b| b.values[3])));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(1, Some(0.5)), (5, None), (9, Some(0.5))]);
        assert!(BrickFile::open(7, Blob::copy_from(&file()), 4, 2, Dtype::F32).is_err());
    }

    #[test]
    fn every_single_byte_change_and_truncation_is_detected() {
        let bytes = file();
        let check = |b: &[u8]| -> bool {
            match BrickFile::open(7, Blob::copy_from(b), 3, 2, Dtype::F32) {
                Err(_) => true,
                Ok(f) => f.for_each(&mut |_, _| Ok(())).is_err(),
            }
        };
        for i in 0..bytes.len() {
            // Padding inside the header (flags, reserved) is covered by the header CRC.
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            assert!(check(&b), "change at {i} undetected");
        }
        for n in 0..bytes.len() {
            assert!(check(&bytes[..n]), "truncation at {n} undetected");
        }
    }
}
