//! What the HTML view draws: objects as columns, and the voxel field's norm as bricks.
//!
//! Columnar on purpose: a result of a million rows is a handful of vectors, not a million
//! structs, and each column becomes one typed array in the page.

use super::error::{HtmlError, Result};

/// Cells along a brick's edge: a brick holds `BRICK_EDGE³` cells, as the map's storage does.
pub const BRICK_EDGE: u32 = 8;
/// Cells in one brick.
pub const BRICK_CELLS: usize = (BRICK_EDGE * BRICK_EDGE * BRICK_EDGE) as usize;

/// Names the page shows for every object; a column may not take one of them.
pub const BUILT_IN_COLUMNS: [&str; 4] = ["id", "type", "position", "confidence"];

/// The objects of a result, one entry per object in every vector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewObjects {
    /// Each object's id (shown on hover, returned by `pick`).
    pub ids: Vec<String>,
    /// Each object's type (`type` in TensorQL).
    pub kinds: Vec<String>,
    /// World positions; every coordinate must be finite.
    pub positions: Vec<[f32; 3]>,
    /// Confidence, usually in [0, 1] (any finite number is drawn; NaN is shown as NULL).
    pub confidence: Vec<f32>,
    /// Further columns of the SELECT, shown on hover; numeric ones can colour the view.
    pub columns: Vec<ViewColumn>,
}

/// One extra column of the result.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewColumn {
    /// Its name in the SELECT (unique; not one of [`BUILT_IN_COLUMNS`]).
    pub name: String,
    /// Its values, one per object.
    pub values: ColumnValues,
}

/// The values of an extra column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Numbers; NaN stands for NULL. Written as f32 when every value reads back exactly
    /// from f32 (stored f32 columns), else as f64, so the page shows what the SELECT computed.
    Number(Vec<f64>),
    /// Text; `None` is NULL.
    Text(Vec<Option<String>>),
}

impl ColumnValues {
    fn len(&self) -> usize {
        match self {
            ColumnValues::Number(v) => v.len(),
            ColumnValues::Text(v) => v.len(),
        }
    }
}

impl ViewObjects {
    /// The number of objects.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Appends one object with no extra columns (use only while `columns` is empty).
    pub fn push(
        &mut self,
        id: impl Into<String>,
        kind: impl Into<String>,
        position: [f32; 3],
        confidence: f32,
    ) {
        self.ids.push(id.into());
        self.kinds.push(kind.into());
        self.positions.push(position);
        self.confidence.push(confidence);
    }

    /// The numeric column called `name`, if any.
    pub fn number_column(&self, name: &str) -> Option<&[f64]> {
        self.columns.iter().find_map(|c| match &c.values {
            ColumnValues::Number(v) if c.name == name => Some(v.as_slice()),
            _ => None,
        })
    }

    /// Checks that every vector has one entry per object, positions are finite and column
    /// names are unique and not built in.
    pub fn validate(&self) -> Result<()> {
        let n = self.ids.len();
        let bad = |m: String| Err(HtmlError::InvalidScene(m));
        // Object indices are u32 in the cell order and the page's buffers.
        if n > u32::MAX as usize {
            return bad(format!(
                "{n} objects: a view indexes at most {} objects",
                u32::MAX
            ));
        }
        if self.kinds.len() != n || self.positions.len() != n || self.confidence.len() != n {
            return bad(format!(
                "{n} ids but {} types, {} positions and {} confidences",
                self.kinds.len(),
                self.positions.len(),
                self.confidence.len()
            ));
        }
        if let Some(i) = self
            .positions
            .iter()
            .position(|p| !p.iter().all(|v| v.is_finite()))
        {
            return bad(format!(
                "object '{}' has a position that is not finite: {:?}",
                self.ids[i], self.positions[i]
            ));
        }
        for (k, c) in self.columns.iter().enumerate() {
            if c.values.len() != n {
                return bad(format!(
                    "column '{}' has {} values for {n} objects",
                    c.name,
                    c.values.len()
                ));
            }
            if c.name.is_empty() {
                return bad(format!("column {} has no name", k + 1));
            }
            if BUILT_IN_COLUMNS.contains(&c.name.as_str()) {
                return bad(format!(
                    "column '{}' is one the view always shows; leave it out of the extra columns",
                    c.name
                ));
            }
            if self.columns[..k].iter().any(|o| o.name == c.name) {
                return bad(format!("column '{}' is given twice", c.name));
            }
        }
        Ok(())
    }
}

/// The norm of a voxel field, brick by brick: what the slices, glow samples and field lines
/// are computed from in the page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewField {
    /// Cells per axis of the whole grid: a power of two, at least [`BRICK_EDGE`].
    pub resolution: u32,
    /// The grid spans the world cube `[-bounds, bounds]³` (a map's `bounds`).
    pub bounds: f64,
    /// The stored bricks; missing bricks are all zero.
    pub bricks: Vec<FieldBrick>,
}

/// One brick of the field's norm.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldBrick {
    /// Brick coordinates: the brick's first cell is `coords · BRICK_EDGE`.
    pub coords: [u32; 3],
    /// The Euclidean norm of each cell's vector, [`BRICK_CELLS`] of them, cell `(x, y, z)`
    /// of the brick at `x + 8·y + 64·z` (the map's brick layout). Finite and ≥ 0.
    pub norms: Vec<f32>,
}

impl ViewField {
    /// Bricks per axis.
    pub fn bricks_per_axis(&self) -> u32 {
        self.resolution / BRICK_EDGE
    }

    /// Checks the grid's shape, each brick's place and size, the values, and that no brick
    /// is given twice.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(HtmlError::InvalidScene(m));
        if !(BRICK_EDGE..=4096).contains(&self.resolution) || !self.resolution.is_power_of_two() {
            return bad(format!(
                "the field's resolution must be a power of two in 8..=4096, found {}",
                self.resolution
            ));
        }
        if !(self.bounds.is_finite() && self.bounds > 0.0) {
            return bad(format!(
                "the field's bounds must be a finite number > 0, found {}",
                self.bounds
            ));
        }
        let per_axis = self.bricks_per_axis();
        let mut seen = std::collections::HashSet::with_capacity(self.bricks.len());
        for b in &self.bricks {
            if b.coords.iter().any(|&c| c >= per_axis) {
                return bad(format!(
                    "brick {:?} is outside a grid of {per_axis} bricks per axis",
                    b.coords
                ));
            }
            if b.norms.len() != BRICK_CELLS {
                return bad(format!(
                    "brick {:?} has {} values, not {BRICK_CELLS}",
                    b.coords,
                    b.norms.len()
                ));
            }
            if let Some(v) = b.norms.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return bad(format!(
                    "brick {:?} has a norm that is not a finite number ≥ 0: {v}",
                    b.coords
                ));
            }
            if !seen.insert(b.coords) {
                return bad(format!("brick {:?} is given twice", b.coords));
            }
        }
        Ok(())
    }

    /// The largest norm of the field (0 when empty).
    pub fn max_norm(&self) -> f32 {
        self.bricks
            .iter()
            .flat_map(|b| b.norms.iter())
            .fold(0.0, |m, v| m.max(*v))
    }
}
