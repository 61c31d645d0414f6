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
//! - `subquery.rs`: scalar, EXISTS and IN subqueries, correlated ones by the values of the
//!   outer columns they read (each distinct set of values run once).
//! - `key.rs`: values as hash keys.

mod aggregate;
mod bind;
mod expr;
mod key;
mod logic;
mod row;
mod subquery;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tensormap_engine::{CallContext, Registry, Value};

use crate::ast::Select;
use crate::error::{Pos, Result};
use crate::exec::QueryResult;

pub use bind::is_constant;
pub use key::Key;
pub use logic::{and3, as_number, as_vector, compare, or3, truth};
pub use row::{
    Relation, Row, TableInfo, TableKind, Tuples, OBJECT_COLUMNS, OBJECT_STAR, VOXEL_COLUMNS,
    VOXEL_STAR,
};
pub use subquery::SubResult;

/// Subquery results by the subquery's position and the values of the outer columns it reads.
pub type SubCache = HashMap<(Pos, Vec<Key>), Arc<SubResult>>;

/// A column as written: its qualifier (a map's name or alias), if any, and its name.
pub type ColRef = (Option<String>, String);

/// What a subquery found when its names were checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The columns of the queries around it that it reads (it is correlated if any).
    pub outer: Vec<ColRef>,
    /// Its column names.
    pub names: Vec<String>,
}

/// What runs the queries inside an expression (subqueries): the statement's maps and
/// WITH queries (`crate::run`).
pub trait Subqueries: std::fmt::Debug {
    /// Checks the names of `q`, inside queries whose maps are `outer` (innermost first).
    fn check(&self, q: &Select, outer: &[TableInfo]) -> Result<Checked>;
    /// Runs `q` inside queries whose maps are `outer`, with `values` for the outer columns
    /// it reads.
    fn run(
        &self,
        q: &Select,
        outer: &[TableInfo],
        values: &[(ColRef, Value)],
    ) -> Result<QueryResult>;
}

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
    /// The maps of the queries around this one, innermost first: a subquery may read
    /// their columns (a correlated subquery).
    pub outer: Vec<TableInfo>,
    /// The values of the outer columns this query reads, for the outer row it runs for.
    pub outer_values: Vec<(ColRef, Value)>,
    /// The outer columns [`Env::check`] found this query reading.
    pub free: Mutex<Vec<ColRef>>,
    /// What runs subqueries (none: subqueries are an error).
    pub runner: Option<&'a dyn Subqueries>,
    /// The outer columns each subquery reads, by the subquery's position.
    pub sub_checked: Mutex<Vec<(Pos, Arc<Checked>)>>,
    /// Subquery results by position and the values of the outer columns they read.
    pub sub_cache: Mutex<SubCache>,
    /// Window function values by the call's position, indexed by tuple (`window.rs`).
    pub windows: Vec<(Pos, Vec<Value>)>,
    /// What EXPLAIN ANALYZE measures of this query, when it asks.
    pub profile: Option<crate::exec::Profile>,
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
            outer: Vec::new(),
            outer_values: Vec::new(),
            free: Mutex::new(Vec::new()),
            runner: None,
            sub_checked: Mutex::new(Vec::new()),
            sub_cache: Mutex::new(HashMap::new()),
            windows: Vec::new(),
            profile: None,
        }
    }
}
