//! `.tensor3d` snapshots: a whole map — its settings, its objects and its voxel field — in
//! one file, binary (`.tensor3d`) or JSON. docs/FORMATS.md gives
//! both byte by byte.
//!
//! A binary file is a 64-byte header (magic `T3D!`, version, flags, the map's settings,
//! the file's dtype and compression), the objects in blocks, the octree topology of the
//! field (child masks, breadth first), the bricks in blocks in Morton order, and an 80-byte
//! footer saying where each section is and how many objects and bricks there are. Every
//! byte is covered by a CRC32: the header's, each block's, the topology's (in the footer),
//! the footer's. Blocks hold about 1 MiB before compression and are compressed
//! independently, on several threads.
//!
//! Writing ([`SnapshotWriter`]) takes a map's parts incrementally — objects one at a time
//! or as columns, then the brick coordinates, then each brick — and publishes the file
//! atomically at the end. Reading ([`SnapshotReader`]) checks the structure and every
//! checksum at `open`, then yields objects in chunks and bricks one at a time. A restore:
//!
//! ```
//! use tensormap_storage::snapshot::{ObjectEntry, SnapshotOptions, SnapshotReader, SnapshotWriter};
//! use tensormap_storage::MapConfig;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("scene.tensor3d");
//! let config = MapConfig { resolution: 8, channels: 2, ..MapConfig::default() };
//! let mut w = SnapshotWriter::create(&path, &config, &SnapshotOptions::default())?;
//! w.push_object(&ObjectEntry {
//!     id: "cube_0", kind: "cube", position: [0.0, 0.0, 0.0],
//!     embedding: &[0.5, -0.25], confidence: 1.0,
//! })?;
//! let (mut values, mut counts) = (vec![0.0f32; 512 * 2], vec![0u32; 512]);
//! values[0] = 0.5;
//! counts[0] = 1;
//! w.begin_field(&[[0, 0, 0]])?;
//! w.push_brick([0, 0, 0], &values, &counts)?;
//! let info = w.finish()?;
//! assert_eq!((info.objects, info.bricks), (1, 1));
//!
//! let r = SnapshotReader::open(&path)?;   // structure and every checksum checked here
//! assert_eq!(r.config(), &config);
//! for chunk in r.objects() {
//!     for o in chunk?.iter() {
//!         assert_eq!(o.id, "cube_0");     // a restorer stages the object
//!     }
//! }
//! for brick in r.bricks() {
//!     let b = brick?;                     // and the brick
//!     assert_eq!((b.coords, b.values[0], b.counts[0]), ([0, 0, 0], 0.5, 1));
//! }
//! // ... and commits only now, every item having been read without an error.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod atomic;
mod block;
mod columns;
mod error;
mod field;
mod json;
mod layout;
mod objects;
mod parallel;
mod reader;
mod reseal;
mod writer;

use std::path::Path;

pub use atomic::AtomicFile;
pub use columns::{UserColumns, COLUMNS_TAG, FLAG_USER_COLUMNS};
pub use error::{Result, Section, SnapshotError};
pub use field::{morton, unmorton, BrickEntry};
pub use json::{JSON_VERSION, TENSOR_FORMAT};
pub use layout::{
    Compression, BLOCK_HEADER_LEN, END_MAGIC, FOOTER_LEN, HEADER_LEN, MAGIC, MAX_BLOCK_RAW, VERSION,
};
pub use objects::{ObjectChunk, ObjectEntry, MAX_COMPONENT, MAX_TEXT_BYTES};
pub use reader::{Bricks, ObjectChunks, ReadAt, SnapshotReader};
pub use reseal::reseal;
pub use writer::{SnapshotSink, SnapshotWriter};

use crate::{Dtype, MapConfig};

/// Binary `.tensor3d` or its JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The binary `.tensor3d` format.
    Binary,
    /// The JSON form.
    Json,
}

impl Format {
    /// The name used in TensorQL (`'binary'`, `'json'`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Binary => "binary",
            Format::Json => "json",
        }
    }

    /// Parses a TensorQL format name (`'binary'` or `'tensor3d'`, `'json'`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "binary" | "tensor3d" => Some(Format::Binary),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// How to write a snapshot (TensorQL `WITH (...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Binary or JSON; binary by default.
    pub format: Format,
    /// The type the field is stored as: f32 (the default) is exact; f16 and i8 round
    /// (docs/FORMATS.md gives the error bounds). Objects are always exact.
    pub dtype: Dtype,
    /// zstd (the default) or none.
    pub compression: Compression,
    /// Threads compressing blocks (0, the default: the machine's cores, at most 4).
    pub threads: usize,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            format: Format::Binary,
            dtype: Dtype::F32,
            compression: Compression::Zstd,
            threads: 0,
        }
    }
}

/// What a finished snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Binary or JSON.
    pub format: Format,
    /// The field's type in the file.
    pub dtype: Dtype,
    /// The file's compression.
    pub compression: Compression,
    /// Objects written.
    pub objects: u64,
    /// Bricks written.
    pub bricks: u64,
    /// The map's data as the engine holds it: each object's id, type, position, embedding
    /// and confidence, and each brick's `512 × channels` f32 values (not the counts).
    pub logical_bytes: u64,
    /// The file's length.
    pub file_bytes: u64,
}

/// A whole snapshot in memory (tests and small maps; a restore streams instead).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The map's settings.
    pub config: MapConfig,
    /// The field's type in the file.
    pub dtype: Dtype,
    /// The file's compression.
    pub compression: Compression,
    /// Binary or JSON.
    pub format: Format,
    /// Every object, in file order.
    pub objects: ObjectChunk,
    /// Every brick, in Morton order.
    pub bricks: Vec<BrickEntry>,
}

impl Snapshot {
    /// Writes these contents to `path` with `options`.
    pub fn write(&self, path: impl AsRef<Path>, options: &SnapshotOptions) -> Result<SnapshotInfo> {
        let w = SnapshotWriter::create(path, &self.config, options)?;
        self.feed(w)?.finish()
    }

    /// Writes these contents into memory with `options`.
    pub fn to_bytes(&self, options: &SnapshotOptions) -> Result<Vec<u8>> {
        let w = SnapshotWriter::new(Vec::new(), "<memory>", &self.config, options)?;
        Ok(self.feed(w)?.finish_into()?.1)
    }

    fn feed<W: SnapshotSink>(&self, mut w: SnapshotWriter<W>) -> Result<SnapshotWriter<W>> {
        for o in self.objects.iter() {
            w.push_object(&o)?;
        }
        let coords: Vec<[u32; 3]> = self.bricks.iter().map(|b| b.coords).collect();
        w.begin_field(&coords)?;
        for b in &self.bricks {
            w.push_brick(b.coords, &b.values, &b.counts)?;
        }
        Ok(w)
    }
}
