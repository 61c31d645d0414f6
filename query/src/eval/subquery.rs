//! Subqueries in expressions: `(SELECT ...)` (the first column of the first row),
//! `EXISTS (SELECT ...)` and `e IN (SELECT ...)`.
//!
//! A subquery runs through the statement's runner ([`Env::runner`]) with the values of the
//! outer columns it reads (found when its names were checked). Its result is kept by the
//! subquery's position and those values: an uncorrelated subquery runs once per statement,
//! a correlated one once per distinct set of outer values (at most [`CACHED_RESULTS`] are
//! kept at a time).

use std::collections::HashSet;
use std::sync::Arc;

use tensormap_engine::Value;

use crate::ast::{Expr, Select};
use crate::error::{Error, Result};

use super::{Checked, Env, Key, Scope};

/// How many subquery results an evaluation keeps (the cache starts over when full).
const CACHED_RESULTS: usize = 4096;

/// A subquery's rows, with its first column as a set for `IN`.
#[derive(Debug, Default)]
pub struct SubResult {
    /// Its rows.
    pub rows: Vec<Vec<Value>>,
    /// The keys of the first column's non-NULL values.
    set: HashSet<Key>,
    /// Whether the first column holds a NULL.
    has_null: bool,
}

impl SubResult {
    fn new(rows: Vec<Vec<Value>>) -> Self {
        let mut set = HashSet::with_capacity(rows.len());
        let mut has_null = false;
        for r in &rows {
            match r.first() {
                Some(Value::Null) => has_null = true,
                Some(v) => {
                    set.insert(Key::of(v));
                }
                None => {}
            }
        }
        SubResult {
            rows,
            set,
            has_null,
        }
    }

    /// The value of a scalar subquery: its first row's first column, NULL without rows
    /// (SQLite's rule: later rows are ignored).
    pub fn scalar(&self) -> Value {
        self.rows
            .first()
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// `v IN (rows)` in SQL's logic: true if some row equals it; else NULL if `v` or some
    /// row is NULL; else false.
    pub fn contains(&self, v: &Value) -> Option<bool> {
        if self.rows.is_empty() {
            return Some(false);
        }
        if *v == Value::Null {
            return None;
        }
        if self.set.contains(&Key::of(v)) {
            Some(true)
        } else if self.has_null {
            None
        } else {
            Some(false)
        }
    }
}

impl Env<'_> {
    /// The result of subquery `q` (the expression `e`) for the row of `scope`.
    pub(super) fn subquery(
        &self,
        e: &Expr,
        q: &Select,
        scope: Scope<'_, '_>,
    ) -> Result<Arc<SubResult>> {
        let Some(runner) = self.runner else {
            return Err(Error::syntax(e.pos, "a subquery is not allowed here"));
        };
        let mut outer = self.tables.clone();
        outer.extend(self.outer.iter().cloned());
        let known = self
            .sub_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(p, _)| *p == e.pos)
            .map(|(_, c)| c.clone());
        let checked: Arc<Checked> = match known {
            Some(c) => c,
            None => {
                let c = Arc::new(runner.check(q, &outer)?);
                self.sub_checked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((e.pos, c.clone()));
                c
            }
        };
        let mut values = Vec::with_capacity(checked.outer.len());
        for (t, c) in &checked.outer {
            let v = self.column(scope, t.as_deref(), c, e.pos)?;
            values.push(((t.clone(), c.clone()), v));
        }
        let key = (
            e.pos,
            values.iter().map(|(_, v)| Key::of(v)).collect::<Vec<_>>(),
        );
        if let Some(r) = self
            .sub_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(r.clone());
        }
        let result = Arc::new(SubResult::new(runner.run(q, &outer, &values)?.rows));
        let mut cache = self.sub_cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_RESULTS {
            cache.clear();
        }
        cache.insert(key, result.clone());
        Ok(result)
    }
}
