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
                if self.tables[i].kind.columns().contains(&name) {
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
                    .filter(|(_, x)| x.kind.columns().contains(&name));
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

    /// Checks every column and function of `e` before any row is read, so that a mistake is
    /// reported even on an empty map. `aliases` may also be used; `forbid` names the clause
    /// (WHERE, GROUP BY, ...) where aggregates and ATTENTION are not allowed.
    pub fn check(&self, e: &Expr, aliases: &[&str], forbid: Option<&str>) -> Result<()> {
        match &e.kind {
            ExprKind::Column(c) => {
                if aliases.contains(&c.as_str()) {
                    return Ok(());
                }
                self.resolve(None, c)
                    .map(|_| ())
                    .map_err(|(kind, m)| Error::new(kind, e.pos, m))
            }
            ExprKind::QualifiedColumn { table, column } => self
                .resolve(Some(table), column)
                .map(|_| ())
                .map_err(|(kind, m)| Error::new(kind, e.pos, m)),
            ExprKind::Call {
                name,
                args,
                star,
                distinct,
            } => {
                let upper = name.to_ascii_uppercase();
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
                .into_iter()
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
/// ATTENTION weight, no aggregate and no unbound parameter.
pub fn is_constant(e: &Expr) -> bool {
    !e.any(&|x| match &x.kind {
        ExprKind::Column(_) | ExprKind::QualifiedColumn { .. } | ExprKind::Param(_) => true,
        ExprKind::Call { name, .. } => name == "attention" || AGGREGATES.contains(&name.as_str()),
        _ => false,
    })
}
