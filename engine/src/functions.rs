//! User-defined scalar functions: registered on a `Database` by the embedding program (or by
//! a loaded model), callable by name from TensorQL.
//!
//! A function may also have a *batch* form ([`Registry::register_batch`]): it takes the
//! arguments of many rows at once and returns one value per row, in order. The executor
//! calls it once over all the rows of a stage (a model's `m_score` runs one batched forward
//! pass, not one per row). A batch function is pure — the same arguments give the same
//! value — so a call whose arguments are constants is computed once per statement.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::{CallError, ErrorKind, Value};

/// A scalar function: its arguments in, a value or an error (with its kind) out.
pub type ScalarFn = Arc<dyn Fn(&[Value]) -> Result<Value, CallError> + Send + Sync>;

/// A batch function: the arguments of each row in, one value per row out (in row order),
/// or an error (with its kind).
pub type BatchFn =
    Arc<dyn Fn(&[Vec<Value>], &CallContext) -> Result<Vec<Value>, CallError> + Send + Sync>;

/// What a batch function may know of the statement that calls it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CallContext {
    /// The `bounds` of the (first) map the statement reads, if it reads one: a model
    /// scales world positions by it.
    pub bounds: Option<f64>,
}

/// A registered function and the number of arguments it takes.
#[derive(Clone)]
pub struct Function {
    /// The fewest arguments it takes.
    pub arity: usize,
    /// The most arguments it takes (`arity` unless it has optional ones).
    pub max_arity: usize,
    /// The function on one row.
    pub f: ScalarFn,
    /// Its batch form, if it has one (then it is pure: see the module header).
    pub batch: Option<BatchFn>,
}

impl Function {
    /// Whether it takes `n` arguments.
    pub fn takes(&self, n: usize) -> bool {
        (self.arity..=self.max_arity).contains(&n)
    }

    /// `2`, or `2 to 5`: the argument counts it takes, for messages.
    pub fn arity_text(&self) -> String {
        if self.arity == self.max_arity {
            self.arity.to_string()
        } else {
            format!("{} to {}", self.arity, self.max_arity)
        }
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Function({} arguments{})",
            self.arity_text(),
            if self.batch.is_some() { ", batch" } else { "" }
        )
    }
}

/// Functions by lower-case name.
#[derive(Debug, Default)]
pub struct Registry {
    functions: RwLock<HashMap<String, Function>>,
}

impl Registry {
    /// Adds or replaces `name` (case-insensitive).
    pub fn register(&self, name: &str, arity: usize, f: ScalarFn) {
        self.functions.write().insert(
            name.to_ascii_lowercase(),
            Function {
                arity,
                max_arity: arity,
                f,
                batch: None,
            },
        );
    }

    /// Adds or replaces `name` (case-insensitive) as a pure batch function taking
    /// `min..=max` arguments; a call on one row runs it on a batch of one.
    pub fn register_batch(&self, name: &str, min: usize, max: usize, batch: BatchFn) {
        let one = batch.clone();
        let f: ScalarFn = Arc::new(move |args: &[Value]| {
            let mut out = one(&[args.to_vec()], &CallContext::default())?;
            out.pop().ok_or_else(|| {
                CallError::new(ErrorKind::Internal, "the batch function returned no value")
            })
        });
        self.functions.write().insert(
            name.to_ascii_lowercase(),
            Function {
                arity: min,
                max_arity: max.max(min),
                f,
                batch: Some(batch),
            },
        );
    }

    /// The names of every registered function (lower-case), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.functions.read().keys().cloned().collect();
        v.sort_unstable();
        v
    }

    /// The function `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<Function> {
        self.functions
            .read()
            .get(&name.to_ascii_lowercase())
            .cloned()
    }

    /// Removes `name`; true if it was registered.
    pub fn remove(&self, name: &str) -> bool {
        self.functions
            .write()
            .remove(&name.to_ascii_lowercase())
            .is_some()
    }
}
