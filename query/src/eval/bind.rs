//! Binding names: which map of FROM a column belongs to, and the checks of every column
//! and function of an expression before any row is read (so a mistake is reported even on
//! an empty map).

use crate::ast::{Expr, ExprKind, AGGREGATES};
use crate::error::{Error, ErrorKind, Result};
use crate::func;

use super::Env;

impl Env<'_> {
    /// The index of the map that column `name` (qualified by `table`) belongs to; else the
    /// kind of the mistake (an unknown name, or an ambiguous one) and its message.
    pub fn resolve(
        &self,
        table: Option<&str>,
        name: &str,
    ) -> std::result::Result<usize, (ErrorKind, String)> {
        match table {
            Some(t) => {
                let i = self
                    .tables
                    .iter()
                    .position(|x| x.label == t)
                    .ok_or_else(|| {
                        (
                            ErrorKind::NotFound,
                            format!("no map or alias named '{t}' in FROM"),
                        )
                    })?;
                if self.tables[i].has(name) {
                    Ok(i)
                } else {
                    Err((ErrorKind::NotFound, format!("unknown column '{t}.{name}'")))
                }
            }
            None => {
                let mut found = self
                    .tables
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| !x.qualified_only && x.has(name));
                match (found.next(), found.next()) {
                    (Some((i, _)), None) => Ok(i),
                    (Some((_, a)), Some((_, b))) => Err((
                        ErrorKind::Syntax,
                        format!(
                            "column '{name}' is ambiguous: write {}.{name} or {}.{name}",
                            a.label, b.label
                        ),
                    )),
                    _ => Err((ErrorKind::NotFound, format!("unknown column '{name}'"))),
                }
            }
        }
    }

    /// Whether column `name` (qualified by `table`) is one of the queries around this one
    /// (innermost first, as SQL binds a name to the nearest query that has it).
    pub fn resolves_outside(&self, table: Option<&str>, name: &str) -> bool {
        match table {
            Some(t) => self
                .outer
                .iter()
                .find(|x| x.label == t)
                .is_some_and(|x| x.has(name)),
            None => self.outer.iter().any(|x| x.has(name)),
        }
    }

    /// A column of this query's maps, or else of the queries around it (recorded in
    /// [`Env::free`]: this query is correlated).
    fn check_column(&self, table: Option<&str>, name: &str, pos: crate::error::Pos) -> Result<()> {
        match self.resolve(table, name) {
            Ok(_) => Ok(()),
            Err((ErrorKind::NotFound, _)) if self.resolves_outside(table, name) => {
                let r = (table.map(str::to_string), name.to_string());
                let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
                if !free.contains(&r) {
                    free.push(r);
                }
                Ok(())
            }
            Err((kind, m)) => Err(Error::new(kind, pos, m)),
        }
    }

    /// Checks a subquery's names (with this query's maps around it) and records the outer
    /// columns it reads; those of the queries around this one are this query's too.
    fn check_subquery(&self, e: &Expr, q: &crate::ast::Select) -> Result<()> {
        let Some(runner) = self.runner else {
            return Err(Error::syntax(e.pos, "a subquery is not allowed here"));
        };
        let mut outer = self.tables.clone();
        outer.extend(self.outer.iter().cloned());
        let checked = runner.check(q, &outer)?;
        let one_column = !matches!(e.kind, ExprKind::Exists(_));
        if one_column && checked.names.len() != 1 {
            return Err(Error::syntax(
                e.pos,
                format!(
                    "the subquery returns {} columns; expected 1",
                    checked.names.len()
                ),
            ));
        }
        for (t, c) in &checked.outer {
            if self.resolve(t.as_deref(), c).is_err() {
                self.check_column(t.as_deref(), c, e.pos)?;
            }
        }
        let mut all = self.sub_checked.lock().unwrap_or_else(|p| p.into_inner());
        if !all.iter().any(|(p, _)| *p == e.pos) {
            all.push((e.pos, std::sync::Arc::new(checked)));
        }
        Ok(())
    }

    /// Checks a window function: its name, arguments and window.
    fn check_window(&self, e: &Expr, aliases: &[&str], forbid: Option<&str>) -> Result<()> {
        let ExprKind::Window { func, spec } = &e.kind else {
            return Ok(());
        };
        if let Some(clause) = forbid {
            return Err(Error::syntax(
                e.pos,
                format!("window functions are not allowed in {clause}"),
            ));
        }
        let ExprKind::Call {
            name,
            args,
            star,
            distinct,
        } = &func.kind
        else {
            return Err(Error::syntax(e.pos, "OVER follows a function call"));
        };
        let upper = name.to_ascii_uppercase();
        if *distinct {
            return Err(Error::syntax(
                e.pos,
                format!("{upper}(DISTINCT ...) is not supported as a window function"),
            ));
        }
        let arity: std::ops::RangeInclusive<usize> = match name.as_str() {
            "row_number" | "rank" | "dense_rank" | "percent_rank" | "cume_dist" => 0..=0,
            "ntile" | "first_value" | "last_value" => 1..=1,
            "lag" | "lead" => 1..=3,
            "count" if *star => 0..=0,
            n if AGGREGATES.contains(&n) => 1..=1,
            _ => {
                return Err(Error::syntax(
                    e.pos,
                    format!("{upper} is not a window function (ROW_NUMBER, RANK, DENSE_RANK, PERCENT_RANK, CUME_DIST, NTILE, LAG, LEAD, FIRST_VALUE, LAST_VALUE, COUNT, SUM, AVG, MIN, MAX)"),
                ))
            }
        };
        if *star && name != "count" {
            return Err(Error::syntax(
                e.pos,
                format!("{upper}(*) is not allowed; only COUNT(*)"),
            ));
        }
        if !arity.contains(&args.len()) {
            return Err(Error::syntax(
                e.pos,
                format!(
                    "{upper} takes {} arguments, found {}",
                    func::arity_text(&arity),
                    args.len()
                ),
            ));
        }
        for a in args
            .iter()
            .chain(&spec.partition_by)
            .chain(spec.order_by.iter().map(|(x, _)| x))
        {
            if a.has_window() {
                return Err(Error::syntax(a.pos, "window functions cannot be nested"));
            }
            self.check(a, aliases, None)?;
        }
        Ok(())
    }

    /// Checks every column and function of `e` before any row is read, so that a mistake is
    /// reported even on an empty map. `aliases` may also be used; `forbid` names the clause
    /// (WHERE, GROUP BY, ...) where aggregates, window functions and ATTENTION are not
    /// allowed.
    pub fn check(&self, e: &Expr, aliases: &[&str], forbid: Option<&str>) -> Result<()> {
        match &e.kind {
            ExprKind::Column(c) => {
                if aliases.contains(&c.as_str()) {
                    return Ok(());
                }
                self.check_column(None, c, e.pos)
            }
            ExprKind::QualifiedColumn { table, column } => {
                self.check_column(Some(table), column, e.pos)
            }
            ExprKind::Subquery(q) | ExprKind::Exists(q) => self.check_subquery(e, q),
            ExprKind::InSelect { expr, query, .. } => {
                self.check(expr, aliases, forbid)?;
                self.check_subquery(e, query)
            }
            ExprKind::Window { .. } => self.check_window(e, aliases, forbid),
            ExprKind::Call {
                name,
                args,
                star,
                distinct,
            } => {
                let upper = name.to_ascii_uppercase();
                if crate::ast::WINDOW_FUNCTIONS.contains(&name.as_str()) || name == "last_value" {
                    return Err(Error::syntax(
                        e.pos,
                        format!("{upper} is a window function: it needs OVER (...)"),
                    ));
                }
                if AGGREGATES.contains(&name.as_str()) {
                    if let Some(clause) = forbid {
                        return Err(Error::syntax(
                            e.pos,
                            format!("aggregate {upper} is not allowed in {clause}"),
                        ));
                    }
                    if !*star && args.len() != 1 {
                        return Err(Error::syntax(e.pos, format!("{upper} takes one argument")));
                    }
                } else if *star || *distinct {
                    let what = if *star { "(*)" } else { "(DISTINCT ...)" };
                    return Err(Error::syntax(
                        e.pos,
                        format!("{upper}{what} is not allowed; only aggregates take it"),
                    ));
                } else if let Some(arity) = func::arity(name) {
                    if !arity.contains(&args.len()) {
                        return Err(Error::syntax(
                            e.pos,
                            format!(
                                "{upper} takes {} arguments, found {}",
                                func::arity_text(&arity),
                                args.len()
                            ),
                        ));
                    }
                    if name == "attention" {
                        self.check_attention(e, args, forbid)?;
                    }
                } else {
                    let f = self.functions.get(name).ok_or_else(|| {
                        Error::not_found(e.pos, format!("unknown function '{name}'"))
                    })?;
                    if !f.takes(args.len()) {
                        return Err(Error::syntax(
                            e.pos,
                            format!(
                                "{name} takes {} arguments, found {}",
                                f.arity_text(),
                                args.len()
                            ),
                        ));
                    }
                }
                args.iter().try_for_each(|x| self.check(x, aliases, forbid))
            }
            _ => e
                .children()
                .try_for_each(|x| self.check(x, aliases, forbid)),
        }
    }

    fn check_attention(&self, e: &Expr, args: &[Expr], forbid: Option<&str>) -> Result<()> {
        if let Some(clause) = forbid {
            return Err(Error::syntax(
                e.pos,
                format!("ATTENTION is not allowed in {clause}"),
            ));
        }
        if self.tables.len() != 1 {
            return Err(Error::syntax(
                e.pos,
                "ATTENTION ranks the rows of one map; over a join use COSINE(t.embedding, q)",
            ));
        }
        if args.iter().any(crate::plan::reads_columns) {
            return Err(Error::syntax(
                e.pos,
                "ATTENTION takes a constant query vector, not a column",
            ));
        }
        Ok(())
    }
}

/// Whether `e` has the same value on every row of a statement: it reads no column, no
/// ATTENTION weight, no aggregate, no window, no subquery (it may be correlated) and no
/// unbound parameter.
pub fn is_constant(e: &Expr) -> bool {
    !e.any(&|x| match &x.kind {
        ExprKind::Column(_)
        | ExprKind::QualifiedColumn { .. }
        | ExprKind::Param(_)
        | ExprKind::Subquery(_)
        | ExprKind::Exists(_)
        | ExprKind::InSelect { .. }
        | ExprKind::Window { .. } => true,
        ExprKind::Call { name, .. } => name == "attention" || AGGREGATES.contains(&name.as_str()),
        _ => false,
    })
}
