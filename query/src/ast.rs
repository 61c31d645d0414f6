//! The TensorQL syntax tree, and its printing back as TensorQL.
//!
//! Printing is canonical (keywords upper-case, binary operations parenthesized), so
//! `parse(print(ast))` gives back `ast` (positions aside): tested in `parser.rs`.

use std::fmt::{self, Display, Formatter, Write};

use crate::error::Pos;

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
    /// `BEGIN`
    Begin,
    /// `COMMIT`
    Commit,
    /// `ROLLBACK`
    Rollback,
}

/// Where a query reads rows from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The objects of a map.
    Map(String),
    /// `VOXELS(map)`: the occupied cells of a map's field.
    Voxels(String),
}

/// One item of the select list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard(Span),
    /// An expression and its optional alias.
    Expr(Expr, Option<String>),
}

/// `SELECT ... FROM ... [WHERE] [GROUP BY] [ORDER BY] [LIMIT [OFFSET]]`
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// The select list.
    pub items: Vec<SelectItem>,
    /// The source and where it was named.
    pub from: Source,
    /// Position of the source name.
    pub from_pos: Span,
    /// WHERE.
    pub filter: Option<Expr>,
    /// GROUP BY.
    pub group_by: Vec<Expr>,
    /// ORDER BY: expression and descending.
    pub order_by: Vec<(Expr, bool)>,
    /// LIMIT.
    pub limit: Option<u64>,
    /// OFFSET.
    pub offset: Option<u64>,
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

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number literal.
    Number(f64),
    /// A string literal.
    Str(String),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `[e, ...]`
    Vector(Vec<Expr>),
    /// A column.
    Column(String),
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
    /// `name(args)`; `COUNT(*)` has `star`.
    Call {
        /// Lower-case name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
        /// `f(*)`.
        star: bool,
    },
}

/// The aggregate functions.
pub const AGGREGATES: [&str; 5] = ["count", "sum", "avg", "min", "max"];

impl Expr {
    /// Whether this expression contains an aggregate call.
    pub fn has_aggregate(&self) -> bool {
        match &self.kind {
            ExprKind::Call { name, args, .. } => {
                AGGREGATES.contains(&name.as_str()) || args.iter().any(Expr::has_aggregate)
            }
            ExprKind::Vector(v) => v.iter().any(Expr::has_aggregate),
            ExprKind::Neg(e) | ExprKind::Not(e) => e.has_aggregate(),
            ExprKind::Binary(_, l, r) => l.has_aggregate() || r.has_aggregate(),
            ExprKind::In { expr, list, .. } => {
                expr.has_aggregate() || list.iter().any(Expr::has_aggregate)
            }
            _ => false,
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
            ExprKind::Vector(v) => {
                f.write_char('[')?;
                list(f, v, |f, e| write!(f, "{e}"))?;
                f.write_char(']')
            }
            ExprKind::Column(c) => f.write_str(&ident(c)),
            ExprKind::Neg(e) => write!(f, "(-({e}))"),
            ExprKind::Not(e) => write!(f, "(NOT {e})"),
            ExprKind::Binary(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
            ExprKind::In {
                expr,
                list: items,
                negated,
            } => {
                write!(f, "({expr} {}IN (", if *negated { "NOT " } else { "" })?;
                list(f, items, |f, e| write!(f, "{e}"))?;
                f.write_str("))")
            }
            ExprKind::Call { name, args, star } => {
                write!(f, "{}(", name.to_ascii_uppercase())?;
                if *star {
                    f.write_char('*')?;
                }
                list(f, args, |f, e| write!(f, "{e}"))?;
                f.write_char(')')
            }
        }
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
        f.write_str("SELECT ")?;
        list(f, &self.items, |f, item| match item {
            SelectItem::Wildcard(_) => f.write_char('*'),
            SelectItem::Expr(e, None) => write!(f, "{e}"),
            SelectItem::Expr(e, Some(a)) => write!(f, "{e} AS {}", ident(a)),
        })?;
        match &self.from {
            Source::Map(m) => write!(f, " FROM {}", ident(m))?,
            Source::Voxels(m) => write!(f, " FROM VOXELS({})", ident(m))?,
        }
        if let Some(w) = &self.filter {
            write!(f, " WHERE {w}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            list(f, &self.group_by, |f, e| write!(f, "{e}"))?;
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

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateMap { name, settings } => {
                write!(f, "CREATE MAP {}", ident(name))?;
                if !settings.is_empty() {
                    f.write_str(" WITH (")?;
                    list(f, settings, |f, (k, v, _)| write!(f, "{} = {v}", ident(k)))?;
                    f.write_char(')')?;
                }
                Ok(())
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
                if !settings.is_empty() {
                    f.write_str(" WITH (")?;
                    list(f, settings, |f, (k, v, _)| write!(f, "{} = {v}", ident(k)))?;
                    f.write_char(')')?;
                }
                Ok(())
            }
            Statement::Begin => f.write_str("BEGIN"),
            Statement::Commit => f.write_str("COMMIT"),
            Statement::Rollback => f.write_str("ROLLBACK"),
        }
    }
}
