//! The transaction a statement runs in: BEGIN, COMMIT and ROLLBACK, a write in the open
//! transaction or in one of its own (auto-commit), and reads from the open transaction (its
//! own changes included) or from the latest committed version.

use tensormap_engine::{MapView, Registry, WriteTransaction};

use super::Session;
use crate::ast::Select;
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;
use crate::run::Ctx;

impl Session {
    /// `BEGIN`: opens the write transaction the next statements run in.
    pub(super) fn begin(&mut self, pos: Pos) -> Result<QueryResult> {
        if self.txn.is_some() {
            return Err(Error::conflict(pos, "a transaction is already open"));
        }
        self.txn = Some(self.db.begin_write().map_err(|e| Error::engine(pos, e))?);
        Ok(QueryResult::status("BEGIN"))
    }

    /// `COMMIT`: durable when it returns.
    pub(super) fn commit(&mut self, pos: Pos) -> Result<QueryResult> {
        match self.txn.take() {
            Some(t) => {
                let r = t.commit().map_err(|e| Error::engine(pos, e));
                self.sync_models();
                r?;
                Ok(QueryResult::status("COMMIT"))
            }
            None => Err(Error::conflict(pos, "no transaction is open")),
        }
    }

    /// `ROLLBACK`.
    pub(super) fn rollback(&mut self, pos: Pos) -> Result<QueryResult> {
        match self.txn.take() {
            Some(t) => {
                t.abort();
                self.sync_models();
                Ok(QueryResult::status("ROLLBACK"))
            }
            None => Err(Error::conflict(pos, "no transaction is open")),
        }
    }

    /// Runs a write in the open transaction, or in its own committed one.
    pub(crate) fn write(
        &mut self,
        pos: Pos,
        f: impl FnOnce(&mut WriteTransaction) -> Result<QueryResult>,
    ) -> Result<QueryResult> {
        match &mut self.txn {
            Some(t) => f(t),
            None => {
                let mut t = self.db.begin_write().map_err(|e| Error::engine(pos, e))?;
                let r = f(&mut t)?;
                // A write past a limit rolls back (`t` is dropped uncommitted).
                crate::limits::check()?;
                t.commit().map_err(|e| Error::engine(pos, e))?;
                Ok(r)
            }
        }
    }

    /// Runs `f` on the maps a query reads (anywhere in it: FROM, WITH, subqueries), from
    /// the open transaction or a fresh read. A name that is no map is left to the query
    /// (it may be a WITH query's; if not, the query reports it where it is named).
    pub(super) fn read(
        &mut self,
        sel: &Select,
        pos: Pos,
        f: impl FnOnce(&Ctx<'_, '_>, &Select) -> Result<QueryResult>,
    ) -> Result<QueryResult> {
        let db = self.db.clone();
        let r = match &mut self.txn {
            Some(t) => read_in(t, db.functions(), sel, pos, f),
            None => {
                let (named, ctes) = names_of(sel);
                let r = db.begin_read().map_err(|e| Error::engine(pos, e))?;
                let mut maps = Vec::with_capacity(named.len());
                for (n, at) in named {
                    match r.map(&n) {
                        Ok(v) => maps.push((n, v)),
                        Err(e) => missing(&ctes, at, e)?,
                    }
                }
                f(&Ctx::new(&maps, db.functions()), sel)
            }
        }?;
        // A query that ends past a limit between two checks is still past it.
        crate::limits::check()?;
        Ok(r)
    }

    pub(super) fn read_map<T>(
        &mut self,
        name: &str,
        pos: Pos,
        f: impl FnOnce(&MapView<'_>) -> Result<T>,
    ) -> Result<T> {
        match &mut self.txn {
            Some(t) => f(&t.map(name).map_err(|e| Error::engine(pos, e))?),
            None => {
                let r = self.db.begin_read().map_err(|e| Error::engine(pos, e))?;
                f(&r.map(name).map_err(|e| Error::engine(pos, e))?)
            }
        }
    }
}

/// The maps a query names (with where) and the names of its WITH queries.
fn names_of(sel: &Select) -> (Vec<(String, Pos)>, Vec<String>) {
    let mut named = Vec::new();
    crate::run::map_names(sel, &mut named);
    let mut ctes = Vec::new();
    crate::run::cte_names(sel, &mut ctes);
    (named, ctes)
}

/// A map that cannot be opened: fine if the name is a WITH query's (the query tells them
/// apart), else the error where the map is named.
fn missing(ctes: &[String], at: Pos, e: tensormap_engine::Error) -> Result<()> {
    match &e {
        tensormap_engine::Error::MapNotFound(n) if ctes.contains(n) => Ok(()),
        _ => Err(Error::engine(at, e)),
    }
}

/// Runs `f` on the maps `sel` reads as the write transaction `t` sees them (its own
/// changes included).
pub(super) fn read_in(
    t: &mut WriteTransaction,
    functions: &Registry,
    sel: &Select,
    pos: Pos,
    f: impl FnOnce(&Ctx<'_, '_>, &Select) -> Result<QueryResult>,
) -> Result<QueryResult> {
    let (named, ctes) = names_of(sel);
    let mut names = Vec::with_capacity(named.len());
    for (n, at) in &named {
        let found = t.map(n).map(|_| ());
        match found {
            Ok(()) => names.push(n.as_str()),
            Err(e) => missing(&ctes, *at, e)?,
        }
    }
    let views = t.maps(&names).map_err(|e| Error::engine(pos, e))?;
    let maps: Vec<(String, MapView<'_>)> = names.iter().map(|n| n.to_string()).zip(views).collect();
    f(&Ctx::new(&maps, functions), sel)
}
