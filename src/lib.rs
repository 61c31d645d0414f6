//! # tensormap
//!
//! An embedded spatial database engine: link it like SQLite and get a persistent,
//! transactional store of *tensor maps*. Each map is a sparse octree of tensor voxels (a
//! 3-D grid of vectors) kept together with an R*-tree index of the objects embedded in it.
//!
//! ```
//! use tensormap::{Candidates, Database, MapConfig, Object};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(dir.path().join("scene.db"))?;
//! db.create_map("scene", MapConfig::default())?;
//!
//! let mut txn = db.begin_write()?;
//! for i in 0..10 {
//!     let embedding = (0..32).map(|c| ((i * 7 + c) % 5) as f32 / 5.0).collect();
//!     txn.insert("scene", Object::new(format!("obj_{i}"), "cube", [i as f32 * 10.0, 0.0, 0.0], embedding))?;
//! }
//! txn.commit()?; // durable when this returns
//!
//! let read = db.begin_read()?;
//! let scene = read.map("scene")?;
//! assert_eq!(scene.within([0.0, 0.0, 0.0], 25.0)?.len(), 3);
//! let nearest = scene.nearest([41.0, 0.0, 0.0], 2)?;
//! assert_eq!(nearest[0].0.id(), "obj_4");
//! let cell = scene.cell_of([0.0, 0.0, 0.0])?;
//! assert!(scene.voxel(cell[0], cell[1], cell[2])?.iter().any(|v| *v != 0.0));
//! let top = scene.attention(&[1.0; 32], Candidates::All, 3)?;
//! assert_eq!(top.len(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

pub use tensormap_engine::{
    Backend, Candidates, Database, Dtype, Error, Field, FieldStats, MapConfig, MapInfo, MapStats,
    MapView, MemoryBackend, Object, ObjectRef, ReadTransaction, Result, VoxelSet, WriteTransaction,
    MAX_COMPONENT, MAX_JOURNAL_SPLATS, MAX_MAP_NAME_BYTES, MAX_TEXT_BYTES,
};
/// The storage layer: backends, codecs and on-disk records.
pub use tensormap_storage as storage;
