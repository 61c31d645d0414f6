//! Parquet export: one file ([`write_file`]), or the rows of one piece of a partitioned
//! export ([`crate::partition`] calls `write_rows`).
//!
//! Columns: `id` and `type` (UTF-8 strings; `type` dictionary-encoded), `x`, `y`, `z` and
//! `confidence` (float32), `embedding` (a fixed-size list of `channels` float32: a Parquet
//! LIST, with the Arrow schema in the file so Arrow readers see the fixed size), and the
//! GeoParquet `geometry` and its `bbox` covering column ([`crate::geo`]), then the map's
//! user columns ([`crate::user_columns`]). zstd-compressed; rows in Morton order of their
//! positions ([`crate::rows::sorted_rows`]), so each row group covers a compact region and
//! its `x`, `y`, `z` statistics let a reader skip it.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use tensormap_engine::user::ColumnDef;
use tensormap_engine::{ErrorKind, MapView, ObjectRef};
use tensormap_query::copy::{CopyError, Exported};
use tensormap_query::Progress;

use crate::files::{write_error, AtomicFile};
use crate::geo::{self, BBox};
use crate::rows::sorted_rows;
use crate::user_columns::{self, Builder};

/// The Arrow schema of an export of a map with `channels` channels and user columns
/// `columns`, with the file's GeoParquet metadata `geo` in it: the stored Arrow schema
/// keeps it, and pyarrow (hence GeoPandas) takes a table's metadata from there. The
/// Parquet key-value metadata, where other GeoParquet readers look, gets it from
/// `properties`.
pub fn schema(channels: usize, columns: &[ColumnDef], geo_json: String) -> SchemaRef {
    let metadata = std::collections::HashMap::from([("geo".to_string(), geo_json)]);
    let mut fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("x", DataType::Float32, false),
        Field::new("y", DataType::Float32, false),
        Field::new("z", DataType::Float32, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item_field(), channels as i32),
            false,
        ),
        Field::new("confidence", DataType::Float32, false),
        Field::new(geo::COLUMN, DataType::Binary, false),
        Field::new(geo::BBOX_COLUMN, geo::bbox_type(), false),
    ];
    fields.extend(columns.iter().map(user_columns::field));
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, false))
}

/// The writer settings: zstd (level 1: the embeddings are mostly incompressible noise,
/// higher levels cost time for little), dictionary encoding for `type` only (ids are
/// unique, floats rarely repeat), statistics where a reader can use them (not on the
/// embedding's values or the WKB bytes), row groups of `row_group_size` rows, and the
/// GeoParquet metadata `geo_json`.
fn properties(row_group_size: usize, geo_json: String) -> WriterProperties {
    let no_stats = [
        ColumnPath::from(geo::COLUMN),
        ColumnPath::from(vec!["embedding".into(), "list".into(), "item".into()]),
        ColumnPath::from(vec!["embedding".into(), "list".into(), "element".into()]),
    ];
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("type"), true)
        .set_max_row_group_row_count(Some(row_group_size.max(1)))
        .set_key_value_metadata(Some(vec![KeyValue::new("geo".to_string(), geo_json)]));
    for c in no_stats {
        b = b.set_column_statistics_enabled(c, EnabledStatistics::None);
    }
    // Floats stay PLAIN-encoded: BYTE_STREAM_SPLIT would take about a tenth off the
    // embeddings' bytes under zstd, but Spark 4.0's vectorized Parquet reader refuses it
    // ("Unsupported encoding: BYTE_STREAM_SPLIT"), and Spark reads our partitioned exports.
    b.build()
}

/// One record batch of `rows`.
fn batch(
    schema: &SchemaRef,
    rows: &[(u64, ObjectRef<'_>)],
    channels: usize,
    user: &[ColumnDef],
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut ids = StringBuilder::with_capacity(n, n * 12);
    let mut kinds = StringBuilder::with_capacity(n, n * 8);
    let mut xyz = [
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    ];
    let mut embedding = Vec::with_capacity(n * channels);
    let mut confidence = Vec::with_capacity(n);
    let mut geometry = BinaryBuilder::with_capacity(n, n * geo::POINT_Z_BYTES);
    let mut cells: Vec<Builder> = user.iter().map(|d| Builder::new(d.ty, n)).collect();
    for (_, o) in rows {
        let table = o.user_table();
        for (b, d) in cells.iter_mut().zip(user) {
            b.push(table.cell(o.id(), d));
        }
        ids.append_value(o.id());
        kinds.append_value(o.kind());
        let p = o.position();
        for (col, v) in xyz.iter_mut().zip(p) {
            col.push(v);
        }
        embedding.extend_from_slice(o.embedding());
        confidence.push(o.confidence());
        geometry.append_value(geo::wkb_point_z(p));
    }
    let [x, y, z] = xyz.map(Float32Array::from);
    let bbox = geo::bbox_array(&x, &y, &z)?;
    let embedding = FixedSizeListArray::try_new(
        item_field(),
        channels as i32,
        Arc::new(Float32Array::from(embedding)),
        None,
    )?;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(ids.finish()),
        Arc::new(kinds.finish()),
        Arc::new(x),
        Arc::new(y),
        Arc::new(z),
        Arc::new(embedding),
        Arc::new(Float32Array::from(confidence)),
        Arc::new(geometry.finish()),
        bbox,
    ];
    columns.extend(cells.into_iter().map(Builder::finish));
    RecordBatch::try_new(schema.clone(), columns)
}

/// Writes `rows` (already in order) of a map with user columns `user` to the Parquet file
/// `path`, atomically; reports the rows done as `done_before + rows written`. Returns the
/// file's size.
pub(crate) fn write_rows(
    path: &Path,
    rows: &[(u64, ObjectRef<'_>)],
    channels: usize,
    user: &[ColumnDef],
    row_group_size: usize,
    progress: &Progress,
    done_before: u64,
) -> Result<u64, CopyError> {
    let mut bbox = BBox::default();
    for (_, o) in rows {
        bbox.add(o.position());
    }
    if let Some(c) = user
        .iter()
        .find(|c| c.name == geo::COLUMN || c.name == geo::BBOX_COLUMN)
    {
        return Err(CopyError::new(
            ErrorKind::InvalidValue,
            path.display().to_string(),
            format!(
                "the map's column '{}' has the name of GeoParquet's column: rename it to export to Parquet",
                c.name
            ),
        ));
    }
    let geo_json = geo::metadata(&bbox);
    let schema = schema(channels, user, geo_json.clone());
    let mut file = AtomicFile::create(path)?;
    {
        let mut writer = ArrowWriter::try_new(
            &mut file.out,
            schema.clone(),
            Some(properties(row_group_size, geo_json)),
        )
        .map_err(|e| write_error(path, e))?;
        let mut done = done_before;
        for chunk in rows.chunks(row_group_size.max(1)) {
            let b = batch(&schema, chunk, channels, user).map_err(|e| write_error(path, e))?;
            writer.write(&b).map_err(|e| write_error(path, e))?;
            done += chunk.len() as u64;
            progress.set(done);
        }
        writer.close().map_err(|e| write_error(path, e))?;
    }
    file.commit()
}

/// `COPY map TO 'file.parquet'`.
pub fn write_file(
    map: &MapView<'_>,
    path: &Path,
    row_group_size: usize,
    progress: &Progress,
) -> Result<Exported, CopyError> {
    let rows = sorted_rows(map);
    let channels = map.config().channels as usize;
    let bytes = write_rows(
        path,
        &rows,
        channels,
        map.columns(),
        row_group_size,
        progress,
        0,
    )?;
    Ok(Exported {
        rows: rows.len() as u64,
        files: 1,
        bytes,
    })
}
