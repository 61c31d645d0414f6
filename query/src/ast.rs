//! The TensorQL syntax tree, and its printing back as TensorQL.
//!
//! Printing is canonical (keywords upper-case, binary operations parenthesized), so
//! `parse(print(ast))` gives back `ast` (positions aside): tested in `parser.rs`.

use std::fmt::{self, Display, Formatter, Write};
use std::sync::Arc;

use crate::error::Pos;
pub use crate::parser::model::ModelStatement;

/// A position inside the tree. Equality ignores it, so that trees compare by meaning.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span(pub Pos);

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A literal setting value in `WITH (...)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// A number.
    Number(f64),
    /// A string.
    Str(String),
    /// An identifier (`true`, `false`, ...).
    Word(String),
    /// A vector of numbers.
    Vector(Vec<f64>),
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE MAP name [WITH (k = v, ...)]`
    CreateMap {
        /// Map name.
        name: String,
        /// Settings.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `DROP MAP [IF EXISTS] name`
    DropMap {
        /// Map name.
        name: String,
        /// `IF EXISTS`: no error when the map is missing.
        if_exists: bool,
    },
    /// `SHOW MAPS`
    ShowMaps,
    /// `DESCRIBE name`
    Describe {
        /// Map name.
        name: String,
    },
    /// `INSERT INTO map [(cols)] VALUES (...), ...`
    Insert {
        /// Map name.
        map: String,
        /// Column names (empty: the default order).
        columns: Vec<(String, Span)>,
        /// Rows of expressions, each with its position.
        rows: Vec<(Vec<Expr>, Span)>,
    },
    /// `UPDATE map SET col = e, ... [WHERE p]`
    Update {
        /// Map name.
        map: String,
        /// Assignments.
        set: Vec<(String, Expr, Span)>,
        /// Filter.
        filter: Option<Expr>,
    },
    /// `DELETE FROM map [WHERE p]`
    Delete {
        /// Map name.
        map: String,
        /// Filter.
        filter: Option<Expr>,
    },
    /// A query.
    Select(Box<Select>),
    /// `EXPLAIN <statement>`
    Explain(Box<Statement>),
    /// `RENDER SELECT ... [TO 'file'] [WITH (k = v, ...)]`
    Render {
        /// The objects to draw.
        select: Box<Select>,
        /// The file to write (`.svg` or `.svg3d`); without it the SVG is returned as a row.
        to: Option<String>,
        /// Settings: width, height, camera, rotation, fov, perspective, heatmap, axes, legend.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `SNAPSHOT map TO 'file' [WITH (format = 'binary' | 'json', compression = 'zstd' |
    /// 'none', dtype = 'f32' | 'f16' | 'i8')]`
    Snapshot {
        /// Map name.
        map: String,
        /// The `.tensor3d` file to write.
        to: String,
        /// Settings.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `RESTORE name FROM 'file'`: a new map from a snapshot.
    Restore {
        /// The new map's name.
        name: String,
        /// The snapshot to read.
        from: String,
    },
    /// A model statement: CREATE / LOAD / TRAIN / SAVE / SHOW / DROP MODEL(S).
    Model(ModelStatement),
    /// `COPY map TO 'path' [WITH (...)]` or `COPY map FROM 'path' [WITH (...)]`: bulk
    /// export to, or import from, Parquet, CSV or JSON (see `crate::copy`).
    Copy {
        /// Map name.
        map: String,
        /// TO (export) or FROM (import).
        direction: CopyDirection,
        /// The file or folder.
        path: String,
        /// Settings: format, partition_by, depth, row_group_size.
        settings: Vec<(String, Setting, Span)>,
    },
    /// `BEGIN`
    Begin,
    /// `COMMIT`
    Commit,
    /// `ROLLBACK`
    Rollback,
}

/// Which way a `COPY` moves rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDirection {
    /// `COPY map TO 'path'`: the map's objects into a file.
    To,
    /// `COPY map FROM 'path'`: a file's rows into the map.
    From,
}

/// Where a query reads rows from.
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

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `OR`
    Or,
    /// `AND`
    And,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `||` (text concatenation)
    Concat,
}

impl BinOp {
    /// How it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "OR",
            BinOp::And => "AND",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Concat => "||",
        }
    }
}

/// An expression and where it starts.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it starts.
    pub pos: Pos,
}

/// Positions do not take part in equality: `parse(print(e)) == e`.
impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

/// The type a `CAST` converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    /// `REAL`: a number.
    Real,
    /// `INTEGER`: a number without fraction (truncated toward zero).
    Integer,
    /// `TEXT`.
    Text,
}

impl CastType {
    /// How it is written.
    pub fn name(self) -> &'static str {
        match self {
            CastType::Real => "REAL",
            CastType::Integer => "INTEGER",
            CastType::Text => "TEXT",
        }
    }
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number literal.
    Number(f64),
    /// A string literal.
    Str(String),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `NULL`.
    Null,
    /// `?`: the parameter of this index (from 0, counted through the whole script).
    Param(usize),
    /// `[e, ...]` with some element that is not a number literal.
    Vector(Vec<Expr>),
    /// `[1, -2.5, ...]`: a vector of number literals, read once as f32 (the parser makes
    /// every all-literal vector one of these, so that a 10k-row INSERT of embeddings builds
    /// no expression per number).
    Numbers(Arc<[f32]>),
    /// A column.
    Column(String),
    /// `table.column`
    QualifiedColumn {
        /// The map's name or alias.
        table: String,
        /// The column.
        column: String,
    },
    /// `-e`
    Neg(Box<Expr>),
    /// `NOT e`
    Not(Box<Expr>),
    /// `l op r`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `e [NOT] IN (a, b, ...)`
    In {
        /// The tested expression.
        expr: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `e IS [NOT] NULL`
    IsNull {
        /// The tested expression.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `e [NOT] BETWEEN low AND high`
    Between {
        /// The tested expression.
        expr: Box<Expr>,
        /// Lower bound (inclusive).
        low: Box<Expr>,
        /// Upper bound (inclusive).
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `e [NOT] LIKE pattern [ESCAPE c]`
    Like {
        /// The tested text.
        expr: Box<Expr>,
        /// The pattern: `%` any run, `_` any one character.
        pattern: Box<Expr>,
        /// The escape character.
        escape: Option<Box<Expr>>,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `CASE [operand] WHEN w THEN t ... [ELSE e] END`
    Case {
        /// `CASE x WHEN v ...` compares x with each v; without it each WHEN is a condition.
        operand: Option<Box<Expr>>,
        /// The WHEN ... THEN ... pairs.
        branches: Vec<(Expr, Expr)>,
        /// ELSE (NULL without it).
        otherwise: Option<Box<Expr>>,
    },
    /// `CAST(e AS type)`
    Cast {
        /// The value.
        expr: Box<Expr>,
        /// The type.
        to: CastType,
    },
    /// `name([DISTINCT] args)`; `COUNT(*)` has `star`.
    Call {
        /// Lower-case name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
        /// `f(*)`.
        star: bool,
        /// `f(DISTINCT e)` (aggregates only).
        distinct: bool,
    },
}

/// The aggregate functions.
pub const AGGREGATES: [&str; 5] = ["count", "sum", "avg", "min", "max"];

impl Expr {
    /// The direct sub-expressions of this one.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Vector(v) => v.iter().collect(),
            ExprKind::Neg(e) | ExprKind::Not(e) => vec![e],
            ExprKind::IsNull { expr, .. } | ExprKind::Cast { expr, .. } => vec![expr],
            ExprKind::Binary(_, l, r) => vec![l, r],
            ExprKind::In { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            ExprKind::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            ExprKind::Like {
                expr,
                pattern,
                escape,
                ..
            } => [Some(&**expr), Some(&**pattern), escape.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => operand
                .as_deref()
                .into_iter()
                .chain(branches.iter().flat_map(|(w, t)| [w, t]))
                .chain(otherwise.as_deref())
                .collect(),
            ExprKind::Call { args, .. } => args.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The direct sub-expressions, mutable, in [`Expr::children`]'s order.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.kind {
            ExprKind::Vector(v) => v.iter_mut().collect(),
            ExprKind::Neg(e)
            | ExprKind::Not(e)
            | ExprKind::IsNull { expr: e, .. }
            | ExprKind::Cast { expr: e, .. } => vec![&mut **e],
            ExprKind::Binary(_, l, r) => vec![&mut **l, &mut **r],
            ExprKind::In { expr, list, .. } => std::iter::once(&mut **expr)
                .chain(list.iter_mut())
                .collect(),
            ExprKind::Between {
                expr, low, high, ..
            } => vec![&mut **expr, &mut **low, &mut **high],
            ExprKind::Like {
                expr,
                pattern,
                escape,
                ..
            } => [
                Some(&mut **expr),
                Some(&mut **pattern),
                escape.as_deref_mut(),
            ]
            .into_iter()
            .flatten()
            .collect(),
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => operand
                .as_deref_mut()
                .into_iter()
                .chain(branches.iter_mut().flat_map(|(w, t)| [w, t]))
                .chain(otherwise.as_deref_mut())
                .collect(),
            ExprKind::Call { args, .. } => args.iter_mut().collect(),
            _ => Vec::new(),
        }
    }

    /// Calls `f` on this expression and, where `f` returns true, on those inside it.
    pub fn rewrite(&mut self, f: &mut dyn FnMut(&mut Expr) -> bool) {
        if f(self) {
            for c in self.children_mut() {
                c.rewrite(f);
            }
        }
    }

    /// Whether `pred` holds for this expression or any inside it.
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        pred(self) || self.children().into_iter().any(|c| c.any(pred))
    }

    /// Whether this expression contains an aggregate call.
    pub fn has_aggregate(&self) -> bool {
        self.any(&|e| {
            matches!(&e.kind, ExprKind::Call { name, .. } if AGGREGATES.contains(&name.as_str()))
        })
    }
}

impl Select {
    /// Every expression of the query, mutable (for binding `?` parameters).
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        let mut v: Vec<&mut Expr> = Vec::new();
        for item in &mut self.items {
            if let SelectItem::Expr(e, _) = item {
                v.push(e);
            }
        }
        for j in &mut self.joins {
            v.extend(j.on.as_mut());
        }
        v.extend(self.filter.as_mut());
        v.extend(self.group_by.iter_mut());
        v.extend(self.having.as_mut());
        v.extend(self.order_by.iter_mut().map(|(e, _)| e));
        v
    }
}

impl Statement {
    /// Every expression of the statement, mutable (for binding `?` parameters).
    pub fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Statement::Insert { rows, .. } => {
                rows.iter_mut().flat_map(|(r, _)| r.iter_mut()).collect()
            }
            Statement::Update { set, filter, .. } => set
                .iter_mut()
                .map(|(_, e, _)| e)
                .chain(filter.as_mut())
                .collect(),
            Statement::Delete { filter, .. } => filter.as_mut().into_iter().collect(),
            Statement::Select(s) | Statement::Render { select: s, .. } => s.exprs_mut(),
            Statement::Explain(inner) => inner.exprs_mut(),
            _ => Vec::new(),
        }
    }
}

/// Prints an identifier bare when it can be read back as the same identifier.
pub fn ident(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !crate::parser::is_reserved(name);
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn number(n: f64) -> String {
    // `{:?}` round-trips every finite f64 exactly.
    let s = format!("{n:?}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

fn list<T>(
    f: &mut Formatter<'_>,
    items: &[T],
    each: impl Fn(&mut Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(n) => f.write_str(&number(*n)),
            ExprKind::Str(s) => f.write_str(&string(s)),
            ExprKind::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            ExprKind::Null => f.write_str("NULL"),
            ExprKind::Param(_) => f.write_char('?'),
            ExprKind::Vector(v) => {
                f.write_char('[')?;
                list(f, v, |f, e| write!(f, "{e}"))?;
                f.write_char(']')
            }
            ExprKind::Numbers(v) => {
                f.write_char('[')?;
                list(f, v, |f, x| {
                    // `{:?}` round-trips every f32 exactly.
                    let s = format!("{x:?}");
                    f.write_str(s.strip_suffix(".0").unwrap_or(&s))
                })?;
                f.write_char(']')
            }
            ExprKind::Column(c) => f.write_str(&ident(c)),
            ExprKind::QualifiedColumn { table, column } => {
                write!(f, "{}.{}", ident(table), ident(column))
            }
            ExprKind::Neg(e) => write!(f, "(-({e}))"),
            ExprKind::Not(e) => write!(f, "(NOT {e})"),
            ExprKind::Binary(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
            ExprKind::In {
                expr,
                list: items,
                negated,
            } => {
                write!(f, "({expr} {}IN (", not(*negated))?;
                list(f, items, |f, e| write!(f, "{e}"))?;
                f.write_str("))")
            }
            ExprKind::IsNull { expr, negated } => {
                write!(f, "({expr} IS {}NULL)", not(*negated))
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => write!(f, "({expr} {}BETWEEN {low} AND {high})", not(*negated)),
            ExprKind::Like {
                expr,
                pattern,
                escape,
                negated,
            } => {
                write!(f, "({expr} {}LIKE {pattern}", not(*negated))?;
                if let Some(e) = escape {
                    write!(f, " ESCAPE {e}")?;
                }
                f.write_char(')')
            }
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => {
                f.write_str("CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in branches {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = otherwise {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
            ExprKind::Cast { expr, to } => write!(f, "CAST({expr} AS {})", to.name()),
            ExprKind::Call {
                name,
                args,
                star,
                distinct,
            } => {
                write!(f, "{}(", name.to_ascii_uppercase())?;
                if *star {
                    f.write_char('*')?;
                }
                if *distinct {
                    f.write_str("DISTINCT ")?;
                }
                list(f, args, |f, e| write!(f, "{e}"))?;
                f.write_char(')')
            }
        }
    }
}

fn not(negated: bool) -> &'static str {
    if negated {
        "NOT "
    } else {
        ""
    }
}

impl Display for TableRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Map(m) => f.write_str(&ident(m))?,
            Source::Voxels(m) => write!(f, "VOXELS({})", ident(m))?,
        }
        if let Some(a) = &self.alias {
            write!(f, " AS {}", ident(a))?;
        }
        Ok(())
    }
}

impl Display for Setting {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Number(n) => f.write_str(&number(*n)),
            Setting::Str(s) => f.write_str(&string(s)),
            Setting::Word(w) => f.write_str(w),
            Setting::Vector(v) => {
                f.write_char('[')?;
                list(f, v, |f, n| f.write_str(&number(*n)))?;
                f.write_char(']')
            }
        }
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        })?;
        list(f, &self.items, |f, item| match item {
            SelectItem::Wildcard(_) => f.write_char('*'),
            SelectItem::TableWildcard(t, _) => write!(f, "{}.*", ident(t)),
            SelectItem::Expr(e, None) => write!(f, "{e}"),
            SelectItem::Expr(e, Some(a)) => write!(f, "{e} AS {}", ident(a)),
        })?;
        if let Some(t) = &self.from {
            write!(f, " FROM {t}")?;
        }
        for j in &self.joins {
            let kw = match j.kind {
                JoinKind::Inner => "JOIN",
                JoinKind::Left => "LEFT JOIN",
                JoinKind::Cross => "CROSS JOIN",
            };
            write!(f, " {kw} {}", j.table)?;
            if let Some(on) = &j.on {
                write!(f, " ON {on}")?;
            }
        }
        if let Some(w) = &self.filter {
            write!(f, " WHERE {w}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            list(f, &self.group_by, |f, e| write!(f, "{e}"))?;
        }
        if let Some(h) = &self.having {
            write!(f, " HAVING {h}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            list(f, &self.order_by, |f, (e, desc)| {
                write!(f, "{e} {}", if *desc { "DESC" } else { "ASC" })
            })?;
        }
        if let Some(n) = self.limit {
            write!(f, " LIMIT {n}")?;
        }
        if let Some(n) = self.offset {
            write!(f, " OFFSET {n}")?;
        }
        Ok(())
    }
}

/// ` WITH (k = v, ...)`, or nothing when there are no settings.
fn with_settings(f: &mut Formatter<'_>, settings: &[(String, Setting, Span)]) -> fmt::Result {
    if !settings.is_empty() {
        f.write_str(" WITH (")?;
        list(f, settings, |f, (k, v, _)| write!(f, "{} = {v}", ident(k)))?;
        f.write_char(')')?;
    }
    Ok(())
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateMap { name, settings } => {
                write!(f, "CREATE MAP {}", ident(name))?;
                with_settings(f, settings)
            }
            Statement::DropMap { name, if_exists } => {
                write!(
                    f,
                    "DROP MAP {}{}",
                    if *if_exists { "IF EXISTS " } else { "" },
                    ident(name)
                )
            }
            Statement::ShowMaps => f.write_str("SHOW MAPS"),
            Statement::Describe { name } => write!(f, "DESCRIBE {}", ident(name)),
            Statement::Insert { map, columns, rows } => {
                write!(f, "INSERT INTO {}", ident(map))?;
                if !columns.is_empty() {
                    f.write_str(" (")?;
                    list(f, columns, |f, (c, _)| f.write_str(&ident(c)))?;
                    f.write_char(')')?;
                }
                f.write_str(" VALUES ")?;
                list(f, rows, |f, (row, _)| {
                    f.write_char('(')?;
                    list(f, row, |f, e| write!(f, "{e}"))?;
                    f.write_char(')')
                })
            }
            Statement::Update { map, set, filter } => {
                write!(f, "UPDATE {} SET ", ident(map))?;
                list(f, set, |f, (c, e, _)| write!(f, "{} = {e}", ident(c)))?;
                if let Some(w) = filter {
                    write!(f, " WHERE {w}")?;
                }
                Ok(())
            }
            Statement::Delete { map, filter } => {
                write!(f, "DELETE FROM {}", ident(map))?;
                if let Some(w) = filter {
                    write!(f, " WHERE {w}")?;
                }
                Ok(())
            }
            Statement::Select(s) => write!(f, "{s}"),
            Statement::Explain(s) => write!(f, "EXPLAIN {s}"),
            Statement::Render {
                select,
                to,
                settings,
            } => {
                write!(f, "RENDER {select}")?;
                if let Some(path) = to {
                    write!(f, " TO {}", string(path))?;
                }
                with_settings(f, settings)
            }
            Statement::Snapshot { map, to, settings } => {
                write!(f, "SNAPSHOT {} TO {}", ident(map), string(to))?;
                with_settings(f, settings)
            }
            Statement::Restore { name, from } => {
                write!(f, "RESTORE {} FROM {}", ident(name), string(from))
            }
            Statement::Model(m) => write!(f, "{m}"),
            Statement::Copy {
                map,
                direction,
                path,
                settings,
            } => {
                let way = match direction {
                    CopyDirection::To => "TO",
                    CopyDirection::From => "FROM",
                };
                write!(f, "COPY {} {way} {}", ident(map), string(path))?;
                with_settings(f, settings)
            }
            Statement::Begin => f.write_str("BEGIN"),
            Statement::Commit => f.write_str("COMMIT"),
            Statement::Rollback => f.write_str("ROLLBACK"),
        }
    }
}
