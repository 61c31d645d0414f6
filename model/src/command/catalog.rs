//! [`Catalog`]: what the command model may name in a map — its name, the object types that
//! occur in it, and its own numeric columns — given at query time, so one model serves
//! every map.

use crate::error::{Error, Result};

/// Most types a catalog may list (a map with more distinct types is matched against the
/// first this many, in the order given).
pub const MAX_TYPES: usize = 100_000;
/// Most columns a catalog may list.
pub const MAX_COLUMNS: usize = 1024;

/// One of a map's own columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name, as declared.
    pub name: String,
    /// Whether it holds numbers (REAL or INTEGER): only those can be compared or ordered.
    pub numeric: bool,
}

/// The map a command is about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// The map's name (written into the statement).
    pub map: String,
    /// The distinct object types, as stored (`'cube'`, `'Drone'`, `'traffic_cone'`).
    pub types: Vec<String>,
    /// The map's own columns (not the built-ins `id`, `type`, `position`, `x`, `y`, `z`,
    /// `embedding`, `confidence`).
    pub columns: Vec<Column>,
}

/// The built-in columns: a map's own column cannot be named like one.
pub const BUILT_IN_COLUMNS: [&str; 8] = [
    "id",
    "type",
    "position",
    "x",
    "y",
    "z",
    "embedding",
    "confidence",
];

impl Catalog {
    /// A catalog of a map with these types and no columns of its own.
    pub fn new(map: impl Into<String>, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Catalog {
            map: map.into(),
            types: types.into_iter().map(Into::into).collect(),
            columns: Vec::new(),
        }
    }

    /// Adds a column of the map's own.
    pub fn with_column(mut self, name: impl Into<String>, numeric: bool) -> Self {
        self.columns.push(Column {
            name: name.into(),
            numeric,
        });
        self
    }

    /// Checks the catalog: a map name, no empty or repeated type, at most [`MAX_TYPES`]
    /// types and [`MAX_COLUMNS`] columns, no column named like a built-in.
    pub fn validate(&self) -> Result<()> {
        if self.map.is_empty() {
            return Err(Error::arg("the catalog has no map name"));
        }
        if self.types.len() > MAX_TYPES {
            return Err(Error::arg(format!(
                "the catalog lists {} types, more than the {MAX_TYPES} the command model reads",
                self.types.len()
            )));
        }
        if self.columns.len() > MAX_COLUMNS {
            return Err(Error::arg(format!(
                "the catalog lists {} columns, more than {MAX_COLUMNS}",
                self.columns.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, t) in self.types.iter().enumerate() {
            if t.is_empty() {
                return Err(Error::arg(format!("catalog type {i} is empty")));
            }
            if !seen.insert(t.as_str()) {
                return Err(Error::arg(format!("catalog type {t:?} is listed twice")));
            }
        }
        for c in &self.columns {
            if BUILT_IN_COLUMNS.contains(&c.name.to_ascii_lowercase().as_str()) {
                return Err(Error::arg(format!(
                    "catalog column {:?} is named like a built-in column",
                    c.name
                )));
            }
        }
        Ok(())
    }
}
