//! Aggregates over a group of tuples: COUNT (also `COUNT(*)` and `COUNT(DISTINCT e)`),
//! SUM, AVG, MIN and MAX, with SQL's rules for NULL (skipped; SUM and AVG over no rows are
//! NULL).

use std::cmp::Ordering;

use tensormap_engine::Value;

use crate::ast::Expr;
use crate::error::{Error, Result};

use super::logic::as_number;
use super::{Env, Scope, Tuples};

impl Env<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn aggregate(
        &self,
        e: &Expr,
        name: &str,
        args: &[Expr],
        star: bool,
        distinct: bool,
        all: &Tuples<'_>,
        members: &[u32],
    ) -> Result<Value> {
        let upper = name.to_ascii_uppercase();
        if star {
            return if name == "count" {
                Ok(Value::Number(members.len() as f64))
            } else {
                Err(Error::syntax(
                    e.pos,
                    format!("{upper}(*) is not allowed; only COUNT(*)"),
                ))
            };
        }
        let [arg] = args else {
            return Err(Error::syntax(e.pos, format!("{upper} takes one argument")));
        };
        if arg.has_aggregate() {
            return Err(Error::syntax(arg.pos, "aggregates cannot be nested"));
        }
        let mut vals = Vec::with_capacity(members.len());
        for &m in members {
            let v = self.eval(arg, Scope::Row(all.get(m as usize), m as usize))?;
            if v != Value::Null {
                vals.push(v);
            }
        }
        if distinct {
            vals.sort_by(|a, b| a.total_cmp(b));
            vals.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
        }
        match name {
            "count" => Ok(Value::Number(vals.len() as f64)),
            "min" | "max" => {
                let pick = vals.into_iter().reduce(|a, b| {
                    let o = a.total_cmp(&b);
                    if (name == "min") == (o == Ordering::Greater) {
                        b
                    } else {
                        a
                    }
                });
                Ok(pick.unwrap_or(Value::Null))
            }
            _ => {
                let mut sum = 0.0;
                for v in &vals {
                    sum += as_number(v, arg.pos, &upper)?;
                }
                // Over no rows SUM and AVG are NULL, as in SQL.
                Ok(match (name, vals.len()) {
                    (_, 0) => Value::Null,
                    ("sum", _) => Value::Number(sum),
                    _ => Value::Number(sum / vals.len() as f64),
                })
            }
        }
    }
}
