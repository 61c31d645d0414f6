//! `SELECT`: the select list, FROM with its joins and aliases, and the clauses after it.

use super::{is_reserved, Parser};
use crate::ast::{Join, JoinKind, Select, SelectItem, Source, Span, TableRef};
use crate::error::Result;
use crate::lexer::Tok;

/// Words that may follow the select list when there is no FROM.
const AFTER_ITEMS: [&str; 6] = ["from", "where", "group", "having", "order", "limit"];

impl Parser<'_> {
    /// An optional alias: `AS name`, or a bare name that is not a keyword.
    fn alias(&mut self) -> Result<Option<String>> {
        if self.accept_kw("as") {
            return Ok(Some(self.name("an alias")?));
        }
        Ok(match &self.peek().tok {
            Tok::Ident(w) if !is_reserved(w) => Some(self.name("an alias")?),
            Tok::Quoted(_) => Some(self.name("an alias")?),
            _ => None,
        })
    }

    /// `map [AS alias]` or `VOXELS(map) [AS alias]`.
    fn table_ref(&mut self) -> Result<TableRef> {
        let pos = Span(self.pos());
        let source = if self.is_kw("voxels") && *self.peek_at(1) == Tok::Sym("(") {
            self.bump();
            self.bump();
            let m = self.name("a map name")?;
            self.expect_sym(")")?;
            Source::Voxels(m)
        } else {
            Source::Map(self.name("a map name")?)
        };
        Ok(TableRef {
            source,
            alias: self.alias()?,
            pos,
        })
    }

    /// The next join of FROM, if any.
    fn join(&mut self) -> Result<Option<Join>> {
        let kind = if self.accept_sym(",") {
            return Ok(Some(Join {
                kind: JoinKind::Cross,
                table: self.table_ref()?,
                on: None,
            }));
        } else if self.accept_kw("join") {
            JoinKind::Inner
        } else if self.accept_kw("inner") {
            self.expect_kw("join")?;
            JoinKind::Inner
        } else if self.accept_kw("left") {
            self.accept_kw("outer");
            self.expect_kw("join")?;
            JoinKind::Left
        } else if self.accept_kw("cross") {
            self.expect_kw("join")?;
            JoinKind::Cross
        } else {
            return Ok(None);
        };
        let table = self.table_ref()?;
        let on = if kind == JoinKind::Cross {
            None
        } else {
            self.expect_kw("on")?;
            Some(self.expr()?)
        };
        Ok(Some(Join { kind, table, on }))
    }

    fn expr_list(&mut self) -> Result<Vec<crate::ast::Expr>> {
        let mut v = Vec::new();
        loop {
            v.push(self.expr()?);
            if !self.accept_sym(",") {
                return Ok(v);
            }
        }
    }

    pub(super) fn select(&mut self) -> Result<Select> {
        self.expect_kw("select")?;
        let distinct = self.accept_kw("distinct");
        let mut items = Vec::new();
        loop {
            let pos = self.pos();
            if self.accept_sym("*") {
                items.push(SelectItem::Wildcard(Span(pos)));
            } else if matches!(self.peek().tok, Tok::Ident(_) | Tok::Quoted(_))
                && *self.peek_at(1) == Tok::Sym(".")
                && self.star_after_dot()
            {
                let table = self.name("a map name")?;
                self.bump();
                self.bump();
                items.push(SelectItem::TableWildcard(table, Span(pos)));
            } else {
                let e = self.expr()?;
                items.push(SelectItem::Expr(e, self.alias()?));
            }
            if !self.accept_sym(",") {
                break;
            }
        }
        let mut from = None;
        let mut joins = Vec::new();
        if self.accept_kw("from") {
            from = Some(self.table_ref()?);
            while let Some(j) = self.join()? {
                joins.push(j);
            }
        } else if !self.at_eof()
            && self.peek().tok != Tok::Sym(";")
            && !AFTER_ITEMS.iter().any(|k| self.is_kw(k))
        {
            return Err(self.unexpected("FROM"));
        }
        let filter = if self.accept_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.accept_kw("group") {
            self.expect_kw("by")?;
            group_by = self.expr_list()?;
        }
        let having = if self.accept_kw("having") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.accept_kw("order") {
            self.expect_kw("by")?;
            loop {
                let e = self.expr()?;
                let desc = if self.accept_kw("desc") {
                    true
                } else {
                    self.accept_kw("asc");
                    false
                };
                order_by.push((e, desc));
                if !self.accept_sym(",") {
                    break;
                }
            }
        }
        let mut limit = None;
        let mut offset = None;
        if self.accept_kw("limit") {
            limit = Some(self.count("LIMIT")?);
            if self.accept_kw("offset") {
                offset = Some(self.count("OFFSET")?);
            }
        }
        Ok(Select {
            distinct,
            items,
            from,
            joins,
            filter,
            group_by,
            having,
            order_by,
            limit,
            offset,
        })
    }

    /// Whether the tokens are `name . *` (two tokens of look-ahead see `name .`; the star
    /// is checked on a copy of the lexer).
    fn star_after_dot(&self) -> bool {
        let mut l = self.lexer.clone();
        matches!(l.next_token(), Ok(t) if t.tok == Tok::Sym("*"))
    }
}
