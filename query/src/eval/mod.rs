//! Expression evaluation over one row of the FROM maps (a tuple: one row per map), or one
//! group of tuples for aggregates, with SQL's NULL logic.
//!
//! - `row.rs`: the rows expressions read (objects, voxels, tuples of them) and their columns.
//! - `bind.rs`: names to the maps of FROM, checked by [`Env::check`] before a row is read, so
//!   evaluation only meets the errors that depend on values (types, division by zero).
//! - `expr.rs`: evaluation of one expression on a tuple ([`Env::eval`]), with calls of
//!   built-in, user and batch functions.
//! - `aggregate.rs`: COUNT, SUM, AVG, MIN and MAX over a group.
//! - `logic.rs`: SQL's three-valued logic, comparison and the argument conversions.

mod aggregate;
mod bind;
mod expr;
mod logic;
mod row;

use tensormap_engine::{CallContext, Registry, Value};

use crate::error::Pos;

pub use bind::is_constant;
pub use logic::{and3, as_number, as_vector, compare, or3, truth};
pub use row::{
    Row, TableInfo, TableKind, Tuples, OBJECT_COLUMNS, OBJECT_STAR, VOXEL_COLUMNS, VOXEL_STAR,
};

/// What an evaluation sees besides the row.
#[derive(Debug)]
pub struct Env<'a> {
    /// User functions.
    pub functions: &'a Registry,
    /// The maps of FROM, in order.
    pub tables: Vec<TableInfo>,
    /// Attention weights by the printed query argument, indexed by tuple.
    pub attention: Vec<(String, Vec<f32>)>,
    /// Values of batch-function calls computed over all tuples of a stage at once
    /// (`exec::batch`), by the call's position, indexed by tuple.
    pub batched: Vec<(Pos, Vec<Value>)>,
    /// Values of batch-function calls with constant arguments, by the call's position:
    /// computed once per statement (an `m_embed('red cube')` in a per-row expression).
    pub memo: std::sync::Mutex<Vec<(Pos, Value)>>,
    /// What batch functions are told of the statement (the map's bounds).
    pub context: CallContext,
}

/// Where an expression is evaluated.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'r, 'a> {
    /// On one tuple, `.1` its index among the tuples that passed WHERE.
    Row(&'r [Row<'a>], usize),
    /// On a group of tuples: aggregates fold over them, anything else reads the first.
    Group(&'r Tuples<'a>, &'r [u32]),
}

impl<'r, 'a> Scope<'r, 'a> {
    /// The tuple columns are read from (none for an empty group) and its index.
    pub(super) fn tuple(&self) -> Option<(&'r [Row<'a>], usize)> {
        match *self {
            Scope::Row(t, n) => Some((t, n)),
            Scope::Group(all, members) => {
                members.first().map(|&m| (all.get(m as usize), m as usize))
            }
        }
    }
}

impl Env<'_> {
    /// An environment for expressions over `tables`.
    pub fn new(functions: &Registry, tables: Vec<TableInfo>) -> Env<'_> {
        Env {
            functions,
            tables,
            attention: Vec::new(),
            batched: Vec::new(),
            memo: std::sync::Mutex::new(Vec::new()),
            context: CallContext::default(),
        }
    }
}
