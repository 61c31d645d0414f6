//! The transaction a statement runs in: BEGIN, COMMIT and ROLLBACK, a write in the open
//! transaction or in one of its own (auto-commit), and reads from the open transaction (its
//! own changes included) or from the latest committed version.

use tensormap_engine::{MapView, WriteTransaction};

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
        let mut named = Vec::new();
        crate::run::map_names(sel, &mut named);
        let mut ctes = Vec::new();
        crate::run::cte_names(sel, &mut ctes);
        let db = self.db.clone();
        let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        let open = |n: &str, e: tensormap_engine::Error| -> Result<()> {
            match e {
                tensormap_engine::Error::MapNotFound(_) if ctes.iter().any(|c| c == n) => Ok(()),
                e => {
                    let at = named.iter().find(|(m, _)| m == n).map_or(pos, |(_, p)| *p);
                    Err(Error::engine(at, e))
                }
            }
        };
        match &mut self.txn {
            Some(t) => {
                let mut maps = Vec::with_capacity(names.len());
                for n in &names {
                    let found = t.map(n).map(|_| ());
                    match found {
                        Ok(()) => maps.push(*n),
                        Err(e) => open(n, e)?,
                    }
                }
                let views = t.maps(&maps).map_err(|e| Error::engine(pos, e))?;
                let maps: Vec<(String, MapView<'_>)> =
                    maps.iter().map(|n| n.to_string()).zip(views).collect();
                f(&Ctx::new(&maps, db.functions()), sel)
            }
            None => {
                let r = db.begin_read().map_err(|e| Error::engine(pos, e))?;
                let mut maps = Vec::with_capacity(names.len());
                for n in &names {
                    match r.map(n) {
                        Ok(v) => maps.push((n.to_string(), v)),
                        Err(e) => open(n, e)?,
                    }
                }
                f(&Ctx::new(&maps, db.functions()), sel)
            }
        }
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
