//! Expression evaluation over one row (or one group of rows, for aggregates).

use std::cmp::Ordering;
use std::sync::Arc;

use tensormap_engine::{ObjectRef, Registry, Value, VoxelSet};

use crate::ast::{BinOp, Expr, ExprKind, AGGREGATES};
use crate::error::{Error, Pos, Result};

/// The columns of an object row.
pub const OBJECT_COLUMNS: [&str; 8] = [
    "id",
    "type",
    "position",
    "x",
    "y",
    "z",
    "embedding",
    "confidence",
];
/// The columns `*` expands to for objects.
pub const OBJECT_STAR: [&str; 5] = ["id", "type", "position", "embedding", "confidence"];
/// The columns of a voxel row.
pub const VOXEL_COLUMNS: [&str; 9] = ["i", "j", "k", "center", "x", "y", "z", "value", "norm"];
/// The columns `*` expands to for voxels.
pub const VOXEL_STAR: [&str; 6] = ["i", "j", "k", "center", "value", "norm"];

/// Built-in scalar functions and their arities.
pub const BUILTINS: [(&str, usize); 7] = [
    ("distance", 2),
    ("within", 3),
    ("attention", 1),
    ("cosine", 2),
    ("abs", 1),
    ("sqrt", 1),
    ("norm", 1),
];

/// One row of a query: an object, a voxel, or none (constant expressions); `n` is its index
/// among the rows that passed WHERE (the attention weights are indexed by it).
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// No row.
    None,
    /// An object.
    Obj(ObjectRef<'a>, usize),
    /// Cell `.1` of a voxel set.
    Vox(&'a VoxelSet, usize, usize),
}

impl<'a> Row<'a> {
    /// The value of column `name`, if this kind of row has it.
    pub fn column(&self, name: &str) -> Option<Value> {
        match *self {
            Row::None => None,
            Row::Obj(o, _) => Some(match name {
                "id" => Value::Text(o.shared_id()),
                "type" => Value::Text(o.shared_kind()),
                "position" => Value::vector(&o.position()),
                "x" => Value::Number(o.position()[0] as f64),
                "y" => Value::Number(o.position()[1] as f64),
                "z" => Value::Number(o.position()[2] as f64),
                "embedding" => Value::vector(o.embedding()),
                "confidence" => Value::Number(o.confidence() as f64),
                _ => return None,
            }),
            Row::Vox(v, cell, _) => Some(match name {
                "i" => Value::Number(v.cells[cell][0] as f64),
                "j" => Value::Number(v.cells[cell][1] as f64),
                "k" => Value::Number(v.cells[cell][2] as f64),
                "center" => Value::vector(&v.centers[cell]),
                "x" => Value::Number(v.centers[cell][0] as f64),
                "y" => Value::Number(v.centers[cell][1] as f64),
                "z" => Value::Number(v.centers[cell][2] as f64),
                "value" => Value::vector(v.value(cell)),
                "norm" => Value::Number(norm(v.value(cell))),
                _ => return None,
            }),
        }
    }

    /// Index among the filtered rows.
    pub fn index(&self) -> usize {
        match *self {
            Row::None => 0,
            Row::Obj(_, n) | Row::Vox(_, _, n) => n,
        }
    }

    /// The vector attention scores this row: its embedding or its voxel value.
    pub fn attention_vector(&self) -> &'a [f32] {
        match *self {
            Row::None => &[],
            Row::Obj(o, _) => o.embedding(),
            Row::Vox(v, cell, _) => v.value(cell),
        }
    }

    /// Ties in ORDER BY are broken by id (objects) or by cell (voxels).
    pub fn tie_cmp(&self, other: &Row<'_>) -> Ordering {
        match (self, other) {
            (Row::Obj(a, _), Row::Obj(b, _)) => a.id().cmp(b.id()),
            (Row::Vox(a, i, _), Row::Vox(b, j, _)) => a.cells[*i].cmp(&b.cells[*j]),
            _ => Ordering::Equal,
        }
    }
}

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt()
}

/// What an evaluation sees besides the row.
#[derive(Debug)]
pub struct Env<'a> {
    /// User functions.
    pub functions: &'a Registry,
    /// Attention weights by the printed query argument, indexed by row.
    pub attention: Vec<(String, Vec<f32>)>,
}

/// Where an expression is evaluated.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'r, 'a> {
    /// On one row.
    Row(&'r Row<'a>),
    /// On a group: aggregates fold over it, anything else reads its first row.
    Group(&'r [Row<'a>]),
}

fn type_error(pos: Pos, what: &str, v: &Value) -> Error {
    Error::new(
        pos,
        format!(
            "{what} expects a {}, found a {}",
            expected(what),
            v.type_name()
        ),
    )
}

fn expected(what: &str) -> &'static str {
    match what {
        "AND" | "OR" | "NOT" => "boolean",
        _ => "number",
    }
}

/// A vector argument.
pub fn as_vector(v: &Value, pos: Pos, what: &str) -> Result<Arc<[f32]>> {
    match v {
        Value::Vector(x) => Ok(x.clone()),
        other => Err(Error::new(
            pos,
            format!("{what} expects a vector, found a {}", other.type_name()),
        )),
    }
}

/// A number argument.
pub fn as_number(v: &Value, pos: Pos, what: &str) -> Result<f64> {
    match v {
        Value::Number(x) => Ok(*x),
        other => Err(Error::new(
            pos,
            format!("{what} expects a number, found a {}", other.type_name()),
        )),
    }
}

fn point(v: &Value, pos: Pos, what: &str) -> Result<[f32; 3]> {
    let x = as_vector(v, pos, what)?;
    <[f32; 3]>::try_from(&x[..]).map_err(|_| {
        Error::new(
            pos,
            format!("{what} expects a 3-vector, found {} values", x.len()),
        )
    })
}

/// Squared distance in f32, computed exactly as the R*-tree computes it.
pub fn dist2(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

impl Env<'_> {
    /// Evaluates `e` in `scope`.
    pub fn eval(&self, e: &Expr, scope: Scope<'_, '_>) -> Result<Value> {
        match &e.kind {
            ExprKind::Number(n) => Ok(Value::Number(*n)),
            ExprKind::Str(s) => Ok(Value::text(s)),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Vector(items) => {
                let mut v = Vec::with_capacity(items.len());
                for item in items {
                    let x = as_number(&self.eval(item, scope)?, item.pos, "a vector element")?;
                    v.push(x as f32);
                }
                Ok(Value::Vector(Arc::from(v)))
            }
            ExprKind::Column(name) => {
                let row = match scope {
                    Scope::Row(r) => *r,
                    Scope::Group(rows) => match rows.first() {
                        Some(r) => *r,
                        None => return Ok(Value::Null),
                    },
                };
                row.column(name)
                    .ok_or_else(|| Error::new(e.pos, format!("unknown column '{name}'")))
            }
            ExprKind::Neg(x) => match self.eval(x, scope)? {
                Value::Number(n) => Ok(Value::Number(-n)),
                Value::Vector(v) => Ok(Value::Vector(v.iter().map(|a| -a).collect())),
                Value::Null => Ok(Value::Null),
                other => Err(type_error(e.pos, "-", &other)),
            },
            ExprKind::Not(x) => match self.eval(x, scope)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                Value::Null => Ok(Value::Null),
                other => Err(type_error(e.pos, "NOT", &other)),
            },
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, scope),
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                let v = self.eval(expr, scope)?;
                let mut found = false;
                for item in list {
                    let w = self.eval(item, scope)?;
                    if compare(&v, &w, item.pos)? == Some(Ordering::Equal) {
                        found = true;
                        break;
                    }
                }
                Ok(Value::Bool(found != *negated))
            }
            ExprKind::Call { name, args, star } => {
                if AGGREGATES.contains(&name.as_str()) {
                    return match scope {
                        Scope::Group(rows) => self.aggregate(e, name, args, *star, rows),
                        Scope::Row(_) => Err(Error::new(
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
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a, scope)?);
                }
                self.call(name, &vals, e.pos, args)
            }
        }
    }

    fn binary(&self, op: BinOp, l: &Expr, r: &Expr, scope: Scope<'_, '_>) -> Result<Value> {
        let a = self.eval(l, scope)?;
        if matches!(op, BinOp::And | BinOp::Or) {
            let truth = |v: &Value, pos: Pos| match v {
                Value::Bool(b) => Ok(*b),
                Value::Null => Ok(false),
                other => Err(type_error(pos, op.symbol(), other)),
            };
            let x = truth(&a, l.pos)?;
            // Short-circuit: the right side is not evaluated when the left decides.
            if (op == BinOp::And && !x) || (op == BinOp::Or && x) {
                return Ok(Value::Bool(x));
            }
            return Ok(Value::Bool(truth(&self.eval(r, scope)?, r.pos)?));
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
            _ => arithmetic(op, &a, &b, pos),
        }
    }

    fn attention(&self, e: &Expr, args: &[Expr], scope: Scope<'_, '_>) -> Result<Value> {
        let key = args.first().map(|a| a.to_string()).unwrap_or_default();
        let Some((_, weights)) = self.attention.iter().find(|(k, _)| *k == key) else {
            return Err(Error::new(
                e.pos,
                "ATTENTION is only allowed in the select list and ORDER BY",
            ));
        };
        let row = match scope {
            Scope::Row(r) => *r,
            Scope::Group(rows) => match rows.first() {
                Some(r) => *r,
                None => return Ok(Value::Null),
            },
        };
        Ok(weights
            .get(row.index())
            .map_or(Value::Null, |w| Value::Number(*w as f64)))
    }

    fn aggregate(
        &self,
        e: &Expr,
        name: &str,
        args: &[Expr],
        star: bool,
        rows: &[Row<'_>],
    ) -> Result<Value> {
        if star {
            return if name == "count" {
                Ok(Value::Number(rows.len() as f64))
            } else {
                Err(Error::new(
                    e.pos,
                    format!(
                        "{}(*) is not allowed; only COUNT(*)",
                        name.to_ascii_uppercase()
                    ),
                ))
            };
        }
        let [arg] = args else {
            return Err(Error::new(
                e.pos,
                format!("{} takes one argument", name.to_ascii_uppercase()),
            ));
        };
        if arg.has_aggregate() {
            return Err(Error::new(arg.pos, "aggregates cannot be nested"));
        }
        let mut vals = Vec::with_capacity(rows.len());
        for row in rows {
            let v = self.eval(arg, Scope::Row(row))?;
            if v != Value::Null {
                vals.push(v);
            }
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
                    sum += as_number(v, arg.pos, &name.to_ascii_uppercase())?;
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

    fn call(&self, name: &str, vals: &[Value], pos: Pos, args: &[Expr]) -> Result<Value> {
        let arg_pos = |i: usize| args.get(i).map_or(pos, |a| a.pos);
        let upper = name.to_ascii_uppercase();
        if let Some((_, arity)) = BUILTINS.iter().find(|(n, _)| *n == name) {
            if vals.len() != *arity {
                return Err(Error::new(
                    pos,
                    format!("{upper} takes {arity} arguments, found {}", vals.len()),
                ));
            }
        }
        match name {
            "distance" => {
                let a = point(&vals[0], arg_pos(0), &upper)?;
                let b = point(&vals[1], arg_pos(1), &upper)?;
                Ok(Value::Number((dist2(a, b) as f64).sqrt()))
            }
            "within" => {
                let a = point(&vals[0], arg_pos(0), &upper)?;
                let b = point(&vals[1], arg_pos(1), &upper)?;
                let r = as_number(&vals[2], arg_pos(2), &upper)? as f32;
                if !(r.is_finite() && r >= 0.0) {
                    return Err(Error::new(
                        arg_pos(2),
                        format!("WITHIN radius must be a finite number >= 0, found {r}"),
                    ));
                }
                Ok(Value::Bool(dist2(a, b) <= r * r))
            }
            "cosine" => {
                let a = as_vector(&vals[0], arg_pos(0), &upper)?;
                let b = as_vector(&vals[1], arg_pos(1), &upper)?;
                if a.len() != b.len() {
                    return Err(Error::new(
                        pos,
                        format!("COSINE of vectors of {} and {} values", a.len(), b.len()),
                    ));
                }
                let dot: f64 = a
                    .iter()
                    .zip(b.iter())
                    .map(|(x, y)| *x as f64 * *y as f64)
                    .sum();
                let n = norm(&a) * norm(&b);
                Ok(if n == 0.0 {
                    Value::Null
                } else {
                    Value::Number(dot / n)
                })
            }
            "abs" => Ok(Value::Number(
                as_number(&vals[0], arg_pos(0), &upper)?.abs(),
            )),
            "sqrt" => {
                let x = as_number(&vals[0], arg_pos(0), &upper)?;
                if x < 0.0 {
                    return Err(Error::new(
                        arg_pos(0),
                        format!("SQRT of a negative number ({x})"),
                    ));
                }
                Ok(Value::Number(x.sqrt()))
            }
            "norm" => Ok(Value::Number(norm(&as_vector(
                &vals[0],
                arg_pos(0),
                &upper,
            )?))),
            _ => {
                let f = self
                    .functions
                    .get(name)
                    .ok_or_else(|| Error::new(pos, format!("unknown function '{name}'")))?;
                if f.arity != vals.len() {
                    return Err(Error::new(
                        pos,
                        format!("{name} takes {} arguments, found {}", f.arity, vals.len()),
                    ));
                }
                (f.f)(vals).map_err(|m| Error::new(pos, format!("{name}: {m}")))
            }
        }
    }

    /// Checks every column and function of `e` before any row is read, so that a mistake is
    /// reported even on an empty map. `columns` are the source's; `aliases` may also be used;
    /// `forbid` names the clause (WHERE, GROUP BY, ...) where aggregates and ATTENTION are
    /// not allowed.
    pub fn check(
        &self,
        e: &Expr,
        columns: &[&str],
        aliases: &[&str],
        forbid: Option<&str>,
    ) -> Result<()> {
        match &e.kind {
            ExprKind::Column(c) => {
                if columns.contains(&c.as_str()) || aliases.contains(&c.as_str()) {
                    Ok(())
                } else {
                    Err(Error::new(e.pos, format!("unknown column '{c}'")))
                }
            }
            ExprKind::Vector(v) => v
                .iter()
                .try_for_each(|x| self.check(x, columns, aliases, forbid)),
            ExprKind::Neg(x) | ExprKind::Not(x) => self.check(x, columns, aliases, forbid),
            ExprKind::Binary(_, l, r) => {
                self.check(l, columns, aliases, forbid)?;
                self.check(r, columns, aliases, forbid)
            }
            ExprKind::In { expr, list, .. } => {
                self.check(expr, columns, aliases, forbid)?;
                list.iter()
                    .try_for_each(|x| self.check(x, columns, aliases, forbid))
            }
            ExprKind::Call { name, args, star } => {
                let upper = name.to_ascii_uppercase();
                if AGGREGATES.contains(&name.as_str()) {
                    if let Some(clause) = forbid {
                        return Err(Error::new(
                            e.pos,
                            format!("aggregate {upper} is not allowed in {clause}"),
                        ));
                    }
                    if !*star && args.len() != 1 {
                        return Err(Error::new(e.pos, format!("{upper} takes one argument")));
                    }
                } else if *star {
                    return Err(Error::new(
                        e.pos,
                        format!("{upper}(*) is not allowed; only COUNT(*)"),
                    ));
                } else if let Some((_, arity)) = BUILTINS.iter().find(|(n, _)| n == name) {
                    if args.len() != *arity {
                        return Err(Error::new(
                            e.pos,
                            format!("{upper} takes {arity} arguments, found {}", args.len()),
                        ));
                    }
                    if name == "attention" {
                        if let Some(clause) = forbid {
                            return Err(Error::new(
                                e.pos,
                                format!("ATTENTION is not allowed in {clause}"),
                            ));
                        }
                        if args.iter().any(crate::plan::reads_columns) {
                            return Err(Error::new(
                                e.pos,
                                "ATTENTION takes a constant query vector, not a column",
                            ));
                        }
                    }
                } else {
                    let f = self
                        .functions
                        .get(name)
                        .ok_or_else(|| Error::new(e.pos, format!("unknown function '{name}'")))?;
                    if f.arity != args.len() {
                        return Err(Error::new(
                            e.pos,
                            format!("{name} takes {} arguments, found {}", f.arity, args.len()),
                        ));
                    }
                }
                args.iter()
                    .try_for_each(|x| self.check(x, columns, aliases, forbid))
            }
            _ => Ok(()),
        }
    }
}

/// Compares two values for `=`, `<`, ...: `None` when either is null.
pub fn compare(a: &Value, b: &Value, pos: Pos) -> Result<Option<Ordering>> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(None),
        (Value::Number(x), Value::Number(y)) => Ok(x.partial_cmp(y)),
        (Value::Text(_), Value::Text(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Vector(_), Value::Vector(_)) => Ok(Some(a.total_cmp(b))),
        _ => Err(Error::new(
            pos,
            format!(
                "cannot compare a {} with a {}",
                a.type_name(),
                b.type_name()
            ),
        )),
    }
}

fn arithmetic(op: BinOp, a: &Value, b: &Value, pos: Pos) -> Result<Value> {
    let f = |x: f64, y: f64| -> Result<f64> {
        match op {
            BinOp::Add => Ok(x + y),
            BinOp::Sub => Ok(x - y),
            BinOp::Mul => Ok(x * y),
            _ if y == 0.0 => Err(Error::new(pos, "division by zero")),
            _ => Ok(x / y),
        }
    };
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (Value::Number(x), Value::Number(y)) => Ok(Value::Number(f(*x, *y)?)),
        (Value::Vector(x), Value::Vector(y)) if matches!(op, BinOp::Add | BinOp::Sub) => {
            if x.len() != y.len() {
                return Err(Error::new(
                    pos,
                    format!(
                        "{} of vectors of {} and {} values",
                        op.symbol(),
                        x.len(),
                        y.len()
                    ),
                ));
            }
            let v: Result<Vec<f32>> = x
                .iter()
                .zip(y.iter())
                .map(|(p, q)| f(*p as f64, *q as f64).map(|r| r as f32))
                .collect();
            Ok(Value::Vector(Arc::from(v?)))
        }
        (Value::Vector(x), Value::Number(y)) if matches!(op, BinOp::Mul | BinOp::Div) => {
            let v: Result<Vec<f32>> = x
                .iter()
                .map(|p| f(*p as f64, *y).map(|r| r as f32))
                .collect();
            Ok(Value::Vector(Arc::from(v?)))
        }
        (Value::Number(x), Value::Vector(y)) if op == BinOp::Mul => Ok(Value::Vector(
            y.iter().map(|q| (*x * *q as f64) as f32).collect(),
        )),
        _ => Err(Error::new(
            pos,
            format!(
                "cannot apply {} to a {} and a {}",
                op.symbol(),
                a.type_name(),
                b.type_name()
            ),
        )),
    }
}
