//! The fixed parts of a `.tensor3d` file: the 64-byte header, the 80-byte footer and the
//! 16-byte block header, with their encoders and checked decoders. All integers and floats
//! are little-endian; docs/FORMATS.md gives the same layout byte by byte.

use crate::{Dtype, MapConfig};

use super::error::{Result, Section, SnapshotError};

/// The first four bytes of every snapshot.
pub const MAGIC: [u8; 4] = *b"T3D!";
/// The last eight bytes of the footer start with this (the file's last four are a CRC).
pub const END_MAGIC: [u8; 4] = *b"!D3T";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// Bytes in the header.
pub const HEADER_LEN: usize = 64;
/// Bytes in the footer.
pub const FOOTER_LEN: usize = 80;
/// Bytes in the header of each object or brick block.
pub const BLOCK_HEADER_LEN: usize = 16;
/// The most bytes one block may hold before compression: bounds every allocation a reader
/// makes for a block, whatever the file claims. A brick at 1024 channels f32 is 2 MiB.
pub const MAX_BLOCK_RAW: usize = 4 << 20;

/// How blocks are compressed (header byte 29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Blocks stored as they are (code 0).
    None,
    /// Each block one zstd frame (code 2).
    Zstd,
}

impl Compression {
    /// The code stored in the header.
    pub fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 2,
        }
    }

    /// The name used in TensorQL (`'none'`, `'zstd'`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
        }
    }

    /// Parses a TensorQL compression name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Compression::None),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// The code of a dtype in the header (0 f32, 1 f16, 2 i8).
pub fn dtype_code(d: Dtype) -> u8 {
    match d {
        Dtype::F32 => 0,
        Dtype::F16 => 1,
        Dtype::I8 => 2,
    }
}

/// Bytes per stored field value.
pub fn dtype_width(d: Dtype) -> usize {
    match d {
        Dtype::F32 => 4,
        Dtype::F16 => 2,
        Dtype::I8 => 1,
    }
}

fn dtype_from_code(code: u8) -> std::result::Result<Dtype, String> {
    match code {
        0 => Ok(Dtype::F32),
        1 => Ok(Dtype::F16),
        2 => Ok(Dtype::I8),
        3 => Err(
            "dtype uint8 (code 3) is not supported: this version reads 0 (f32), 1 (f16) and 2 (i8)"
                .into(),
        ),
        c => Err(format!(
            "unknown dtype code {c}: this version reads 0 (f32), 1 (f16) and 2 (i8)"
        )),
    }
}

fn compression_from_code(code: u8) -> std::result::Result<Compression, String> {
    let known = "this version reads 0 (none) and 2 (zstd)";
    match code {
        0 => Ok(Compression::None),
        2 => Ok(Compression::Zstd),
        1 => Err(format!(
            "compression gzip (code 1) is not supported: {known}"
        )),
        3 => Err(format!(
            "compression lz4 (code 3) is not supported: {known}"
        )),
        c => Err(format!("unknown compression code {c}: {known}")),
    }
}

/// The numbers of a header whose length was checked (tensormap-bytes: the one reader of
/// the workspace's little-endian formats).
pub use tensormap_bytes::{u32_or_0 as u32_at, u64_or_0 as u64_at};

fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_bits(u64_at(b, at))
}

/// What the header holds: the map's settings and how the file stores the field.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The map's settings, all of them: a restore recreates the map exactly.
    pub config: MapConfig,
    /// The type the field's values are stored as in this file (may differ from the map's).
    pub dtype: Dtype,
    /// How the blocks are compressed.
    pub compression: Compression,
    /// Flag bit 0: a user columns section lies between the field and the footer. Unset
    /// (flags 0) for a map without user columns, as in every file before the section.
    pub user_columns: bool,
}

impl Header {
    /// The 64 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let c = &self.config;
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..8].copy_from_slice(&VERSION.to_le_bytes());
        // 8..12: flags; bit 0 alone is defined (the user columns section).
        if self.user_columns {
            b[8..12].copy_from_slice(&super::columns::FLAG_USER_COLUMNS.to_le_bytes());
        }
        for axis in 0..3 {
            b[12 + 4 * axis..16 + 4 * axis].copy_from_slice(&c.resolution.to_le_bytes());
        }
        b[24..28].copy_from_slice(&c.channels.to_le_bytes());
        b[28] = dtype_code(self.dtype);
        b[29] = self.compression.code();
        b[30] = dtype_code(c.dtype);
        // 31: reserved.
        b[32..40].copy_from_slice(&c.bounds.to_le_bytes());
        b[40..48].copy_from_slice(&c.sigma.to_le_bytes());
        b[48..52].copy_from_slice(&c.splat_radius.to_le_bytes());
        // 52..60: reserved.
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks and decodes the header bytes of file `path`.
    pub fn decode(path: &str, b: &[u8]) -> Result<Self> {
        let bad =
            |at: u64, reason: String| SnapshotError::corrupt(path, Section::Header, at, reason);
        let unsupported = |reason: String| SnapshotError::Unsupported {
            path: path.to_string(),
            reason,
        };
        if b.len() < HEADER_LEN {
            return Err(bad(
                0,
                format!(
                    "the file's {} bytes are fewer than the {HEADER_LEN}-byte header",
                    b.len()
                ),
            ));
        }
        if b[0..4] != MAGIC {
            return Err(bad(
                0,
                format!(
                    "magic {:02x?} is not \"T3D!\": not a .tensor3d snapshot",
                    &b[0..4]
                ),
            ));
        }
        let stored = u32_at(b, 60);
        let actual = crc32fast::hash(&b[..60]);
        if stored != actual {
            let version = u32_at(b, 4);
            let hint = if version != VERSION {
                format!(" (its version field reads {version}; this version reads {VERSION})")
            } else {
                String::new()
            };
            return Err(bad(
                60,
                format!("checksum mismatch: stored {stored:#010x}, computed {actual:#010x}{hint}"),
            ));
        }
        let version = u32_at(b, 4);
        if version != VERSION {
            return Err(unsupported(format!(
                "format version {version}: this version reads {VERSION}"
            )));
        }
        let flags = u32_at(b, 8);
        let known = super::columns::FLAG_USER_COLUMNS;
        if flags & !known != 0 {
            return Err(unsupported(format!(
                "flags {flags:#010x}: version 1 defines bit 0 (user columns) alone"
            )));
        }
        let dims = [u32_at(b, 12), u32_at(b, 16), u32_at(b, 20)];
        if dims[0] != dims[1] || dims[0] != dims[2] {
            return Err(bad(12, format!("dimensions {dims:?} are not a cube")));
        }
        let dtype = dtype_from_code(b[28]).map_err(unsupported)?;
        let compression = compression_from_code(b[29]).map_err(unsupported)?;
        let map_dtype = dtype_from_code(b[30]).map_err(|r| bad(30, format!("map {r}")))?;
        if b[31] != 0 || b[52..60].iter().any(|x| *x != 0) {
            return Err(bad(31, "reserved bytes are not zero".into()));
        }
        let config = MapConfig {
            resolution: dims[0],
            channels: u32_at(b, 24),
            bounds: f64_at(b, 32),
            dtype: map_dtype,
            sigma: f64_at(b, 40),
            splat_radius: u32_at(b, 48),
        };
        config.validate().map_err(|e| bad(12, e.to_string()))?;
        Ok(Header {
            config,
            dtype,
            compression,
            user_columns: flags & known != 0,
        })
    }
}

/// Where the sections lie and what they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footer {
    /// Offset of the objects section (always [`HEADER_LEN`]).
    pub objects_offset: u64,
    /// Its length in bytes.
    pub objects_len: u64,
    /// Offset of the topology section (the end of the objects).
    pub topology_offset: u64,
    /// Its length in bytes.
    pub topology_len: u64,
    /// Offset of the field section (the end of the topology).
    pub field_offset: u64,
    /// Its length in bytes (the footer follows).
    pub field_len: u64,
    /// Objects in the file.
    pub object_count: u64,
    /// Bricks in the file.
    pub brick_count: u64,
    /// CRC32 of the topology section.
    pub topology_crc: u32,
}

impl Footer {
    /// The 80 footer bytes.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut b = [0u8; FOOTER_LEN];
        let words = [
            self.objects_offset,
            self.objects_len,
            self.topology_offset,
            self.topology_len,
            self.field_offset,
            self.field_len,
            self.object_count,
            self.brick_count,
        ];
        for (i, w) in words.iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
        }
        b[64..68].copy_from_slice(&self.topology_crc.to_le_bytes());
        // 68..72: reserved.
        b[72..76].copy_from_slice(&END_MAGIC);
        let crc = crc32fast::hash(&b[..76]);
        b[76..80].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks and decodes the footer of a file of `file_len` bytes; `b` are its last 80.
    /// Every offset and length is checked against the file size here, before anything is
    /// read or allocated from them.
    ///
    /// With `user_columns` (header flag bit 0) the field ends before the footer and the
    /// user columns section fills the bytes between them; without, the field ends where
    /// the footer starts.
    pub fn decode(
        path: &str,
        b: &[u8; FOOTER_LEN],
        file_len: u64,
        user_columns: bool,
    ) -> Result<Self> {
        let at = file_len - FOOTER_LEN as u64;
        let bad = |field: u64, reason: String| {
            SnapshotError::corrupt(path, Section::Footer, at + field, reason)
        };
        if b[72..76] != END_MAGIC {
            return Err(bad(
                72,
                "end marker \"!D3T\" missing: the file is truncated or is not a snapshot".into(),
            ));
        }
        let stored = u32_at(b, 76);
        let actual = crc32fast::hash(&b[..76]);
        if stored != actual {
            return Err(bad(
                76,
                format!("checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"),
            ));
        }
        if u32_at(b, 68) != 0 {
            return Err(bad(68, "reserved bytes are not zero".into()));
        }
        let f = Footer {
            objects_offset: u64_at(b, 0),
            objects_len: u64_at(b, 8),
            topology_offset: u64_at(b, 16),
            topology_len: u64_at(b, 24),
            field_offset: u64_at(b, 32),
            field_len: u64_at(b, 40),
            object_count: u64_at(b, 48),
            brick_count: u64_at(b, 56),
            topology_crc: u32_at(b, 64),
        };
        // The sections tile the file exactly: header, objects, topology, field, footer.
        let sections = [
            (
                "objects",
                0,
                f.objects_offset,
                f.objects_len,
                HEADER_LEN as u64,
            ),
            (
                "topology",
                16,
                f.topology_offset,
                f.topology_len,
                f.objects_offset.wrapping_add(f.objects_len),
            ),
            (
                "field",
                32,
                f.field_offset,
                f.field_len,
                f.topology_offset.wrapping_add(f.topology_len),
            ),
        ];
        for (name, field, offset, len, expected) in sections {
            if offset != expected {
                return Err(bad(
                    field,
                    format!("{name} section offset {offset}, expected {expected}"),
                ));
            }
            match offset.checked_add(len) {
                Some(end) if end <= at => {}
                _ => {
                    return Err(bad(field + 8, format!("{name} section of {len} bytes at offset {offset} runs past the footer at {at}")));
                }
            }
        }
        if f.field_offset + f.field_len != at && !user_columns {
            return Err(bad(
                40,
                format!(
                    "the field section ends at {}, the footer starts at {at}",
                    f.field_offset + f.field_len
                ),
            ));
        }
        Ok(f)
    }
}

/// The 16 bytes in front of every block of the objects and field sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Objects or bricks in the block (≥ 1).
    pub count: u32,
    /// Bytes of the block before compression (≤ [`MAX_BLOCK_RAW`]).
    pub raw_len: u32,
    /// Bytes stored after this header.
    pub stored_len: u32,
    /// CRC32 of the header's first 12 bytes followed by the stored bytes.
    pub crc: u32,
}

impl BlockHeader {
    /// The first 12 bytes (what the CRC covers before the stored bytes).
    pub fn prefix(count: u32, raw_len: u32, stored_len: u32) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&count.to_le_bytes());
        b[4..8].copy_from_slice(&raw_len.to_le_bytes());
        b[8..12].copy_from_slice(&stored_len.to_le_bytes());
        b
    }

    /// The header of a block of `count` items whose raw bytes are `raw_len` long and are
    /// stored as `stored`.
    pub fn seal(count: u32, raw_len: u32, stored: &[u8]) -> [u8; BLOCK_HEADER_LEN] {
        let prefix = Self::prefix(count, raw_len, stored.len() as u32);
        let mut h = crc32fast::Hasher::new();
        h.update(&prefix);
        h.update(stored);
        let mut b = [0u8; BLOCK_HEADER_LEN];
        b[..12].copy_from_slice(&prefix);
        b[12..].copy_from_slice(&h.finalize().to_le_bytes());
        b
    }

    /// Decodes a block header (its CRC is checked with the stored bytes, later).
    pub fn decode(b: &[u8; BLOCK_HEADER_LEN]) -> Self {
        BlockHeader {
            count: u32_at(b, 0),
            raw_len: u32_at(b, 4),
            stored_len: u32_at(b, 8),
            crc: u32_at(b, 12),
        }
    }

    /// The CRC this header should hold for `stored`.
    pub fn crc_of(&self, stored: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new();
        h.update(&Self::prefix(self.count, self.raw_len, self.stored_len));
        h.update(stored);
        h.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_every_byte_is_checked() {
        let h = Header {
            config: MapConfig {
                dtype: Dtype::I8,
                ..MapConfig::default()
            },
            dtype: Dtype::F16,
            compression: Compression::Zstd,
            user_columns: false,
        };
        let b = h.encode();
        assert_eq!(u32_at(&b, 8), 0, "no flag without user columns");
        let with = Header {
            user_columns: true,
            ..h.clone()
        };
        assert_eq!(Header::decode("t", &with.encode()).unwrap(), with);
        assert_eq!(Header::decode("t", &b).unwrap(), h);
        for i in 0..HEADER_LEN {
            let mut d = b;
            d[i] ^= 0x10;
            assert!(Header::decode("t", &d).is_err(), "byte {i}");
        }
    }

    #[test]
    fn footer_offsets_must_tile_the_file() {
        let f = Footer {
            objects_offset: 64,
            objects_len: 100,
            topology_offset: 164,
            topology_len: 9,
            field_offset: 173,
            field_len: 1000,
            object_count: 3,
            brick_count: 2,
            topology_crc: 7,
        };
        let len = 173 + 1000 + FOOTER_LEN as u64;
        assert_eq!(Footer::decode("t", &f.encode(), len, false).unwrap(), f);
        assert!(Footer::decode("t", &f.encode(), len + 1, false).is_err());
        // With a user columns section, the field may end before the footer.
        assert_eq!(Footer::decode("t", &f.encode(), len + 20, true).unwrap(), f);
        let g = Footer {
            field_len: u64::MAX - 100,
            ..f
        };
        assert!(Footer::decode("t", &g.encode(), len, false).is_err());
    }
}
