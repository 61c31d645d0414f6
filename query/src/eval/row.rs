//! The rows expressions read: an object or a voxel of a map, a row of a materialized
//! query (a subquery in FROM or a WITH query), or a NULL row; tuples of them (one row per
//! map of FROM), and the columns each kind of row has.

use std::cmp::Ordering;

use tensormap_engine::{widen_f32, ObjectRef, Value, VoxelSet};

use crate::func;

/// The columns of an object row: the engine's built-in columns, in their order.
pub const OBJECT_COLUMNS: [&str; 8] = tensormap_engine::user::BUILT_IN;
/// The columns `*` expands to for objects.
pub const OBJECT_STAR: [&str; 5] = ["id", "type", "position", "embedding", "confidence"];
/// The columns of a voxel row.
pub const VOXEL_COLUMNS: [&str; 9] = ["i", "j", "k", "center", "x", "y", "z", "value", "norm"];
/// The columns `*` expands to for voxels.
pub const VOXEL_STAR: [&str; 6] = ["i", "j", "k", "center", "value", "norm"];

/// What an entry of FROM yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// A map's objects.
    Objects,
    /// A map's occupied voxels.
    Voxels,
    /// The rows of a query (a subquery in FROM, a WITH query).
    Derived,
}

/// An entry of FROM as expressions see it: the name its columns are qualified with.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    /// The alias, or the map's name.
    pub label: String,
    /// Objects, voxels or a query's rows.
    pub kind: TableKind,
    /// A query's column names (empty for maps: their columns are fixed).
    pub names: Vec<String>,
    /// Its columns are only read qualified (`excluded.col` of ON CONFLICT).
    pub qualified_only: bool,
    /// A map's user columns, in declared order (after the built-in ones).
    pub columns: Vec<String>,
}

impl TableInfo {
    /// A map's objects, named `label`.
    pub fn objects(label: &str) -> Self {
        TableInfo {
            label: label.to_string(),
            kind: TableKind::Objects,
            names: Vec::new(),
            qualified_only: false,
            columns: Vec::new(),
        }
    }

    /// A map's objects, named `label`, with user columns `columns`.
    pub fn objects_with(label: &str, columns: &[tensormap_engine::user::ColumnDef]) -> Self {
        TableInfo {
            columns: columns.iter().map(|c| c.name.clone()).collect(),
            ..TableInfo::objects(label)
        }
    }

    /// A map's voxels, named `label`.
    pub fn voxels(label: &str) -> Self {
        TableInfo {
            label: label.to_string(),
            kind: TableKind::Voxels,
            names: Vec::new(),
            qualified_only: false,
            columns: Vec::new(),
        }
    }

    /// A query's rows with columns `names`, named `label`.
    pub fn derived(label: &str, names: &[String]) -> Self {
        TableInfo {
            label: label.to_string(),
            kind: TableKind::Derived,
            names: names.to_vec(),
            qualified_only: false,
            columns: Vec::new(),
        }
    }

    /// Whether it has column `name`.
    pub fn has(&self, name: &str) -> bool {
        match self.kind {
            TableKind::Objects => {
                OBJECT_COLUMNS.contains(&name) || self.columns.iter().any(|c| c == name)
            }
            TableKind::Voxels => VOXEL_COLUMNS.contains(&name),
            TableKind::Derived => self.names.iter().any(|n| n == name),
        }
    }

    /// The columns `*` expands to.
    pub fn star(&self) -> Vec<String> {
        match self.kind {
            TableKind::Objects => OBJECT_STAR
                .iter()
                .map(|c| c.to_string())
                .chain(self.columns.iter().cloned())
                .collect(),
            TableKind::Voxels => VOXEL_STAR.iter().map(|c| c.to_string()).collect(),
            TableKind::Derived => self.names.clone(),
        }
    }
}

/// The rows of a query, materialized: a subquery in FROM, a WITH query, a compound's
/// operands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Relation {
    /// Column names.
    pub names: Vec<String>,
    /// Rows, each as wide as `names`.
    pub rows: Vec<Vec<Value>>,
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
    /// Row `.1` of a materialized query.
    Rel(&'a Relation, usize),
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
                _ => o.user_value(name).unwrap_or(Value::Null),
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
            Row::Rel(r, i) => match r.names.iter().position(|n| n == name) {
                Some(c) => r.rows[i][c].clone(),
                None => Value::Null,
            },
        }
    }

    /// The vector attention scores this row: its embedding or its voxel value.
    pub fn attention_vector(&self) -> &'a [f32] {
        match *self {
            Row::Null | Row::Rel(..) => &[],
            Row::Obj(o) => o.embedding(),
            Row::Vox(v, cell) => v.value(cell),
        }
    }

    /// The position a spatial index holds for the row.
    pub fn point(&self) -> Option<[f32; 3]> {
        match *self {
            Row::Null | Row::Rel(..) => None,
            Row::Obj(o) => Some(o.position()),
            Row::Vox(v, cell) => Some(v.centers[cell]),
        }
    }

    /// Ties in ORDER BY are broken by id (objects), by cell (voxels) or by the query's row
    /// order (a query's rows); a null row first.
    pub fn tie_cmp(&self, other: &Row<'_>) -> Ordering {
        match (self, other) {
            (Row::Obj(a), Row::Obj(b)) => a.id_bytes().cmp(b.id_bytes()),
            (Row::Vox(a, i), Row::Vox(b, j)) => a.cells[*i].cmp(&b.cells[*j]),
            (Row::Rel(_, i), Row::Rel(_, j)) => i.cmp(j),
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
        crate::limits::charge(std::mem::size_of_val(tuple));
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
