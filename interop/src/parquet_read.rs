//! Parquet import: a file, or every `.parquet` file under a folder (a partitioned
//! export), read in path order.
//!
//! Columns are found by name ([`crate::rows::layout`]); `geometry` is not read. Accepted
//! types, so that files from DuckDB, pandas, Polars and Spark load as they are: `id` and
//! `type` any Arrow string type; `x`, `y`, `z`, `confidence` any float or integer type
//! (read as f32: a DOUBLE is rounded to the nearest f32); `embedding` a list, large list
//! or fixed-size list of float32 or float64. A NULL is an error naming its row and column.
//! Columns named as the map's user columns are read as [`crate::user_columns`] says.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use tensormap_engine::user::{Cell, ColumnDef};
use tensormap_engine::{MapConfig, Object};
use tensormap_query::copy::{CopyError, Imported, StartProgress};
use tensormap_query::ErrorKind;

use crate::files::{parquet_files, show};
use crate::rows::{layout, Layout, COLUMNS};
use crate::user_columns::Reader;

/// Rows read: their objects, and their user column values ([`Imported::cells`]).
type Rows = (Vec<Object>, Vec<Option<Cell>>);

/// Rows decoded at a time.
const BATCH_ROWS: usize = 8192;

/// Rows of a file from which its row groups are decoded on two threads.
const PARALLEL_ROWS: u64 = 1 << 16;

/// Objects reserved up front at most, whatever a file's footer claims (memory then
/// grows with the rows actually read).
const MAX_RESERVE: u64 = 1 << 20;

/// `COPY map FROM 'file.parquet'` (or a folder of them).
pub fn read(
    path: &Path,
    config: &MapConfig,
    user: &[ColumnDef],
    progress: StartProgress<'_>,
) -> Result<Imported, CopyError> {
    let files = if path.is_dir() {
        parquet_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let mut opened = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for f in &files {
        let file =
            File::open(f).map_err(|e| CopyError::io(show(f), format!("cannot open: {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| CopyError::io(show(f), format!("cannot read its size: {e}")))?
            .len();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
            CopyError::file(
                show(f),
                format!("not a readable Parquet file (truncated or damaged?): {e}"),
            )
        })?;
        check_chunks(&show(f), builder.metadata(), len)?;
        total = total.saturating_add(builder.metadata().file_metadata().num_rows().max(0) as u64);
        opened.push(builder);
    }
    let progress = progress(total);
    let mut out = Imported {
        objects: Vec::with_capacity(total.min(MAX_RESERVE) as usize),
        columns: user.iter().map(|c| c.id).collect(),
        cells: Vec::new(),
        parts: Vec::with_capacity(files.len()),
    };
    let done = AtomicU64::new(0);
    for (f, builder) in files.iter().zip(opened) {
        let name = show(f);
        let before = out.objects.len();
        // A file of several row groups is decoded on two threads: the first half of its
        // groups here, the second on a helper thread; the rows keep the file's order.
        let sizes: Vec<u64> = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows().max(0) as u64)
            .collect();
        let rows: u64 = sizes.iter().sum();
        let split = sizes.len() / 2;
        if sizes.len() < 2 || rows < PARALLEL_ROWS {
            let (objects, cells) =
                read_groups(builder, None, &name, 0, config, user, &done, &|| {
                    progress.set(done.load(Ordering::Relaxed))
                })?;
            out.objects.extend(objects);
            out.cells.extend(cells);
        } else {
            let second_from: u64 = sizes[..split].iter().sum();
            let (first, second) = std::thread::scope(|scope| {
                let second = scope.spawn(|| {
                    let file = File::open(f)
                        .map_err(|e| CopyError::io(&name, format!("cannot open: {e}")))?;
                    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
                        CopyError::file(&name, format!("not a readable Parquet file: {e}"))
                    })?;
                    let groups = (split..sizes.len()).collect();
                    read_groups(
                        builder,
                        Some(groups),
                        &name,
                        second_from,
                        config,
                        user,
                        &done,
                        &|| {},
                    )
                });
                let groups = (0..split).collect();
                let first = read_groups(
                    builder,
                    Some(groups),
                    &name,
                    0,
                    config,
                    user,
                    &done,
                    &|| progress.set(done.load(Ordering::Relaxed)),
                );
                let second = second.join().unwrap_or_else(|_| {
                    Err(CopyError::new(
                        ErrorKind::Internal,
                        &name,
                        "the reading thread failed",
                    ))
                });
                (first, second)
            });
            // The first half's error comes first in the file.
            let (first, second) = (first?, second?);
            out.objects.extend(first.0);
            out.cells.extend(first.1);
            out.objects.extend(second.0);
            out.cells.extend(second.1);
            // The helper's last batches may have come after the first half's last report.
            progress.set(done.load(Ordering::Relaxed));
        }
        out.parts.push((name, out.objects.len() - before));
    }
    Ok(out)
}

/// Refuses a footer whose column chunks lie outside the file: the parquet crate asserts
/// that a chunk's start and length are not negative (it panicked on such a footer, found
/// by the `copy_import` fuzz target), and a chunk past the end could only fail later.
fn check_chunks(
    name: &str,
    meta: &parquet::file::metadata::ParquetMetaData,
    file_len: u64,
) -> Result<(), CopyError> {
    for (g, group) in meta.row_groups().iter().enumerate() {
        for (c, chunk) in group.columns().iter().enumerate() {
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or(chunk.data_page_offset());
            let len = chunk.compressed_size();
            let inside = u64::try_from(start)
                .ok()
                .zip(u64::try_from(len).ok())
                .and_then(|(s, l)| s.checked_add(l))
                .is_some_and(|end| end <= file_len);
            if !inside {
                return Err(CopyError::file(
                    name,
                    format!(
                        "not a readable Parquet file (damaged footer?): row group {g}, column \
                         {c} claims bytes {start}..+{len} of a {file_len}-byte file"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The rows of a file's row groups `groups` (all when `None`) as objects with the values
/// of user columns `user`; `first_row` is the number of rows in the file before them (for
/// error positions). Every decoded batch adds its rows to `done` and calls `tick`.
#[allow(clippy::too_many_arguments)]
fn read_groups(
    builder: ParquetRecordBatchReaderBuilder<File>,
    groups: Option<Vec<usize>>,
    name: &str,
    first_row: u64,
    config: &MapConfig,
    user: &[ColumnDef],
    done: &AtomicU64,
    tick: &dyn Fn(),
) -> Result<Rows, CopyError> {
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let l = layout(name, &names, user)?;
    let mut roots: Vec<usize> = [Some(l.id), l.kind, Some(l.embedding), l.confidence]
        .into_iter()
        .flatten()
        .chain(l.xyz)
        .chain(l.user.iter().map(|u| u.0))
        .collect();
    roots.sort_unstable();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let mut builder = builder.with_projection(mask).with_batch_size(BATCH_ROWS);
    if let Some(groups) = groups {
        builder = builder.with_row_groups(groups);
    }
    let reader = builder
        .build()
        .map_err(|e| CopyError::file(name, format!("cannot read: {e}")))?;
    let mut objects = Vec::new();
    let mut cells = Vec::new();
    for batch in reader {
        let row = first_row + objects.len() as u64 + 1;
        let batch = batch.map_err(|e| {
            CopyError::at(name, row, None, format!("damaged data from here on: {e}"))
        })?;
        // The projection keeps the file's order of the columns it keeps.
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let l = layout(name, &names, user)?;
        add_batch(&batch, &l, name, row, config, &mut objects)?;
        add_cells(&batch, &l, name, row, user, &mut cells)?;
        done.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        tick();
    }
    Ok((objects, cells))
}

/// Appends the user column values of `batch`'s rows (the first is row `first_row` of
/// `file`) to `out`: `user.len()` a row, `None` for a column the file does not have.
fn add_cells(
    batch: &RecordBatch,
    l: &Layout,
    file: &str,
    first_row: u64,
    user: &[ColumnDef],
    out: &mut Vec<Option<Cell>>,
) -> Result<(), CopyError> {
    if user.is_empty() {
        return Ok(());
    }
    let n = batch.num_rows();
    let start = out.len();
    out.resize(start + n * user.len(), None);
    for &(c, u) in &l.user {
        let d = &user[u];
        let array = batch.column(c).as_ref();
        let reader = Reader::of(array, d.ty).map_err(|m| {
            // The column's type is wrong: said at its first value (a column of NULLs
            // fits any type).
            let i = (0..n).find(|i| !array.is_null(*i)).unwrap_or(0);
            CopyError::at(file, first_row + i as u64, Some(&d.name), m)
        });
        let reader = match reader {
            Ok(r) => Some(r),
            Err(_) if array.logical_null_count() == n => None,
            Err(e) => return Err(e),
        };
        for i in 0..n {
            let cell = match &reader {
                Some(r) => r
                    .get(i)
                    .map_err(|m| CopyError::at(file, first_row + i as u64, Some(&d.name), m))?,
                None => Cell::Null,
            };
            out[start + i * user.len() + u] = Some(cell);
        }
    }
    Ok(())
}

/// A string column of any Arrow string type.
enum Strings<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> Strings<'a> {
    fn of(a: &'a dyn Array, file: &str, column: &str) -> Result<Self, CopyError> {
        if let Some(s) = a.as_string_opt::<i32>() {
            Ok(Strings::Utf8(s))
        } else if let Some(s) = a.as_string_opt::<i64>() {
            Ok(Strings::Large(s))
        } else if let Some(s) = a.as_string_view_opt() {
            Ok(Strings::View(s))
        } else {
            Err(wrong_type(file, column, "text", a))
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strings::Utf8(s) => (!s.is_null(i)).then(|| s.value(i)),
            Strings::Large(s) => (!s.is_null(i)).then(|| s.value(i)),
            Strings::View(s) => (!s.is_null(i)).then(|| s.value(i)),
        }
    }
}

/// A column of numbers of any Arrow float or integer type, read as f64.
struct Numbers<'a> {
    array: &'a dyn Array,
    get: fn(&dyn Array, usize) -> f64,
}

macro_rules! getter {
    ($t:ty) => {
        (|a: &dyn Array, i: usize| a.as_primitive::<$t>().value(i) as f64)
            as fn(&dyn Array, usize) -> f64
    };
}

impl<'a> Numbers<'a> {
    fn of(a: &'a dyn Array, file: &str, column: &str) -> Result<Self, CopyError> {
        use arrow_schema::DataType as D;
        let get = match a.data_type() {
            D::Float32 => getter!(Float32Type),
            D::Float64 => getter!(Float64Type),
            D::Int8 => getter!(Int8Type),
            D::Int16 => getter!(Int16Type),
            D::Int32 => getter!(Int32Type),
            D::Int64 => getter!(Int64Type),
            D::UInt8 => getter!(UInt8Type),
            D::UInt16 => getter!(UInt16Type),
            D::UInt32 => getter!(UInt32Type),
            D::UInt64 => getter!(UInt64Type),
            _ => return Err(wrong_type(file, column, "numbers", a)),
        };
        Ok(Numbers { array: a, get })
    }

    fn get(&self, i: usize) -> Option<f32> {
        (!self.array.is_null(i)).then(|| (self.get)(self.array, i) as f32)
    }
}

/// A column of lists of float32 or float64: each row's range of values.
struct Lists<'a> {
    list: &'a dyn Array,
    offsets: Offsets<'a>,
    values: Floats<'a>,
}

/// Where each row's values are in the child array.
enum Offsets<'a> {
    Fixed(&'a arrow_array::FixedSizeListArray),
    I32(&'a [i32]),
    I64(&'a [i64]),
}

enum Floats<'a> {
    F32(&'a [f32], &'a dyn Array),
    F64(&'a [f64], &'a dyn Array),
}

impl<'a> Lists<'a> {
    fn of(a: &'a dyn Array, file: &str, column: &str) -> Result<Self, CopyError> {
        let (offsets, values) = if let Some(l) = a.as_fixed_size_list_opt() {
            (Offsets::Fixed(l), l.values())
        } else if let Some(l) = a.as_list_opt::<i32>() {
            (Offsets::I32(l.value_offsets()), l.values())
        } else if let Some(l) = a.as_list_opt::<i64>() {
            (Offsets::I64(l.value_offsets()), l.values())
        } else {
            return Err(wrong_type(file, column, "lists of numbers", a));
        };
        let values = if let Some(v) = values.as_primitive_opt::<Float32Type>() {
            Floats::F32(v.values(), values.as_ref())
        } else if let Some(v) = values.as_primitive_opt::<Float64Type>() {
            Floats::F64(v.values(), values.as_ref())
        } else {
            return Err(wrong_type(file, column, "lists of float32 or float64", a));
        };
        Ok(Lists {
            list: a,
            offsets,
            values,
        })
    }

    /// Row `i`'s values into `out`; `Err` names what is wrong (a NULL, a NULL value).
    fn get(&self, i: usize, out: &mut Vec<f32>) -> Result<(), String> {
        if self.list.is_null(i) {
            return Err("NULL".into());
        }
        let range = match self.offsets {
            Offsets::Fixed(l) => {
                let start = l.value_offset_at(i);
                start..start + l.value_length().max(0) as usize
            }
            Offsets::I32(o) => o[i].max(0) as usize..o[i + 1].max(0) as usize,
            Offsets::I64(o) => o[i].max(0) as usize..o[i + 1].max(0) as usize,
        };
        let (len, nulls) = match self.values {
            Floats::F32(v, a) => (v.len(), a.logical_null_count() > 0),
            Floats::F64(v, a) => (v.len(), a.logical_null_count() > 0),
        };
        if range.end > len || range.start > range.end {
            return Err("a list that runs past its values (damaged file)".into());
        }
        if nulls {
            let a = match self.values {
                Floats::F32(_, a) | Floats::F64(_, a) => a,
            };
            if let Some(k) = range.clone().position(|j| a.is_null(j)) {
                return Err(format!("value {k} is NULL"));
            }
        }
        out.clear();
        match self.values {
            Floats::F32(v, _) => out.extend_from_slice(&v[range]),
            Floats::F64(v, _) => out.extend(v[range].iter().map(|x| *x as f32)),
        }
        Ok(())
    }
}

fn wrong_type(file: &str, column: &str, wanted: &str, a: &dyn Array) -> CopyError {
    CopyError {
        kind: ErrorKind::FileFormat,
        file: file.to_string(),
        row: None,
        column: Some(column.to_string()),
        message: format!("must hold {wanted}, found {}", a.data_type()),
    }
}

/// Appends the rows of `batch` (whose first row is row `first_row` of `file`) to `out`.
fn add_batch(
    batch: &RecordBatch,
    l: &Layout,
    file: &str,
    first_row: u64,
    config: &MapConfig,
    out: &mut Vec<Object>,
) -> Result<(), CopyError> {
    let col = |i: usize| batch.column(i).as_ref();
    let ids = Strings::of(col(l.id), file, COLUMNS[0])?;
    let kinds = l
        .kind
        .map(|k| Strings::of(col(k), file, COLUMNS[1]))
        .transpose()?;
    let xyz = [
        Numbers::of(col(l.xyz[0]), file, "x")?,
        Numbers::of(col(l.xyz[1]), file, "y")?,
        Numbers::of(col(l.xyz[2]), file, "z")?,
    ];
    let embedding = Lists::of(col(l.embedding), file, "embedding")?;
    let confidence = l
        .confidence
        .map(|c| Numbers::of(col(c), file, "confidence"))
        .transpose()?;
    let channels = config.channels as usize;
    let mut values = Vec::with_capacity(channels);
    out.reserve(batch.num_rows());
    for i in 0..batch.num_rows() {
        let row = first_row + i as u64;
        let null = |c: &str| CopyError::at(file, row, Some(c), "NULL (every value must be given)");
        let id = ids.get(i).ok_or_else(|| null("id"))?;
        let kind = match &kinds {
            Some(k) => k.get(i).ok_or_else(|| null("type"))?,
            None => "",
        };
        let mut position = [0f32; 3];
        for (axis, (p, c)) in position.iter_mut().zip(&xyz).enumerate() {
            *p = c.get(i).ok_or_else(|| null(["x", "y", "z"][axis]))?;
        }
        embedding
            .get(i, &mut values)
            .map_err(|m| CopyError::at(file, row, Some("embedding"), m))?;
        let confidence = match &confidence {
            Some(c) => c.get(i).ok_or_else(|| null("confidence"))?,
            None => 1.0,
        };
        out.push(Object {
            id: id.to_string(),
            kind: kind.to_string(),
            position,
            embedding: values.clone(),
            confidence,
        });
    }
    Ok(())
}
