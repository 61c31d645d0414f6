//! Queries: `WITH`, the select list, FROM with its joins, aliases and subqueries, the
//! clauses after it, compound operators (UNION, INTERSECT, EXCEPT), and ORDER BY / LIMIT.

use super::{is_reserved, Parser, MAX_DEPTH};
use crate::ast::{Cte, Join, JoinKind, Select, SelectItem, SetOp, Source, Span, TableRef};
use crate::error::{Error, Result};
use crate::lexer::Tok;

/// Words that may follow the select list when there is no FROM.
const AFTER_ITEMS: [&str; 9] = [
    "from",
    "where",
    "group",
    "having",
    "order",
    "limit",
    "union",
    "intersect",
    "except",
];

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

    /// Whether a query starts here (`SELECT` or `WITH`).
    pub(super) fn at_query(&self) -> bool {
        self.is_kw("select") || self.is_kw("with")
    }

    /// `map [AS alias]`, `VOXELS(map) [AS alias]` or `(SELECT ...) [AS alias]`.
    fn table_ref(&mut self) -> Result<TableRef> {
        let pos = Span(self.pos());
        let source = if self.peek().tok == Tok::Sym("(") {
            self.bump();
            if !self.at_query() {
                return Err(self.unexpected("SELECT"));
            }
            let q = self.query()?;
            self.expect_sym(")")?;
            Source::Subquery(Box::new(q))
        } else if self.is_kw("voxels") && *self.peek_at(1) == Tok::Sym("(") {
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

    /// A whole query: `[WITH ...] core [op core]... [ORDER BY ...] [LIMIT n [OFFSET m]]`.
    pub(super) fn query(&mut self) -> Result<Select> {
        self.queries += 1;
        if self.queries > MAX_DEPTH {
            return Err(Error::limit(
                self.pos(),
                format!("queries nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let q = self.query_inner();
        self.queries -= 1;
        q
    }

    fn query_inner(&mut self) -> Result<Select> {
        let mut with = Vec::new();
        if self.accept_kw("with") {
            if self.is_kw("recursive") {
                return Err(Error::syntax(
                    self.pos(),
                    "WITH RECURSIVE is not supported; only plain WITH",
                ));
            }
            loop {
                let pos = Span(self.pos());
                let name = self.name("a name for the WITH query")?;
                let mut columns = Vec::new();
                if self.accept_sym("(") {
                    loop {
                        columns.push(self.name("a column name")?);
                        if !self.accept_sym(",") {
                            break;
                        }
                    }
                    self.expect_sym(")")?;
                }
                self.expect_kw("as")?;
                self.expect_sym("(")?;
                let query = self.query()?;
                self.expect_sym(")")?;
                with.push(Cte {
                    name,
                    columns,
                    query,
                    pos,
                });
                if !self.accept_sym(",") {
                    break;
                }
            }
        }
        let mut sel = self.select_core()?;
        sel.with = with;
        loop {
            let op = if self.accept_kw("union") {
                if self.accept_kw("all") {
                    SetOp::UnionAll
                } else {
                    SetOp::Union
                }
            } else if self.accept_kw("intersect") {
                SetOp::Intersect
            } else if self.accept_kw("except") {
                SetOp::Except
            } else {
                break;
            };
            let operand = self.select_core()?;
            sel.compound.push((op, operand));
        }
        if self.accept_kw("order") {
            self.expect_kw("by")?;
            sel.order_by = self.order_list()?;
        }
        if self.accept_kw("limit") {
            sel.limit = Some(self.count("LIMIT")?);
            if self.accept_kw("offset") {
                sel.offset = Some(self.count("OFFSET")?);
            }
        }
        Ok(sel)
    }

    /// `e [ASC | DESC], ...`
    pub(super) fn order_list(&mut self) -> Result<Vec<(crate::ast::Expr, bool)>> {
        let mut order_by = Vec::new();
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
                return Ok(order_by);
            }
        }
    }

    /// `SELECT [DISTINCT] ... [FROM ...] [WHERE] [GROUP BY] [HAVING]`: one operand.
    fn select_core(&mut self) -> Result<Select> {
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
        Ok(Select {
            distinct,
            items,
            from,
            joins,
            filter,
            group_by,
            having,
            ..Select::default()
        })
    }

    /// Whether the tokens are `name . *` (two tokens of look-ahead see `name .`; the star
    /// is checked on a copy of the lexer).
    fn star_after_dot(&self) -> bool {
        let mut l = self.lexer.clone();
        matches!(l.next_token(), Ok(t) if t.tok == Tok::Sym("*"))
    }
}
