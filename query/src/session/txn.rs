//! The transaction a statement runs in: BEGIN, COMMIT and ROLLBACK, a write in the open
//! transaction or in one of its own (auto-commit), and reads from the open transaction (its
//! own changes included) or from the latest committed version.

use tensormap_engine::{Database, MapView, WriteTransaction};

use super::Session;
use crate::ast::Select;
use crate::error::{Error, Pos, Result};
use crate::exec::QueryResult;

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

    /// Runs `f` on the maps a query reads (in FROM order), from the open transaction or a
    /// fresh read.
    pub(super) fn read(
        &mut self,
        sel: &Select,
        pos: Pos,
        f: impl FnOnce(&[MapView<'_>], &Select, &Database) -> Result<QueryResult>,
    ) -> Result<QueryResult> {
        let names: Vec<&str> = sel.tables().map(|t| t.source.map()).collect();
        let at: Vec<Pos> = sel.tables().map(|t| t.pos.0).collect();
        // A missing map is reported where it is named.
        let locate = |e: tensormap_engine::Error| {
            let p = match &e {
                tensormap_engine::Error::MapNotFound(m) => {
                    names.iter().position(|n| n == m).map_or(pos, |i| at[i])
                }
                _ => pos,
            };
            Error::engine(p, e)
        };
        let db = self.db.clone();
        match &mut self.txn {
            Some(t) => {
                let views = t.maps(&names).map_err(locate)?;
                f(&views, sel, &db)
            }
            None => {
                let r = db.begin_read().map_err(|e| Error::engine(pos, e))?;
                let views = names
                    .iter()
                    .map(|n| r.map(n))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(locate)?;
                f(&views, sel, &db)
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
