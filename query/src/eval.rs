//! Expression evaluation over one row of the FROM maps (a tuple: one row per map), or one
//! group of tuples for aggregates, with SQL's NULL logic.
//!
//! Names are checked by [`Env::check`] before a row is read, so evaluation only meets the
//! errors that depend on values (types, division by zero).

use std::cmp::Ordering;
use std::sync::Arc;

use tensormap_engine::{widen_f32, CallContext, ObjectRef, Registry, Value, VoxelSet};

use crate::ast::{BinOp, Expr, ExprKind, AGGREGATES};
use crate::error::{Error, Pos, Result};
use crate::func;

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

/// What a map of FROM yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Its objects.
    Objects,
    /// Its occupied voxels.
    Voxels,
}

impl TableKind {
    /// Its columns.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            TableKind::Objects => &OBJECT_COLUMNS,
            TableKind::Voxels => &VOXEL_COLUMNS,
        }
    }

    /// The columns `*` expands to.
    pub fn star(self) -> &'static [&'static str] {
        match self {
            TableKind::Objects => &OBJECT_STAR,
            TableKind::Voxels => &VOXEL_STAR,
        }
    }
}

/// A map of FROM as expressions see it: the name its columns are qualified with.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    /// The alias, or the map's name.
    pub label: String,
    /// Objects or voxels.
    pub kind: TableKind,
}

/// One map's row of a tuple.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// No row: every column is NULL (LEFT JOIN without a match; a map not yet joined).
    Null,
    /// An object.
    Obj(ObjectRef<'a>),
    /// Cell `.1` of a voxel set.
    Vox(&'a VoxelSet, usize),
}

impl<'a> Row<'a> {
    /// The value of column `name` (NULL for a null row or an unknown name; names are
    /// checked before rows are read).
    pub fn column(&self, name: &str) -> Value {
        match *self {
            Row::Null => Value::Null,
            Row::Obj(o) => match name {
                "id" => Value::Text(o.shared_id()),
                "type" => Value::Text(o.shared_kind()),
                "position" => Value::vector(&o.position()),
                "x" => Value::Number(widen_f32(o.position()[0])),
                "y" => Value::Number(widen_f32(o.position()[1])),
                "z" => Value::Number(widen_f32(o.position()[2])),
                "embedding" => Value::vector(o.embedding()),
                "confidence" => Value::Number(widen_f32(o.confidence())),
                _ => Value::Null,
            },
            Row::Vox(v, cell) => match name {
                "i" => Value::Number(v.cells[cell][0] as f64),
                "j" => Value::Number(v.cells[cell][1] as f64),
                "k" => Value::Number(v.cells[cell][2] as f64),
                "center" => Value::vector(&v.centers[cell]),
                "x" => Value::Number(widen_f32(v.centers[cell][0])),
                "y" => Value::Number(widen_f32(v.centers[cell][1])),
                "z" => Value::Number(widen_f32(v.centers[cell][2])),
                "value" => Value::vector(v.value(cell)),
                "norm" => Value::Number(func::norm(v.value(cell))),
                _ => Value::Null,
            },
        }
    }

    /// The vector attention scores this row: its embedding or its voxel value.
    pub fn attention_vector(&self) -> &'a [f32] {
        match *self {
            Row::Null => &[],
            Row::Obj(o) => o.embedding(),
            Row::Vox(v, cell) => v.value(cell),
        }
    }

    /// The position a spatial index holds for the row.
    pub fn point(&self) -> Option<[f32; 3]> {
        match *self {
            Row::Null => None,
            Row::Obj(o) => Some(o.position()),
            Row::Vox(v, cell) => Some(v.centers[cell]),
        }
    }

    /// Ties in ORDER BY are broken by id (objects) or by cell (voxels); a null row first.
    pub fn tie_cmp(&self, other: &Row<'_>) -> Ordering {
        match (self, other) {
            (Row::Obj(a), Row::Obj(b)) => a.id().cmp(b.id()),
            (Row::Vox(a, i), Row::Vox(b, j)) => a.cells[*i].cmp(&b.cells[*j]),
            (Row::Null, Row::Null) => Ordering::Equal,
            (Row::Null, _) => Ordering::Less,
            (_, Row::Null) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }
}

/// Tuples of rows, one row per map of FROM, stored flat.
#[derive(Debug, Clone, Default)]
pub struct Tuples<'a> {
    /// Maps in FROM (0 for `SELECT 1`, whose one tuple is empty).
    pub width: usize,
    /// `len * width` rows.
    pub rows: Vec<Row<'a>>,
    /// How many tuples.
    pub len: usize,
}

impl<'a> Tuples<'a> {
    /// No tuples of `width`.
    pub fn new(width: usize) -> Self {
        Tuples {
            width,
            rows: Vec::new(),
            len: 0,
        }
    }

    /// Tuple `i`.
    pub fn get(&self, i: usize) -> &[Row<'a>] {
        &self.rows[i * self.width..(i + 1) * self.width]
    }

    /// Appends a tuple.
    pub fn push(&mut self, tuple: &[Row<'a>]) {
        self.rows.extend_from_slice(tuple);
        self.len += 1;
    }

    /// Ties between two tuples: map by map, in FROM order.
    pub fn tie_cmp(&self, a: usize, b: usize) -> Ordering {
        self.get(a)
            .iter()
            .zip(self.get(b))
            .map(|(x, y)| x.tie_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// What an evaluation sees besides the row.
#[derive(Debug)]
pub struct Env<'a> {
    /// User functions.
    pub functions: &'a Registry,
    /// The maps of FROM, in order.
    pub tables: Vec<TableInfo>,
    /// Attention weights by the printed query argument, indexed by tuple.
    pub attention: Vec<(String, Vec<f32>)>,
    /// Values of batch-function calls computed over all tuples of a stage at once
    /// (`exec::batch`), by the call's position, indexed by tuple.
    pub batched: Vec<(Pos, Vec<Value>)>,
    /// Values of batch-function calls with constant arguments, by the call's position:
    /// computed once per statement (an `m_embed('red cube')` in a per-row expression).
    pub memo: std::sync::Mutex<Vec<(Pos, Value)>>,
    /// What batch functions are told of the statement (the map's bounds).
    pub context: CallContext,
}

/// Where an expression is evaluated.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'r, 'a> {
    /// On one tuple, `.1` its index among the tuples that passed WHERE.
    Row(&'r [Row<'a>], usize),
    /// On a group of tuples: aggregates fold over them, anything else reads the first.
    Group(&'r Tuples<'a>, &'r [u32]),
}

impl<'r, 'a> Scope<'r, 'a> {
    /// The tuple columns are read from (none for an empty group) and its index.
    fn tuple(&self) -> Option<(&'r [Row<'a>], usize)> {
        match *self {
            Scope::Row(t, n) => Some((t, n)),
            Scope::Group(all, members) => {
                members.first().map(|&m| (all.get(m as usize), m as usize))
            }
        }
    }
}

/// SQL's truth value of `v`: `Some(bool)`, or `None` for NULL.
pub fn truth(v: &Value, pos: Pos, what: &str) -> Result<Option<bool>> {
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::Null => Ok(None),
        other => Err(Error::new(
            pos,
            format!("{what} expects a boolean, found a {}", other.type_name()),
        )),
    }
}

fn bool_or_null(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::Bool)
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

impl Env<'_> {
    /// An environment for expressions over `tables`.
    pub fn new(functions: &Registry, tables: Vec<TableInfo>) -> Env<'_> {
        Env {
            functions,
            tables,
            attention: Vec::new(),
            batched: Vec::new(),
            memo: std::sync::Mutex::new(Vec::new()),
            context: CallContext::default(),
        }
    }

    /// The index of the map that column `name` (qualified by `table`) belongs to.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        match table {
            Some(t) => {
                let i = self
                    .tables
                    .iter()
                    .position(|x| x.label == t)
                    .ok_or_else(|| format!("no map or alias named '{t}' in FROM"))?;
                if self.tables[i].kind.columns().contains(&name) {
                    Ok(i)
                } else {
                    Err(format!("unknown column '{t}.{name}'"))
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
                    (Some((_, a)), Some((_, b))) => Err(format!(
                        "column '{name}' is ambiguous: write {}.{name} or {}.{name}",
                        a.label, b.label
                    )),
                    _ => Err(format!("unknown column '{name}'")),
                }
            }
        }
    }

    fn column(
        &self,
        scope: Scope<'_, '_>,
        table: Option<&str>,
        name: &str,
        pos: Pos,
    ) -> Result<Value> {
        let Some((tuple, _)) = scope.tuple() else {
            return Ok(Value::Null);
        };
        let i = if tuple.len() == 1 && table.is_none() {
            0
        } else {
            self.resolve(table, name).map_err(|m| Error::new(pos, m))?
        };
        Ok(tuple.get(i).map_or(Value::Null, |r| r.column(name)))
    }

    /// Evaluates `e` in `scope`.
    pub fn eval(&self, e: &Expr, scope: Scope<'_, '_>) -> Result<Value> {
        match &e.kind {
            ExprKind::Number(n) => Ok(Value::Number(*n)),
            ExprKind::Str(s) => Ok(Value::text(s)),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Null => Ok(Value::Null),
            ExprKind::Param(i) => Err(Error::new(
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
                other => Err(Error::new(
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
                        Scope::Row(..) => Err(Error::new(
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

    fn attention(&self, e: &Expr, args: &[Expr], scope: Scope<'_, '_>) -> Result<Value> {
        let key = args.first().map(|a| a.to_string()).unwrap_or_default();
        let Some((_, weights)) = self.attention.iter().find(|(k, _)| *k == key) else {
            return Err(Error::new(
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

    #[allow(clippy::too_many_arguments)]
    fn aggregate(
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
                Err(Error::new(
                    e.pos,
                    format!("{upper}(*) is not allowed; only COUNT(*)"),
                ))
            };
        }
        let [arg] = args else {
            return Err(Error::new(e.pos, format!("{upper} takes one argument")));
        };
        if arg.has_aggregate() {
            return Err(Error::new(arg.pos, "aggregates cannot be nested"));
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
            .ok_or_else(|| Error::new(pos, format!("unknown function '{name}'")))?;
        if !f.takes(vals.len()) {
            return Err(Error::new(
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
                v.pop()
                    .ok_or_else(|| "the batch function returned no value".to_string())
            }),
            None => (f.f)(vals),
        };
        r.map_err(|m| Error::new(pos, format!("{name}: {m}")))
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
                    .map_err(|m| Error::new(e.pos, m))
            }
            ExprKind::QualifiedColumn { table, column } => self
                .resolve(Some(table), column)
                .map(|_| ())
                .map_err(|m| Error::new(e.pos, m)),
            ExprKind::Call {
                name,
                args,
                star,
                distinct,
            } => {
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
                } else if *star || *distinct {
                    let what = if *star { "(*)" } else { "(DISTINCT ...)" };
                    return Err(Error::new(
                        e.pos,
                        format!("{upper}{what} is not allowed; only aggregates take it"),
                    ));
                } else if let Some(arity) = func::arity(name) {
                    if !arity.contains(&args.len()) {
                        return Err(Error::new(
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
                    let f = self
                        .functions
                        .get(name)
                        .ok_or_else(|| Error::new(e.pos, format!("unknown function '{name}'")))?;
                    if !f.takes(args.len()) {
                        return Err(Error::new(
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
            return Err(Error::new(
                e.pos,
                format!("ATTENTION is not allowed in {clause}"),
            ));
        }
        if self.tables.len() != 1 {
            return Err(Error::new(
                e.pos,
                "ATTENTION ranks the rows of one map; over a join use COSINE(t.embedding, q)",
            ));
        }
        if args.iter().any(crate::plan::reads_columns) {
            return Err(Error::new(
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

/// SQL's AND of truth values (NULL = unknown).
pub fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// SQL's OR of truth values (NULL = unknown).
pub fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
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
