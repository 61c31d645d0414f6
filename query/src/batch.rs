//! Batch functions over the rows of a stage: every call of a function with a batch form
//! (a model's `m_score`, `m_embed`) whose arguments read the rows is evaluated once over
//! all the tuples that passed WHERE — one call of the batch form, so one batched forward
//! pass of the model — before ORDER BY, grouping and projection read the values
//! ([`Env::batched`], by the call's position, indexed by tuple).
//!
//! A SELECT's WHERE conjunct that holds such a call is checked after the joins (the
//! plan's residual filter), with the call evaluated once over all the tuples that reach it.
//! UPDATE runs the batch calls of its SET expressions once over all the rows it updates.
//! Calls with constant arguments are not batched: they are computed once per statement
//! ([`Env::memo`]). In UPDATE's and DELETE's WHERE a batch call is evaluated row by row (a
//! batch of one).

use tensormap_engine::Value;

use crate::ast::{Expr, ExprKind, AGGREGATES};
use crate::error::{Error, Result};
use crate::eval::{is_constant, Env, Scope, Tuples};
use crate::func;

/// Computes every batch call of `exprs` over `tuples` into `env.batched`, inner calls
/// before the calls whose arguments hold them.
pub fn compute(env: &mut Env<'_>, exprs: &[&Expr], tuples: &Tuples<'_>) -> Result<()> {
    let mut calls = Vec::new();
    for e in exprs {
        collect(env, e, &mut calls);
    }
    for call in calls {
        if env.batched.iter().any(|(p, _)| *p == call.pos) {
            continue;
        }
        let ExprKind::Call { name, args, .. } = &call.kind else {
            continue;
        };
        let Some(f) = env.functions.get(name) else {
            continue;
        };
        let Some(batch) = f.batch.clone() else {
            continue;
        };
        if !f.takes(args.len()) {
            // Reported where it is evaluated (and by the checks before).
            continue;
        }
        let mut rows = Vec::with_capacity(tuples.len);
        for i in 0..tuples.len {
            let scope = Scope::Row(tuples.get(i), i);
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(env.eval(a, scope)?);
            }
            rows.push(vals);
        }
        let values: Vec<Value> = if rows.is_empty() {
            Vec::new()
        } else {
            batch(&rows, &env.context).map_err(|e| Error::call(call.pos, Some(name), e))?
        };
        if values.len() != rows.len() {
            return Err(Error::internal(
                call.pos,
                format!(
                    "{name}: returned {} values for {} rows",
                    values.len(),
                    rows.len()
                ),
            ));
        }
        env.batched.push((call.pos, values));
    }
    Ok(())
}

/// Whether `e` holds a batch call that reads the rows.
pub fn reads_rows(env: &Env<'_>, e: &Expr) -> bool {
    let mut calls = Vec::new();
    collect(env, e, &mut calls);
    !calls.is_empty()
}

/// The batch calls of `e` that read the rows, in post-order.
fn collect<'q>(env: &Env<'_>, e: &'q Expr, out: &mut Vec<&'q Expr>) {
    for c in e.children() {
        collect(env, c, out);
    }
    if let ExprKind::Call { name, args, .. } = &e.kind {
        if func::arity(name).is_none()
            && !AGGREGATES.contains(&name.as_str())
            && !args.iter().all(is_constant)
            && env.functions.get(name).is_some_and(|f| f.batch.is_some())
        {
            out.push(e);
        }
    }
}
