//! A query: `SELECT ... FROM ... JOIN ... WHERE ... GROUP BY ... ORDER BY ... LIMIT`.

use super::{Expr, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The objects of a map.
    Map(String),
    /// `VOXELS(map)`: the occupied cells of a map's field.
    Voxels(String),
    /// `(SELECT ...) AS alias`: the rows of a query (a derived table).
    Subquery(Box<Select>),
}

impl Source {
    /// The map's name (a `WITH` name too); none for a subquery.
    pub fn map(&self) -> Option<&str> {
        match self {
            Source::Map(m) | Source::Voxels(m) => Some(m),
            Source::Subquery(_) => None,
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
        self.alias
            .as_deref()
            .or(self.source.map())
            .unwrap_or("subquery")
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

/// How a compound query combines its operands (left to right, one precedence, as in SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// `UNION`: the rows of either, duplicates removed.
    Union,
    /// `UNION ALL`: the rows of both.
    UnionAll,
    /// `INTERSECT`: the distinct rows of both.
    Intersect,
    /// `EXCEPT`: the distinct rows of the left that are not in the right.
    Except,
}

impl SetOp {
    /// How it is written.
    pub fn keyword(self) -> &'static str {
        match self {
            SetOp::Union => "UNION",
            SetOp::UnionAll => "UNION ALL",
            SetOp::Intersect => "INTERSECT",
            SetOp::Except => "EXCEPT",
        }
    }
}

/// A common table expression: `name [(columns)] AS (SELECT ...)` of `WITH`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    /// Its name.
    pub name: String,
    /// Column names given to its rows (none: the query's own).
    pub columns: Vec<String>,
    /// Its query.
    pub query: Select,
    /// Where it is named.
    pub pos: Span,
}

/// `[WITH ...] SELECT [DISTINCT] ... [FROM ... [JOIN ...]] [WHERE] [GROUP BY] [HAVING]
/// [UNION | INTERSECT | EXCEPT SELECT ...]... [ORDER BY] [LIMIT [OFFSET]]`
///
/// With `compound` operands, ORDER BY, LIMIT and OFFSET apply to the whole compound (and
/// the operands have none), as in SQL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    /// `WITH`: the common table expressions its FROM clauses (and its subqueries) may name.
    pub with: Vec<Cte>,
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
    /// The operands after the first (this one's core), with their operators.
    pub compound: Vec<(SetOp, Select)>,
}

impl Select {
    /// The maps of FROM, in order.
    pub fn tables(&self) -> impl Iterator<Item = &TableRef> {
        self.from.iter().chain(self.joins.iter().map(|j| &j.table))
    }
}
