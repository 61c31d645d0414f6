//! The TensorQL syntax tree: its types (`statement.rs`, `select.rs`, `expr.rs`), their
//! traversal (`visit.rs`) and their printing back as TensorQL (`display.rs`).
//!
//! Printing is canonical (keywords upper-case, binary operations parenthesized), so
//! `parse(print(ast))` gives back `ast` (positions aside): tested in the parser's tests and
//! the parser's fuzz target.

mod display;
mod expr;
mod select;
mod statement;
mod visit;

pub use display::ident;
pub use expr::{
    BinOp, CastType, Expr, ExprKind, Frame, FrameBound, WindowSpec, AGGREGATES, WINDOW_FUNCTIONS,
};
pub use select::{Cte, Join, JoinKind, Select, SelectItem, SetOp, Source, TableRef};
pub use statement::{
    Access, AlterColumn, Ask, ColumnSpec, CopyDirection, ModelStatement, OnConflict, Statement,
};
pub use visit::Children;

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
