//! The segment file: one sealed, immutable part of a map's object index, laid out so that
//! it is used where it lies — memory-mapped, viewed in place, never decoded row by row.
//!
//! Byte layout (all integers little-endian; docs/FORMATS.md has the full table):
//! ```text
//! 0    header, 64 bytes: magic "TMAPSEG\0", version, flags, map id, channels, rows,
//!      section-table offset, section count, table CRC32, header CRC32 (last 4 bytes)
//! 64   sections, each starting at a multiple of 64
//! T    section table: per section kind u32, 0 u32, offset u64, length u64, CRC32 u32, 0 u32
//! ```
//! Sections hold the columns in the packed R-tree's order (slot `s` is the `s`-th point of
//! the tree): positions, embeddings, confidences, type codes, the type table, id offsets,
//! id bytes, the id hash table (XXH3-64 of each id, ascending, and the slot of each), and
//! the tree's bounding boxes level by level.
//!
//! This file holds the layout (constants, sections, the id hash and the rows a segment is
//! built from); `build.rs` writes a segment, `open.rs` validates one and views it.
//!
//! [`SegmentFile::open`] checks everything a reader could trip on before handing out a view:
//! every length and offset against the file size, every CRC, alignment, monotonic id
//! offsets on character boundaries, type codes in range, the hash table sorted and its
//! slots a permutation, the tree's shape against the row count. Any failure is
//! [`crate::Error::CorruptSegment`] with the offset where it was found.

mod build;
mod open;

pub use build::{build, TreeParts};
pub use open::{SegmentFile, WARM_IDS};

/// The first 8 bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"TMAPSEG\0";
/// The segment format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER: usize = 64;
/// Alignment of every section's first byte.
pub const ALIGN: usize = 64;
/// Children per tree node and points per leaf of the packed R-tree.
pub const TREE_FANOUT: usize = 16;
/// Bytes of one entry of the section table.
pub(crate) const TABLE_ENTRY: usize = 32;

/// A bounding box: min x, y, z then max x, y, z.
pub type Aabb = [f32; 6];

/// The sections of a segment, by their kind number in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Section {
    /// `rows × [f32; 3]`.
    Positions = 1,
    /// `rows × channels` f32.
    Embeddings = 2,
    /// `rows` f32.
    Confidence = 3,
    /// `rows` u32: index into the type table.
    Kinds = 4,
    /// `count u32, 0 u32, (count + 1) × u64 offsets, UTF-8 bytes`.
    Types = 5,
    /// `(rows + 1)` u64: id `s` is `id_bytes[off[s]..off[s + 1]]`.
    IdOffsets = 6,
    /// The ids' UTF-8 bytes, concatenated.
    IdBytes = 7,
    /// `rows` u64: XXH3-64 of every id, ascending.
    IdHashes = 8,
    /// `rows` u32: the slot of each hash.
    IdSlots = 9,
    /// `levels u32, 0 u32, levels × u64 node counts, boxes` (leaves first).
    Tree = 10,
}

pub(crate) const SECTIONS: [Section; 10] = [
    Section::Positions,
    Section::Embeddings,
    Section::Confidence,
    Section::Kinds,
    Section::Types,
    Section::IdOffsets,
    Section::IdBytes,
    Section::IdHashes,
    Section::IdSlots,
    Section::Tree,
];

impl Section {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Positions => "positions",
            Section::Embeddings => "embeddings",
            Section::Confidence => "confidence",
            Section::Kinds => "type codes",
            Section::Types => "type table",
            Section::IdOffsets => "id offsets",
            Section::IdBytes => "id bytes",
            Section::IdHashes => "id hashes",
            Section::IdSlots => "id slots",
            Section::Tree => "tree",
        }
    }
}

/// The hash of an object id used by the segment's id table: XXH3-64 with seed 0.
pub fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

/// The rows a segment is built from, already in tree order.
pub trait Rows {
    /// The number of rows.
    fn len(&self) -> usize;
    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Row `i`'s id.
    fn id(&self, i: usize) -> &str;
    /// Row `i`'s type.
    fn kind(&self, i: usize) -> &str;
    /// Row `i`'s position.
    fn position(&self, i: usize) -> [f32; 3];
    /// Row `i`'s embedding (`channels` values).
    fn embedding(&self, i: usize) -> &[f32];
    /// Row `i`'s confidence.
    fn confidence(&self, i: usize) -> f32;
}

#[cfg(test)]
mod tests;
