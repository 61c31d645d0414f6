//! tensormap-engine: the embedded database of tensor maps.
//!
//! A [`Database`] holds named maps. Each map keeps its objects in a column store indexed by
//! packed R-trees (`index`) and the Gaussian splats of their embeddings in a sparse voxel octree
//! ([`field`]). Writes go through one [`WriteTransaction`] at a time; readers take a
//! [`ReadTransaction`], a consistent version that never changes under them.
//!
//! ```
//! use tensormap_engine::{Candidates, Database, MapConfig, Object};
//!
//! let db = Database::open_in_memory()?;
//! db.create_map("scene", MapConfig { channels: 4, ..Default::default() })?;
//! let mut txn = db.begin_write()?;
//! txn.insert("scene", Object::new("cube_1", "cube", [100.0, 50.0, -30.0], vec![0.2, -0.4, 0.6, 0.1]))?;
//! txn.insert("scene", Object::new("ball_7", "sphere", [-100.0, 30.0, 50.0], vec![0.9, 0.1, 0.0, 0.3]))?;
//! txn.commit()?;
//!
//! let read = db.begin_read()?;
//! assert_eq!(read.within("scene", [90.0, 50.0, -30.0], 20.0)?, vec!["cube_1".to_string()]);
//! assert_eq!(read.nearest("scene", [-90.0, 30.0, 50.0], 1)?[0].0, "ball_7");
//! let top = read.attention("scene", &[1.0, 0.0, 0.0, 0.0], Candidates::All, 2)?;
//! assert_eq!(top[0].0, "ball_7");
//! assert!((top[0].1 + top[1].1 - 1.0).abs() < 1e-6);
//! # Ok::<(), tensormap_engine::Error>(())
//! ```

mod attention;
mod commit;
mod db;
mod error;
pub mod field;
mod functions;
mod gate;
mod index;
mod map;
mod merge;
mod models;
mod object;
mod persist;
mod snapshot;
mod txn;
pub mod user;
mod value;

pub use attention::attention_weights;
pub use db::{Database, MapInfo, Options};
pub use error::{CallError, Error, ErrorKind, Result};
pub use field::{CoarseCell, Field, FieldStats, VoxelSet};
pub use functions::{BatchFn, CallContext, Function, Registry, ScalarFn};
pub use gate::with_commit_gate;
pub use index::ObjectRef;
pub use map::{Candidates, MapStats, MapView};
pub use models::{ModelInfo, StoredModel, MAX_MODEL_KIND_BYTES};
pub use object::{Object, MAX_COMPONENT, MAX_TEXT_BYTES};
pub use persist::{MAX_JOURNAL_BULK, MAX_JOURNAL_SPLATS};
pub use snapshot::{ProgressFn, RestoreInfo};
pub use tensormap_storage::snapshot::{Compression, Format, SnapshotInfo, SnapshotOptions};
pub use tensormap_storage::{Backend, Dtype, MapConfig, MemoryBackend};
pub use txn::{MapRestore, ObjectColumns, ReadTransaction, WriteTransaction, MAX_MAP_NAME_BYTES};
pub use value::{format_f32, format_number, widen_f32, Value};
