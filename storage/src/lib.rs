//! tensormap-storage: the persistent data model of tensormap.
//!
//! It owns everything that touches bytes: the record codec (bincode framed with a format
//! version and a CRC32), the brick codec (zstd, quantized by the map's dtype), the segment
//! and brick file formats (columns viewed in place from a memory map; the field's checkpoints), the layout of keys in the
//! single ordered keyspace, the map configuration and its validation, and the [`Backend`]
//! trait with its two implementations: [`SledBackend`] for production (sled plus a folder
//! of segment files) and [`MemoryBackend`] for tests, which can be told to fail the Nth
//! write or flush.
//!
//! ```
//! use tensormap_storage::{Backend, Batch, MemoryBackend};
//! let backend = MemoryBackend::new();
//! let mut batch = Batch::default();
//! batch.put(b"k".to_vec(), b"v".to_vec());
//! backend.commit(batch)?;
//! assert_eq!(backend.get(b"k")?, Some(b"v".to_vec()));
//! # Ok::<(), tensormap_storage::Error>(())
//! ```

mod backend;
mod blob;
pub mod brick;
pub mod brickfile;
pub mod codec;
mod config;
mod error;
pub mod keys;
mod records;
pub mod rules;
pub mod segment;
pub mod snapshot;
pub mod user_columns;

pub use backend::{Backend, Batch, MemoryBackend, Op, SledBackend, Visitor, RESERVE};
pub use blob::{AlignedBuf, Blob};
pub use brickfile::BrickFile;
pub use config::{Dtype, MapConfig};
pub use error::{Error, Result};
pub use records::{
    BrickFileMeta, CatalogRecord, JournalEntry, JournalRecord, JournalRecordRef, ManifestRecord,
    MapMetaRecord, ModelRecord, ObjectRecord, SegmentMeta, Splat,
};
pub use segment::SegmentFile;
pub use snapshot::{SnapshotError, SnapshotOptions, SnapshotReader, SnapshotWriter};
pub use user_columns::{Cell, ColumnDef, ColumnType, SchemaRecord, ValuesRecord};
