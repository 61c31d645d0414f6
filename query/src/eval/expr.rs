//! Evaluating one expression on a tuple (or a group): operators, CASE, CAST, ATTENTION's
//! precomputed weights, and calls of built-in, user and batch functions.

use std::cmp::Ordering;
use std::sync::Arc;

use tensormap_engine::{widen_f32, Value};

use crate::ast::{BinOp, Expr, ExprKind, AGGREGATES};
use crate::error::{CallError, Error, ErrorKind, Pos, Result};
use crate::func;

use super::logic::{and3, as_number, bool_or_null, compare, or3, truth};
use super::{is_constant, Env, Scope};

impl Env<'_> {
    pub(super) fn column(
        &self,
        scope: Scope<'_, '_>,
        table: Option<&str>,
        name: &str,
        pos: Pos,
    ) -> Result<Value> {
        let one = self.tables.len() == 1 && table.is_none() && self.tables[0].has(name);
        let i = if one {
            0
        } else {
            match self.resolve(table, name) {
                Ok(i) => i,
                Err((kind, m)) => {
                    // A column of a query around this one: its value for the outer row.
                    let found = self
                        .outer_values
                        .iter()
                        .find(|((t, c), _)| c == name && t.as_deref() == table);
                    return match found {
                        Some((_, v)) => Ok(v.clone()),
                        None => Err(Error::new(kind, pos, m)),
                    };
                }
            }
        };
        let Some((tuple, _)) = scope.tuple() else {
            return Ok(Value::Null);
        };
        Ok(tuple.get(i).map_or(Value::Null, |r| r.column(name)))
    }

    /// Evaluates `e` in `scope`.
    pub fn eval(&self, e: &Expr, scope: Scope<'_, '_>) -> Result<Value> {
        crate::limits::tick()?;
        match &e.kind {
            ExprKind::Number(n) => Ok(Value::Number(*n)),
            ExprKind::Str(s) => Ok(Value::text(s)),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Null => Ok(Value::Null),
            ExprKind::Param(i) => Err(Error::invalid(
                e.pos,
                format!("parameter {} has no value", i + 1),
            )),
            ExprKind::Numbers(v) => Ok(Value::Vector(v.clone())),
            ExprKind::Vector(items) => {
                let mut v = Vec::with_capacity(items.len());
                for item in items {
                    let x = as_number(&self.eval(item, scope)?, item.pos, "a vector element")?;
                    v.push(x as f32);
                }
                Ok(Value::Vector(Arc::from(v)))
            }
            ExprKind::Column(name) => self.column(scope, None, name, e.pos),
            ExprKind::QualifiedColumn { table, column } => {
                self.column(scope, Some(table), column, e.pos)
            }
            ExprKind::Neg(x) => match self.eval(x, scope)? {
                Value::Number(n) => Ok(Value::Number(-n)),
                Value::Vector(v) => Ok(Value::Vector(v.iter().map(|a| -a).collect())),
                Value::Null => Ok(Value::Null),
                other => Err(Error::invalid(
                    e.pos,
                    format!("- expects a number, found a {}", other.type_name()),
                )),
            },
            ExprKind::Not(x) => {
                let v = truth(&self.eval(x, scope)?, e.pos, "NOT")?;
                Ok(bool_or_null(v.map(|b| !b)))
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, scope),
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                let v = self.eval(expr, scope)?;
                // SQL: true if some item equals; else NULL if v or some item is NULL.
                let mut result = Some(false);
                for item in list {
                    let w = self.eval(item, scope)?;
                    match compare(&v, &w, item.pos)? {
                        Some(Ordering::Equal) => {
                            result = Some(true);
                            break;
                        }
                        None => result = None,
                        Some(_) => {}
                    }
                }
                Ok(bool_or_null(result.map(|b| b != *negated)))
            }
            ExprKind::IsNull { expr, negated } => {
                let null = self.eval(expr, scope)? == Value::Null;
                Ok(Value::Bool(null != *negated))
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let v = self.eval(expr, scope)?;
                let lo = compare(&v, &self.eval(low, scope)?, e.pos)?;
                let hi = compare(&v, &self.eval(high, scope)?, e.pos)?;
                let above = lo.map(|o| o != Ordering::Less);
                let below = hi.map(|o| o != Ordering::Greater);
                Ok(bool_or_null(and3(above, below).map(|b| b != *negated)))
            }
            ExprKind::Like {
                expr,
                pattern,
                escape,
                negated,
            } => {
                let v = self.eval(expr, scope)?;
                let p = self.eval(pattern, scope)?;
                let esc = match escape {
                    Some(x) => Some((self.eval(x, scope)?, x.pos)),
                    None => None,
                };
                let r = func::like(&v, &p, esc.as_ref().map(|(v, p)| (v, *p)))?;
                Ok(bool_or_null(r.map(|b| b != *negated)))
            }
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => {
                let subject = match operand {
                    Some(o) => Some(self.eval(o, scope)?),
                    None => None,
                };
                for (w, t) in branches {
                    let hit = match &subject {
                        Some(s) => {
                            compare(s, &self.eval(w, scope)?, w.pos)? == Some(Ordering::Equal)
                        }
                        None => truth(&self.eval(w, scope)?, w.pos, "WHEN")? == Some(true),
                    };
                    if hit {
                        return self.eval(t, scope);
                    }
                }
                match otherwise {
                    Some(x) => self.eval(x, scope),
                    None => Ok(Value::Null),
                }
            }
            ExprKind::Cast { expr, to } => func::cast(self.eval(expr, scope)?, *to, e.pos),
            ExprKind::Subquery(q) => Ok(self.subquery(e, q, scope)?.scalar()),
            ExprKind::Exists(q) => Ok(Value::Bool(!self.subquery(e, q, scope)?.rows.is_empty())),
            ExprKind::InSelect {
                expr,
                query,
                negated,
            } => {
                let v = self.eval(expr, scope)?;
                let r = self.subquery(e, query, scope)?;
                Ok(bool_or_null(r.contains(&v).map(|b| b != *negated)))
            }
            ExprKind::Window { .. } => self.window_value(e, scope),
            ExprKind::Index { expr, index } => {
                let v = self.eval(expr, scope)?;
                let i = self.eval(index, scope)?;
                func::index(&v, &i, e.pos, index.pos)
            }
            ExprKind::Slice { expr, low, high } => {
                let v = self.eval(expr, scope)?;
                let lo = match low {
                    Some(x) => Some((self.eval(x, scope)?, x.pos)),
                    None => None,
                };
                let hi = match high {
                    Some(x) => Some((self.eval(x, scope)?, x.pos)),
                    None => None,
                };
                func::slice(&v, lo, hi, e.pos)
            }
            ExprKind::Call {
                name,
                args,
                star,
                distinct,
            } => {
                if AGGREGATES.contains(&name.as_str()) {
                    return match scope {
                        Scope::Group(all, members) => {
                            self.aggregate(e, name, args, *star, *distinct, all, members)
                        }
                        Scope::Row(..) => Err(Error::syntax(
                            e.pos,
                            format!(
                                "aggregate {} is not allowed here",
                                name.to_ascii_uppercase()
                            ),
                        )),
                    };
                }
                if name == "attention" {
                    return self.attention(e, args, scope);
                }
                if func::arity(name).is_none() {
                    if let Some(v) = self.batch_call(e, name, args, scope)? {
                        return Ok(v);
                    }
                }
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a, scope)?);
                }
                match func::builtin(name, &vals, e.pos, args) {
                    Some(r) => r,
                    None => self.user_function(name, &vals, e.pos),
                }
            }
        }
    }

    fn binary(&self, op: BinOp, l: &Expr, r: &Expr, scope: Scope<'_, '_>) -> Result<Value> {
        let a = self.eval(l, scope)?;
        if matches!(op, BinOp::And | BinOp::Or) {
            let x = truth(&a, l.pos, op.symbol())?;
            // Short-circuit: the right side is not evaluated when the left decides.
            if x == Some(op == BinOp::Or) {
                return Ok(Value::Bool(op == BinOp::Or));
            }
            let y = truth(&self.eval(r, scope)?, r.pos, op.symbol())?;
            return Ok(bool_or_null(if op == BinOp::And {
                and3(x, y)
            } else {
                or3(x, y)
            }));
        }
        let b = self.eval(r, scope)?;
        let pos = l.pos;
        let cmp = |want: fn(Ordering) -> bool| -> Result<Value> {
            Ok(match compare(&a, &b, pos)? {
                Some(o) => Value::Bool(want(o)),
                None => Value::Null,
            })
        };
        match op {
            BinOp::Eq => cmp(|o| o == Ordering::Equal),
            BinOp::Ne => cmp(|o| o != Ordering::Equal),
            BinOp::Lt => cmp(|o| o == Ordering::Less),
            BinOp::Le => cmp(|o| o != Ordering::Greater),
            BinOp::Gt => cmp(|o| o == Ordering::Greater),
            BinOp::Ge => cmp(|o| o != Ordering::Less),
            BinOp::Concat => Ok(match (&a, &b) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                _ => Value::text(&format!("{a}{b}")),
            }),
            _ => func::arithmetic(op, &a, &b, pos),
        }
    }

    /// A window function's value for this row, computed over all rows before (`window.rs`).
    fn window_value(&self, e: &Expr, scope: Scope<'_, '_>) -> Result<Value> {
        let Some((_, values)) = self.windows.iter().find(|(p, _)| *p == e.pos) else {
            return Err(Error::syntax(
                e.pos,
                "window functions are only allowed in the select list and ORDER BY",
            ));
        };
        let Some((_, n)) = scope.tuple() else {
            return Ok(Value::Null);
        };
        Ok(values.get(n).cloned().unwrap_or(Value::Null))
    }

    fn attention(&self, e: &Expr, args: &[Expr], scope: Scope<'_, '_>) -> Result<Value> {
        let key = args.first().map(|a| a.to_string()).unwrap_or_default();
        let Some((_, weights)) = self.attention.iter().find(|(k, _)| *k == key) else {
            return Err(Error::syntax(
                e.pos,
                "ATTENTION is only allowed in the select list and ORDER BY",
            ));
        };
        let Some((_, n)) = scope.tuple() else {
            return Ok(Value::Null);
        };
        Ok(weights
            .get(n)
            .map_or(Value::Null, |w| Value::Number(widen_f32(*w))))
    }

    /// A call of a batch function whose value is already known: computed for every tuple
    /// of this stage ([`Env::batched`]), or a constant call computed once ([`Env::memo`]).
    /// `None` when the call is evaluated as usual.
    fn batch_call(
        &self,
        e: &Expr,
        name: &str,
        args: &[Expr],
        scope: Scope<'_, '_>,
    ) -> Result<Option<Value>> {
        if let Some((_, values)) = self.batched.iter().find(|(p, _)| *p == e.pos) {
            let Some((_, n)) = scope.tuple() else {
                return Ok(Some(Value::Null));
            };
            return Ok(values.get(n).cloned());
        }
        if !args.iter().all(is_constant) {
            return Ok(None);
        }
        let is_batch = self.functions.get(name).is_some_and(|f| f.batch.is_some());
        if !is_batch {
            return Ok(None);
        }
        let memo = |m: &std::sync::Mutex<Vec<(Pos, Value)>>| {
            m.lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|(p, _)| *p == e.pos)
                .map(|(_, v)| v.clone())
        };
        if let Some(v) = memo(&self.memo) {
            return Ok(Some(v));
        }
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.eval(a, scope)?);
        }
        let v = self.user_function(name, &vals, e.pos)?;
        self.memo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((e.pos, v.clone()));
        Ok(Some(v))
    }

    fn user_function(&self, name: &str, vals: &[Value], pos: Pos) -> Result<Value> {
        let f = self
            .functions
            .get(name)
            .ok_or_else(|| Error::not_found(pos, format!("unknown function '{name}'")))?;
        if !f.takes(vals.len()) {
            return Err(Error::syntax(
                pos,
                format!(
                    "{name} takes {} arguments, found {}",
                    f.arity_text(),
                    vals.len()
                ),
            ));
        }
        let r = match &f.batch {
            Some(batch) => batch(&[vals.to_vec()], &self.context).and_then(|mut v| {
                v.pop().ok_or_else(|| {
                    CallError::new(ErrorKind::Internal, "the batch function returned no value")
                })
            }),
            None => (f.f)(vals),
        };
        r.map_err(|e| Error::call(pos, Some(name), e))
    }
}
