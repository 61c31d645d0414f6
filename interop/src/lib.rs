//! tensormap-interop: the file formats of TensorQL's `COPY` (docs/LANGUAGE.md, "Bulk data:
//! and out"), so that DuckDB, pandas, Polars, Spark and Apache Sedona read what tensormap
//! writes and tensormap reads what they write.
//!
//! - Parquet ([`parquet_write`], [`parquet_read`]): columns `id, type, x, y, z, embedding,
//!   confidence` plus a GeoParquet 1.1 `geometry` column ([`geo`]); zstd; rows in Morton
//!   order, so row-group statistics on `x, y, z` prune; optionally one Hive-style folder
//!   per octree cell ([`partition`]), skewed cells split KDB-style ([`kdb`]), with a
//!   manifest at the root ([`manifest`]) that Spark-side readers prune by.
//! - CSV ([`csv_format`]) with a header; `embedding` as `[a, b, ...]`.
//! - JSON Lines ([`json_format`]): one object per line.
//!
//! Every format carries the map's user columns after the built-in ones, by name
//! ([`user_columns`] says how each type is written and read).
//!
//! [`Interop`] implements the query crate's [`CopyFormats`]; the `tensormap` facade
//! installs it in every session. Arrow and Parquet stay in this crate.
//!
//! ```
//! use std::sync::Arc;
//! use tensormap_engine::Database;
//! use tensormap_query::Session;
//!
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("scene.parquet");
//! let mut s = Session::new(Database::open_in_memory()?);
//! s.set_copy_formats(Some(Arc::new(tensormap_interop::Interop)));
//! s.execute("CREATE MAP scene WITH (channels = 2); CREATE MAP scene2 WITH (channels = 2)")?;
//! s.execute("INSERT INTO scene (id, type, position, embedding) VALUES ('a', 'cube', [1, 2, 3], [0.5, -1])")?;
//! s.execute(&format!("COPY scene TO '{}'", file.display()))?;
//! let r = s.execute(&format!("COPY scene2 FROM '{}'", file.display()))?;
//! assert_eq!(r[0].status, "COPY 1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use tensormap_engine::user::ColumnDef;
use tensormap_engine::{ErrorKind, MapConfig, MapView};
use tensormap_query::copy::{
    CopyError, CopyFormats, CopyOptions, Exported, Format, Imported, Partitioning, StartProgress,
};

pub mod csv_format;
pub mod files;
pub mod geo;
pub mod json_format;
pub mod kdb;
pub mod manifest;
pub mod parquet_read;
pub mod parquet_write;
pub mod partition;
pub mod rows;
pub mod user_columns;

/// COPY's formats: Parquet (GeoParquet 1.1), CSV and JSON Lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interop;

impl CopyFormats for Interop {
    fn export(
        &self,
        map: &MapView<'_>,
        path: &Path,
        options: &CopyOptions,
        progress: StartProgress<'_>,
    ) -> Result<Exported, CopyError> {
        let progress = progress(map.len() as u64);
        match (options.format, options.partitioning) {
            (Format::Parquet, Partitioning::None) => {
                parquet_write::write_file(map, path, options.row_group_size, &progress)
            }
            (
                Format::Parquet,
                Partitioning::Octree {
                    depth,
                    max_rows_per_file,
                },
            ) => partition::write_partitioned(
                map,
                path,
                depth,
                max_rows_per_file,
                options.row_group_size,
                &progress,
            ),
            (Format::Csv, Partitioning::None) => csv_format::write(map, path, &progress),
            (Format::Json, Partitioning::None) => json_format::write(map, path, &progress),
            (other, _) => Err(CopyError::new(
                ErrorKind::InvalidValue,
                path.display().to_string(),
                format!("a partitioned export writes Parquet, not {}", other.name()),
            )),
        }
    }

    fn import(
        &self,
        path: &Path,
        options: &CopyOptions,
        config: &MapConfig,
        columns: &[ColumnDef],
        progress: StartProgress<'_>,
    ) -> Result<Imported, CopyError> {
        match options.format {
            Format::Parquet => parquet_read::read(path, config, columns, progress),
            Format::Csv => csv_format::read(path, config, columns, progress),
            Format::Json => json_format::read(path, config, columns, progress),
        }
    }
}
