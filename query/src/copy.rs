//! `COPY`: a map's objects out to Parquet, CSV or JSON files, and such files' rows in
//! (docs/LANGUAGE.md, "Bulk data: COPY").
//!
//! This crate owns the statement's meaning — its settings, the transaction it runs in,
//! the validation of every row as INSERT's, errors naming the row and the column — and
//! not the file formats: those live behind [`CopyFormats`], which `tensormap-interop`
//! implements with the arrow-rs crates and the facade installs in every session
//! ([`crate::Session::set_copy_formats`]). The parser and this crate stay free of arrow
//! (the parser's fuzz target builds them).
//!
//! Columns of every format: `id`, `type`, `x`, `y`, `z`, `embedding` (a list of float32),
//! `confidence`, then the map's user columns by name. On import `type` and `confidence`
//! may be missing (then `''` and 1.0, as in INSERT); the others must be there. A user
//! column missing from a file reads as its DEFAULT (NULL without one), as in INSERT; a
//! NULL in a NOT NULL column is an error naming the file, the row and the column.

use std::fmt;
use std::path::Path;

use tensormap_engine::user::{Cell, ColumnDef};
use tensormap_engine::{MapConfig, MapView, Object, WriteTransaction};

use crate::ast::{CopyDirection, Setting, Span};
use crate::error::{Error, ErrorKind, Pos, Result};
use crate::exec::QueryResult;
use crate::progress::Progress;

/// The file formats of COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet with GeoParquet 1.1 metadata.
    Parquet,
    /// CSV with a header line; `embedding` as a bracketed list `[a, b, ...]`.
    Csv,
    /// JSON Lines: one object per line.
    Json,
}

impl Format {
    /// How it is named in `WITH (format = ...)`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// The format named `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            _ => None,
        }
    }

    /// The format a file name's extension says: `.parquet` (`.pq`), `.csv`, `.json`
    /// (`.jsonl`, `.ndjson`).
    pub fn from_path(path: &str) -> Option<Self> {
        let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(Format::Parquet),
            other => Format::parse(other),
        }
    }
}

/// How an export splits the rows into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// One file.
    None,
    /// One Hive-style folder `cell=<m>/` per occupied cell of the octree level `depth`
    /// over the map's bounds (`2^depth` cells per axis; `m` the cell's Morton code), with
    /// files `part-<i>.parquet` in it: one, or more where the cell holds more than
    /// `max_rows_per_file` rows (split KDB-style at the median of its longest axis).
    Octree {
        /// The octree level, `0..=MAX_PARTITION_DEPTH`.
        depth: u32,
        /// The most rows of one file (a cell with more is split); at least 1.
        max_rows_per_file: u64,
    },
}

/// The deepest octree level a partitioned export splits at (`8^8` possible folders).
pub const MAX_PARTITION_DEPTH: u32 = 8;

/// Rows per Parquet row group unless `row_group_size` says otherwise: small enough that
/// row-group statistics prune a Morton-sorted file, large enough to compress well.
pub const DEFAULT_ROW_GROUP: usize = 65_536;

/// Rows per row group of a partitioned export unless `row_group_size` says otherwise:
/// small, so that a reader's row-group statistics prune within a cell.
pub const DEFAULT_PARTITION_ROW_GROUP: usize = 8192;

/// Rows per file of a partitioned export unless `max_rows_per_file` says otherwise.
pub const DEFAULT_MAX_ROWS_PER_FILE: u64 = 1 << 20;

/// The largest `row_group_size` accepted.
pub const MAX_ROW_GROUP: usize = 1 << 20;

/// The checked settings of a COPY statement.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyOptions {
    /// The file format.
    pub format: Format,
    /// How an export splits rows into files (always `None` for an import).
    pub partitioning: Partitioning,
    /// Rows per Parquet row group (export).
    pub row_group_size: usize,
}

/// An error of a COPY file: its kind, which file, and where in it when that is known (the
/// 1-based row, counting data rows only, and the column).
#[derive(Debug, Clone, PartialEq)]
pub struct CopyError {
    /// What kind of failure: [`ErrorKind::Io`] (the file cannot be opened, read or
    /// written), [`ErrorKind::FileFormat`] (its content is malformed), ...
    pub kind: ErrorKind,
    /// The file (or folder) read or written.
    pub file: String,
    /// The row, from 1.
    pub row: Option<u64>,
    /// The column.
    pub column: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl CopyError {
    /// An error of `kind` about `file` as a whole.
    pub fn new(kind: ErrorKind, file: impl Into<String>, message: impl Into<String>) -> Self {
        CopyError {
            kind,
            file: file.into(),
            row: None,
            column: None,
            message: message.into(),
        }
    }

    /// `file` cannot be opened, read or written ([`ErrorKind::Io`]).
    pub fn io(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, file, message)
    }

    /// `file`'s content is malformed as a whole ([`ErrorKind::FileFormat`]).
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        CopyError {
            kind: ErrorKind::FileFormat,
            file: file.into(),
            row: None,
            column: None,
            message: message.into(),
        }
    }

    /// A malformed value at `row` (from 1) of `file`, in `column` when known
    /// ([`ErrorKind::FileFormat`]).
    pub fn at(
        file: impl Into<String>,
        row: u64,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        CopyError {
            kind: ErrorKind::FileFormat,
            file: file.into(),
            row: Some(row),
            column: column.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.file)?;
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CopyError {}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exported {
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: u64,
    /// Bytes written, all files together.
    pub bytes: u64,
}

/// The rows of an import as objects, in file order, and where they came from: each file
/// read with its count of rows, in the order its rows appear in `objects` (so that an
/// error found later, a duplicate id say, can name the file and the row).
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// One object per row.
    pub objects: Vec<Object>,
    /// The ids of the user columns the import was read for (the map's, in declared
    /// order); empty for a map without user columns.
    pub columns: Vec<u32>,
    /// The rows' user column values, row-major: `columns.len()` per object, `None` where
    /// the row's file has no such column (it then takes the column's default). Values
    /// are of their column's type (or [`Cell::Null`]).
    pub cells: Vec<Option<Cell>>,
    /// The files, with how many rows of `objects` each gave.
    pub parts: Vec<(String, usize)>,
}

impl Imported {
    /// The file and 1-based row of `objects[index]`.
    pub fn origin(&self, index: usize) -> (String, u64) {
        let mut start = 0;
        for (file, n) in &self.parts {
            if index < start + n {
                return (file.clone(), (index - start + 1) as u64);
            }
            start += n;
        }
        let file = self.parts.last().map(|p| p.0.clone()).unwrap_or_default();
        (file, index as u64 + 1)
    }
}

/// Starts the progress report of a COPY, given its total in rows (0 when unknown).
pub type StartProgress<'a> = &'a dyn Fn(u64) -> Progress;

/// The file formats COPY reads and writes (implemented by `tensormap-interop`).
pub trait CopyFormats: Send + Sync {
    /// Writes every object of `map` to `path` (a file, or for a partitioned export a
    /// folder), replacing a file atomically: a failed export leaves no partial file.
    fn export(
        &self,
        map: &MapView<'_>,
        path: &Path,
        options: &CopyOptions,
        progress: StartProgress<'_>,
    ) -> std::result::Result<Exported, CopyError>;

    /// Reads every row of `path` (a file, or a folder of Parquet files, read in path
    /// order) as objects for a map of `config` with user columns `columns`: a file's
    /// columns named as one of `columns` give its values, converted to its type (a value
    /// that is not of it is an error naming the file, the row, the column and the type);
    /// [`Imported::columns`] are the ids of `columns`. A malformed file or value is an
    /// error naming the file, the row and the column; the rules of the map (bounds,
    /// channels, finite values, unique ids, NOT NULL columns) are checked by the caller.
    fn import(
        &self,
        path: &Path,
        options: &CopyOptions,
        config: &MapConfig,
        columns: &[ColumnDef],
        progress: StartProgress<'_>,
    ) -> std::result::Result<Imported, CopyError>;
}

/// Checks the settings of `COPY ... TO|FROM path WITH (settings)`.
pub fn options(
    direction: CopyDirection,
    path: &str,
    settings: &[(String, Setting, Span)],
    pos: Pos,
) -> Result<CopyOptions> {
    let mut format = None;
    let mut partition_by = None;
    let mut depth = None;
    let mut row_group_size = None;
    let mut max_rows_per_file = None;
    for (key, value, at) in settings {
        let at = at.0;
        let text = || match value {
            Setting::Str(s) | Setting::Word(s) => Ok(s.clone()),
            other => Err(Error::invalid(
                at,
                format!("{key} must be text, found {other}"),
            )),
        };
        let integer = |max: f64| match value {
            Setting::Number(n) if n.fract() == 0.0 && (0.0..=max).contains(n) => Ok(*n as u64),
            other => Err(Error::invalid(
                at,
                format!("{key} must be an integer in 0..={max}, found {other}"),
            )),
        };
        if direction == CopyDirection::From && key != "format" {
            return Err(Error::invalid(
                at,
                format!("'{key}' applies to COPY ... TO; COPY ... FROM takes only format"),
            ));
        }
        match key.as_str() {
            "format" => {
                let name = text()?;
                format = Some(Format::parse(&name).ok_or_else(|| {
                    Error::invalid(
                        at,
                        format!("unknown format '{name}': expected 'parquet', 'csv' or 'json'"),
                    )
                })?);
            }
            "partition_by" => {
                let how = text()?;
                if !how.eq_ignore_ascii_case("octree") {
                    return Err(Error::invalid(
                        at,
                        format!("partition_by must be 'octree', found '{how}'"),
                    ));
                }
                partition_by = Some(at);
            }
            "depth" => depth = Some(integer(MAX_PARTITION_DEPTH as f64)? as u32),
            "row_group_size" => {
                let n = integer(MAX_ROW_GROUP as f64)? as usize;
                if n == 0 {
                    return Err(Error::invalid(at, "row_group_size must be at least 1"));
                }
                row_group_size = Some(n);
            }
            "max_rows_per_file" => {
                let n = integer(u32::MAX as f64)?;
                if n == 0 {
                    return Err(Error::invalid(at, "max_rows_per_file must be at least 1"));
                }
                max_rows_per_file = Some((n, at));
            }
            other => {
                return Err(Error::invalid(
                    at,
                    format!(
                    "unknown COPY setting '{other}' (format, partition_by, depth, row_group_size, max_rows_per_file)"
                ),
                ))
            }
        }
    }
    let partitioning = match (partition_by, depth) {
        (Some(_), Some(depth)) => Partitioning::Octree {
            depth,
            max_rows_per_file: max_rows_per_file.map_or(DEFAULT_MAX_ROWS_PER_FILE, |m| m.0),
        },
        (Some(at), None) => {
            return Err(Error::invalid(
                at,
                "partition_by = 'octree' needs depth = d (the octree level, 0..=8)",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                pos,
                "depth applies with partition_by = 'octree'",
            ));
        }
        (None, None) => Partitioning::None,
    };
    if let (Partitioning::None, Some((_, at))) = (partitioning, max_rows_per_file) {
        return Err(Error::invalid(
            at,
            "max_rows_per_file applies with partition_by = 'octree'",
        ));
    }
    // A folder (partitioned export, or an import of one) holds Parquet files.
    let folder = partitioning != Partitioning::None
        || path.ends_with('/')
        || (direction == CopyDirection::From && Path::new(path).is_dir());
    let format = match format.or_else(|| Format::from_path(path)) {
        Some(f) => f,
        None if folder => Format::Parquet,
        None => {
            return Err(Error::invalid(
                pos,
                format!(
                    "cannot tell the format of '{path}': name it .parquet, .csv or .json, or add WITH (format = ...)"
                ),
            ))
        }
    };
    if partitioning != Partitioning::None && format != Format::Parquet {
        return Err(Error::invalid(
            pos,
            format!("a partitioned export writes Parquet, not {}", format.name()),
        ));
    }
    Ok(CopyOptions {
        format,
        partitioning,
        row_group_size: row_group_size.unwrap_or(match partitioning {
            Partitioning::None => DEFAULT_ROW_GROUP,
            Partitioning::Octree { .. } => DEFAULT_PARTITION_ROW_GROUP,
        }),
    })
}

/// `COPY map TO path`: runs the export on a view of the map.
pub fn export(
    formats: &dyn CopyFormats,
    view: &MapView<'_>,
    path: &str,
    options: &CopyOptions,
    progress: StartProgress<'_>,
    pos: Pos,
) -> Result<QueryResult> {
    let done = formats
        .export(view, Path::new(path), options, progress)
        .map_err(|e| Error::new(e.kind, pos, format!("COPY TO {e}")).with_source(e))?;
    Ok(QueryResult::status(format!("COPY {}", done.rows)))
}

/// `COPY map FROM path`, first half: reads the file's rows (before the statement takes
/// the writer, so a long read does not hold other writers back).
pub fn read(
    formats: &dyn CopyFormats,
    path: &str,
    options: &CopyOptions,
    config: &MapConfig,
    columns: &[ColumnDef],
    progress: StartProgress<'_>,
    pos: Pos,
) -> Result<Imported> {
    formats
        .import(Path::new(path), options, config, columns, progress)
        .map_err(|e| Error::new(e.kind, pos, format!("COPY FROM {e}")).with_source(e))
}

/// `COPY map FROM path`, second half: adds the rows to `map` in `t` on the bulk path,
/// all or none, with their user column values (each row's given values, the others'
/// defaults; a NULL left in a NOT NULL column is an error naming the file, the row and the
/// column). The engine validates every object as INSERT's (bounds, channels, finite
/// values, confidence, unique ids among the rows and against the map) before adding any;
/// its error names an id, which is turned back into the file, row and column.
pub fn insert(
    t: &mut WriteTransaction,
    map: &str,
    imported: &Imported,
    pos: Pos,
) -> Result<QueryResult> {
    let objects = &imported.objects;
    let defs: Vec<ColumnDef> = t
        .map(map)
        .map_err(|e| Error::engine(pos, e))?
        .columns()
        .to_vec();
    let added = if defs.is_empty() && imported.columns.is_empty() {
        t.insert_slice(map, objects)
    } else {
        let values = row_values(&defs, imported, pos)?;
        t.insert_with_values(map, objects, values)
    };
    if let Err(e) = added {
        let located = match &e {
            tensormap_engine::Error::DuplicateId { id, .. } => {
                // The engine names the first row whose id an earlier row or the map has:
                // the second of two rows with the id, or the only one.
                let mut at = objects.iter().enumerate().filter(|(_, o)| o.id == *id);
                let first = at.next().map(|(i, _)| i);
                at.next().map(|(i, _)| i).or(first).map(|i| (i, "id"))
            }
            tensormap_engine::Error::InvalidObject { id, reason } => {
                let config = t.map(map).map_err(|e| Error::engine(pos, e))?.config();
                objects
                    .iter()
                    .position(|o| o.id == *id && o.validate(config).is_err())
                    .map(|i| (i, column_of(reason)))
            }
            _ => None,
        };
        return Err(match located {
            Some((index, column)) => {
                let (file, row) = imported.origin(index);
                let located = CopyError::at(file, row, Some(column), e.to_string());
                Error::new(e.kind(), pos, format!("COPY FROM {located}")).with_source(e)
            }
            None => Error::engine(pos, e),
        });
    }
    Ok(QueryResult::status(format!("COPY {}", objects.len())))
}

/// Every row's cells of every user column `defs` of the map: the file's value, or the
/// column's default where its file has none. The columns must be those the files were
/// read for (an ALTER MAP between the read and the insert is refused).
fn row_values(defs: &[ColumnDef], imported: &Imported, pos: Pos) -> Result<Vec<Vec<(u32, Cell)>>> {
    let ids: Vec<u32> = defs.iter().map(|d| d.id).collect();
    if ids != imported.columns {
        return Err(Error::conflict(
            pos,
            "the map's columns changed while COPY FROM read the file: run it again",
        ));
    }
    let k = defs.len();
    let n = imported.objects.len();
    if imported.cells.len() != n * k {
        return Err(Error::internal(
            pos,
            format!(
                "COPY FROM read {} user values for {n} rows of {k} columns",
                imported.cells.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut row = Vec::with_capacity(k);
        for (j, d) in defs.iter().enumerate() {
            let given = &imported.cells[i * k + j];
            let cell = given.clone().unwrap_or_else(|| d.default.clone());
            if d.not_null && cell == Cell::Null {
                let (file, r) = imported.origin(i);
                let why = match given {
                    Some(_) => "NULL in a NOT NULL column".to_string(),
                    None => format!(
                        "the file has no column '{}', which is NOT NULL without a DEFAULT",
                        d.name
                    ),
                };
                let located = CopyError::at(file, r, Some(&d.name), why);
                return Err(Error::new(
                    ErrorKind::InvalidValue,
                    pos,
                    format!("COPY FROM {located}"),
                )
                .with_source(located));
            }
            row.push((d.id, cell));
        }
        out.push(row);
    }
    Ok(out)
}

/// The column an engine validation message is about (its messages start with the field:
/// "embedding has 31 values ...", "position x is not finite ...", "confidence must ...").
fn column_of(reason: &str) -> &'static str {
    for (prefix, column) in [
        ("position x", "x"),
        ("position y", "y"),
        ("position z", "z"),
        ("embedding", "embedding"),
        ("confidence", "confidence"),
        ("type", "type"),
    ] {
        if reason.starts_with(prefix) {
            return column;
        }
    }
    "id"
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensormap_engine::Object;

    fn opts(direction: CopyDirection, path: &str, sql_settings: &str) -> Result<CopyOptions> {
        let sql = format!("COPY m TO '{path}' {sql_settings}");
        let settings = match crate::parser::parse_statement(&sql)? {
            crate::ast::Statement::Copy { settings, .. } => settings,
            _ => unreachable!(),
        };
        options(direction, path, &settings, Pos { line: 1, col: 1 })
    }

    #[test]
    fn settings_are_checked() {
        let o = opts(CopyDirection::To, "a/b.PARQUET", "").unwrap();
        assert_eq!(o.format, Format::Parquet);
        assert_eq!(o.partitioning, Partitioning::None);
        assert_eq!(o.row_group_size, DEFAULT_ROW_GROUP);
        assert_eq!(
            opts(CopyDirection::To, "x.csv", "").unwrap().format,
            Format::Csv
        );
        assert_eq!(
            opts(CopyDirection::From, "x.jsonl", "").unwrap().format,
            Format::Json
        );
        assert_eq!(
            opts(CopyDirection::To, "x.txt", "WITH (format = 'json')")
                .unwrap()
                .format,
            Format::Json
        );
        let o = opts(
            CopyDirection::To,
            "out/",
            "WITH (format = 'parquet', partition_by = 'octree', depth = 2, row_group_size = 100)",
        )
        .unwrap();
        assert_eq!(
            o.partitioning,
            Partitioning::Octree {
                depth: 2,
                max_rows_per_file: DEFAULT_MAX_ROWS_PER_FILE
            }
        );
        assert_eq!(o.row_group_size, 100);
        let o = opts(
            CopyDirection::To,
            "out/",
            "WITH (partition_by = 'octree', depth = 3, max_rows_per_file = 500)",
        )
        .unwrap();
        assert_eq!(
            o.partitioning,
            Partitioning::Octree {
                depth: 3,
                max_rows_per_file: 500
            }
        );
        assert_eq!(o.row_group_size, DEFAULT_PARTITION_ROW_GROUP);
        assert_eq!(
            opts(
                CopyDirection::To,
                "out",
                "WITH (partition_by = 'octree', depth = 0)"
            )
            .unwrap()
            .format,
            Format::Parquet
        );
        for (path, settings, wanted) in [
            ("x.txt", "", "cannot tell the format"),
            ("x.csv", "WITH (format = 'xml')", "unknown format 'xml'"),
            ("o/", "WITH (partition_by = 'octree')", "needs depth"),
            ("o/", "WITH (depth = 2)", "depth applies"),
            (
                "o/",
                "WITH (partition_by = 'grid', depth = 1)",
                "must be 'octree'",
            ),
            (
                "o/",
                "WITH (partition_by = 'octree', depth = 9)",
                "integer in 0..=8",
            ),
            (
                "o.csv",
                "WITH (partition_by = 'octree', depth = 1)",
                "writes Parquet",
            ),
            ("x.parquet", "WITH (row_group_size = 0)", "at least 1"),
            (
                "o/",
                "WITH (partition_by = 'octree', depth = 1, max_rows_per_file = 0)",
                "at least 1",
            ),
            (
                "x.parquet",
                "WITH (max_rows_per_file = 10)",
                "applies with partition_by",
            ),
            (
                "x.parquet",
                "WITH (compression = 'gzip')",
                "unknown COPY setting",
            ),
        ] {
            let e = opts(CopyDirection::To, path, settings).unwrap_err();
            assert!(e.message.contains(wanted), "{settings}: {e}");
        }
        let e = opts(CopyDirection::From, "x.parquet", "WITH (depth = 1)").unwrap_err();
        assert!(e.message.contains("takes only format"), "{e}");
    }

    #[test]
    fn rows_are_located_across_files() {
        let o = Object::new("a", "", [0.0; 3], vec![]);
        let imported = Imported {
            objects: vec![o.clone(), o.clone(), o.clone()],
            columns: Vec::new(),
            cells: Vec::new(),
            parts: vec![("p1".into(), 2), ("p2".into(), 1)],
        };
        assert_eq!(imported.origin(0), ("p1".to_string(), 1));
        assert_eq!(imported.origin(1), ("p1".to_string(), 2));
        assert_eq!(imported.origin(2), ("p2".to_string(), 1));
        let e = CopyError::at("f.csv", 7, Some("x"), "not a number");
        assert_eq!(e.to_string(), "'f.csv' row 7, column x: not a number");
        assert_eq!(column_of("position y is not finite (NaN)"), "y");
        assert_eq!(
            column_of("embedding has 3 values, the map has 2 channels"),
            "embedding"
        );
        assert_eq!(column_of("id must be 1..=1024 bytes, found 0"), "id");
    }
}
