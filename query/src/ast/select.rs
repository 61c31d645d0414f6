//! A query: `SELECT ... FROM ... JOIN ... WHERE ... GROUP BY ... ORDER BY ... LIMIT`.

use super::{Expr, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The objects of a map.
    Map(String),
    /// `VOXELS(map)`: the occupied cells of a map's field.
    Voxels(String),
}

impl Source {
    /// The map's name.
    pub fn map(&self) -> &str {
        match self {
            Source::Map(m) | Source::Voxels(m) => m,
        }
    }
}

/// A map (or its voxels) in FROM, with its alias.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRef {
    /// What is read.
    pub source: Source,
    /// `AS alias`.
    pub alias: Option<String>,
    /// Where the map is named.
    pub pos: Span,
}

impl TableRef {
    /// The name its columns are qualified with: the alias, or the map's name.
    pub fn label(&self) -> &str {
        self.alias.as_deref().unwrap_or(self.source.map())
    }
}

/// How a join keeps rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `[INNER] JOIN ... ON`: the pairs that satisfy ON.
    Inner,
    /// `LEFT [OUTER] JOIN ... ON`: those, plus each left row without a match, with NULLs.
    Left,
    /// `CROSS JOIN` or `,`: every pair (WHERE filters them).
    Cross,
}

/// One join of FROM.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Its kind.
    pub kind: JoinKind,
    /// The map joined.
    pub table: TableRef,
    /// `ON` (none for CROSS).
    pub on: Option<Expr>,
}

/// One item of the select list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard(Span),
    /// `t.*`
    TableWildcard(String, Span),
    /// An expression and its optional alias.
    Expr(Expr, Option<String>),
}

/// `SELECT [DISTINCT] ... [FROM ... [JOIN ...]] [WHERE] [GROUP BY] [HAVING] [ORDER BY]
/// [LIMIT [OFFSET]]`
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// `DISTINCT`.
    pub distinct: bool,
    /// The select list.
    pub items: Vec<SelectItem>,
    /// The first map of FROM (none: `SELECT 1 + 1`, one row).
    pub from: Option<TableRef>,
    /// The maps joined to it, in order.
    pub joins: Vec<Join>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// GROUP BY.
    pub group_by: Vec<Expr>,
    /// HAVING.
    pub having: Option<Expr>,
    /// ORDER BY: expression and descending.
    pub order_by: Vec<(Expr, bool)>,
    /// LIMIT.
    pub limit: Option<u64>,
    /// OFFSET.
    pub offset: Option<u64>,
}

impl Select {
    /// The maps of FROM, in order.
    pub fn tables(&self) -> impl Iterator<Item = &TableRef> {
        self.from.iter().chain(self.joins.iter().map(|j| &j.table))
    }
}
