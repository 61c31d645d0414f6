//! The rows expressions read: an object or a voxel of a map (or a NULL row), tuples of
//! them (one row per map of FROM), and the columns each kind of row has.

use std::cmp::Ordering;

use tensormap_engine::{widen_f32, ObjectRef, Value, VoxelSet};

use crate::func;

/// The columns of an object row.
pub const OBJECT_COLUMNS: [&str; 8] = [
    "id",
    "type",
    "position",
    "x",
    "y",
    "z",
    "embedding",
    "confidence",
];
/// The columns `*` expands to for objects.
pub const OBJECT_STAR: [&str; 5] = ["id", "type", "position", "embedding", "confidence"];
/// The columns of a voxel row.
pub const VOXEL_COLUMNS: [&str; 9] = ["i", "j", "k", "center", "x", "y", "z", "value", "norm"];
/// The columns `*` expands to for voxels.
pub const VOXEL_STAR: [&str; 6] = ["i", "j", "k", "center", "value", "norm"];

/// What a map of FROM yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Its objects.
    Objects,
    /// Its occupied voxels.
    Voxels,
}

impl TableKind {
    /// Its columns.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            TableKind::Objects => &OBJECT_COLUMNS,
            TableKind::Voxels => &VOXEL_COLUMNS,
        }
    }

    /// The columns `*` expands to.
    pub fn star(self) -> &'static [&'static str] {
        match self {
            TableKind::Objects => &OBJECT_STAR,
            TableKind::Voxels => &VOXEL_STAR,
        }
    }
}

/// A map of FROM as expressions see it: the name its columns are qualified with.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    /// The alias, or the map's name.
    pub label: String,
    /// Objects or voxels.
    pub kind: TableKind,
}

/// One map's row of a tuple.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// No row: every column is NULL (LEFT JOIN without a match; a map not yet joined).
    Null,
    /// An object.
    Obj(ObjectRef<'a>),
    /// Cell `.1` of a voxel set.
    Vox(&'a VoxelSet, usize),
}

impl<'a> Row<'a> {
    /// The value of column `name` (NULL for a null row or an unknown name; names are
    /// checked before rows are read).
    pub fn column(&self, name: &str) -> Value {
        match *self {
            Row::Null => Value::Null,
            Row::Obj(o) => match name {
                "id" => Value::Text(o.shared_id()),
                "type" => Value::Text(o.shared_kind()),
                "position" => Value::vector(&o.position()),
                "x" => Value::Number(widen_f32(o.position()[0])),
                "y" => Value::Number(widen_f32(o.position()[1])),
                "z" => Value::Number(widen_f32(o.position()[2])),
                "embedding" => Value::vector(o.embedding()),
                "confidence" => Value::Number(widen_f32(o.confidence())),
                _ => Value::Null,
            },
            Row::Vox(v, cell) => match name {
                "i" => Value::Number(v.cells[cell][0] as f64),
                "j" => Value::Number(v.cells[cell][1] as f64),
                "k" => Value::Number(v.cells[cell][2] as f64),
                "center" => Value::vector(&v.centers[cell]),
                "x" => Value::Number(widen_f32(v.centers[cell][0])),
                "y" => Value::Number(widen_f32(v.centers[cell][1])),
                "z" => Value::Number(widen_f32(v.centers[cell][2])),
                "value" => Value::vector(v.value(cell)),
                "norm" => Value::Number(func::norm(v.value(cell))),
                _ => Value::Null,
            },
        }
    }

    /// The vector attention scores this row: its embedding or its voxel value.
    pub fn attention_vector(&self) -> &'a [f32] {
        match *self {
            Row::Null => &[],
            Row::Obj(o) => o.embedding(),
            Row::Vox(v, cell) => v.value(cell),
        }
    }

    /// The position a spatial index holds for the row.
    pub fn point(&self) -> Option<[f32; 3]> {
        match *self {
            Row::Null => None,
            Row::Obj(o) => Some(o.position()),
            Row::Vox(v, cell) => Some(v.centers[cell]),
        }
    }

    /// Ties in ORDER BY are broken by id (objects) or by cell (voxels); a null row first.
    pub fn tie_cmp(&self, other: &Row<'_>) -> Ordering {
        match (self, other) {
            (Row::Obj(a), Row::Obj(b)) => a.id().cmp(b.id()),
            (Row::Vox(a, i), Row::Vox(b, j)) => a.cells[*i].cmp(&b.cells[*j]),
            (Row::Null, Row::Null) => Ordering::Equal,
            (Row::Null, _) => Ordering::Less,
            (_, Row::Null) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }
}

/// Tuples of rows, one row per map of FROM, stored flat.
#[derive(Debug, Clone, Default)]
pub struct Tuples<'a> {
    /// Maps in FROM (0 for `SELECT 1`, whose one tuple is empty).
    pub width: usize,
    /// `len * width` rows.
    pub rows: Vec<Row<'a>>,
    /// How many tuples.
    pub len: usize,
}

impl<'a> Tuples<'a> {
    /// No tuples of `width`.
    pub fn new(width: usize) -> Self {
        Tuples {
            width,
            rows: Vec::new(),
            len: 0,
        }
    }

    /// Tuple `i`.
    pub fn get(&self, i: usize) -> &[Row<'a>] {
        &self.rows[i * self.width..(i + 1) * self.width]
    }

    /// Appends a tuple.
    pub fn push(&mut self, tuple: &[Row<'a>]) {
        self.rows.extend_from_slice(tuple);
        self.len += 1;
    }

    /// Ties between two tuples: map by map, in FROM order.
    pub fn tie_cmp(&self, a: usize, b: usize) -> Ordering {
        self.get(a)
            .iter()
            .zip(self.get(b))
            .map(|(x, y)| x.tie_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}
