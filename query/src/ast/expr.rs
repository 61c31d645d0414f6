//! Expressions: literals, columns, operators, CASE, CAST and calls.

use std::sync::Arc;

use crate::error::Pos;

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
