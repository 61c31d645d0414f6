//! The records of user columns: a map's schema (key `map/<id>/schema`, absent for a map
//! without user columns, so such a map stores exactly what it stored before they existed)
//! and each object's values (key `map/<id>/values/<object id>`).
//!
//! Columns are named in values by a number of their own (`ColumnDef::id`), never by their
//! place: adding a column with a default, dropping one or renaming one rewrites the schema
//! record only. A value not stored for a column reads as the column's default.

/// The type of a user column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum ColumnType {
    /// UTF-8 text.
    Text,
    /// A 64-bit float.
    Real,
    /// A 64-bit signed integer.
    Integer,
    /// True or false.
    Boolean,
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    Timestamp,
    /// Bytes.
    Blob,
}

impl ColumnType {
    /// Its name in the language.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Real => "REAL",
            ColumnType::Integer => "INTEGER",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Blob => "BLOB",
        }
    }

    /// The type named `name` (any case).
    pub fn from_name(name: &str) -> Option<ColumnType> {
        Some(match name.to_ascii_uppercase().as_str() {
            "TEXT" => ColumnType::Text,
            "REAL" => ColumnType::Real,
            "INTEGER" => ColumnType::Integer,
            "BOOLEAN" => ColumnType::Boolean,
            "TIMESTAMP" => ColumnType::Timestamp,
            "BLOB" => ColumnType::Blob,
            _ => return None,
        })
    }
}

/// One stored value of a user column.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub enum Cell {
    /// No value.
    Null,
    /// TEXT.
    Text(String),
    /// REAL.
    Real(f64),
    /// INTEGER.
    Integer(i64),
    /// BOOLEAN.
    Boolean(bool),
    /// TIMESTAMP: microseconds since the epoch, UTC.
    Timestamp(i64),
    /// BLOB.
    Blob(Vec<u8>),
}

impl Cell {
    /// Whether a column of type `ty` may hold this cell (NULL fits every type).
    pub fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (Cell::Null, _)
                | (Cell::Text(_), ColumnType::Text)
                | (Cell::Real(_), ColumnType::Real)
                | (Cell::Integer(_), ColumnType::Integer)
                | (Cell::Boolean(_), ColumnType::Boolean)
                | (Cell::Timestamp(_), ColumnType::Timestamp)
                | (Cell::Blob(_), ColumnType::Blob)
        )
    }
}

/// One user column of a map.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct ColumnDef {
    /// The number values name it by (never reused within a map).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// `NOT NULL`.
    pub not_null: bool,
    /// What a row that does not give it holds (`Cell::Null` without `DEFAULT`).
    pub default: Cell,
}

/// A map's user columns, in their declared order: key `map/<id>/schema`.
#[derive(Debug, Clone, PartialEq, Default, bincode::Encode, bincode::Decode)]
pub struct SchemaRecord {
    /// The next column number to give.
    pub next_id: u32,
    /// The columns.
    pub columns: Vec<ColumnDef>,
}

/// The user column values of one object: key `map/<id>/values/<object id>`.
#[derive(Debug, Clone, PartialEq, Default, bincode::Encode, bincode::Decode)]
pub struct ValuesRecord {
    /// `(column id, value)`, for the columns it stores.
    pub cells: Vec<(u32, Cell)>,
}
