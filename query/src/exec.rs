//! The executor of queries: rows from the plan's access path, WHERE, attention weights,
//! grouping and aggregates, ORDER BY (ties by id, or by cell for voxels), OFFSET/LIMIT and
//! the select list.

use std::cmp::Ordering;

use tensormap_engine::{attention_weights, Candidates, MapView, Registry, Value, VoxelSet};

use crate::ast::{Expr, ExprKind, Select, SelectItem, Source};
use crate::error::{Error, Result};
use crate::eval::{Env, Row, Scope, OBJECT_COLUMNS, OBJECT_STAR, VOXEL_COLUMNS, VOXEL_STAR};
use crate::plan::{plan, Access, Plan};

/// The result of one statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Column names (empty for statements without rows).
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Value>>,
    /// A status line: `SELECT 3`, `INSERT 2`, `CREATE MAP`, ...
    pub status: String,
}

impl QueryResult {
    /// A result without rows.
    pub fn status(s: impl Into<String>) -> Self {
        QueryResult {
            status: s.into(),
            ..Default::default()
        }
    }

    /// Whether the statement returns rows (a SELECT, SHOW, DESCRIBE or EXPLAIN).
    pub fn has_rows(&self) -> bool {
        !self.columns.is_empty()
    }
}

/// Collects the distinct `ATTENTION(q)` calls of the select list and ORDER BY.
fn attention_calls<'q>(e: &'q Expr, out: &mut Vec<&'q Expr>) {
    match &e.kind {
        ExprKind::Call { name, args, .. } => {
            if name == "attention" && args.len() == 1 {
                out.push(&args[0]);
            }
            args.iter().for_each(|a| attention_calls(a, out));
        }
        ExprKind::Vector(v) => v.iter().for_each(|a| attention_calls(a, out)),
        ExprKind::Neg(x) | ExprKind::Not(x) => attention_calls(x, out),
        ExprKind::Binary(_, l, r) => {
            attention_calls(l, out);
            attention_calls(r, out);
        }
        ExprKind::In { expr, list, .. } => {
            attention_calls(expr, out);
            list.iter().for_each(|a| attention_calls(a, out));
        }
        _ => {}
    }
}

/// The select list as (expression or column, output name).
enum Output<'q> {
    Expr(&'q Expr),
    Column(&'static str),
}

/// A query's names, checked: what it outputs and what its GROUP BY keys are.
struct Prepared<'q> {
    outputs: Vec<Output<'q>>,
    names: Vec<String>,
    aliases: Vec<&'q str>,
    /// GROUP BY with aliases replaced by the expressions they name.
    group_by: Vec<&'q Expr>,
}

/// Checks every name of `sel` before a row is read (so mistakes show on empty maps too).
fn prepare<'q>(env: &Env<'_>, sel: &'q Select) -> Result<Prepared<'q>> {
    let (columns, star): (&[&str], &[&'static str]) = match sel.from {
        Source::Map(_) => (&OBJECT_COLUMNS, &OBJECT_STAR),
        Source::Voxels(_) => (&VOXEL_COLUMNS, &VOXEL_STAR),
    };
    let mut outputs = Vec::new();
    let mut names = Vec::new();
    let mut aliases = Vec::new();
    let mut aliased = Vec::new();
    for item in &sel.items {
        match item {
            SelectItem::Wildcard(_) => {
                for c in star {
                    outputs.push(Output::Column(c));
                    names.push(c.to_string());
                }
            }
            SelectItem::Expr(e, alias) => {
                env.check(e, columns, &[], None)?;
                outputs.push(Output::Expr(e));
                names.push(alias.clone().unwrap_or_else(|| match &e.kind {
                    ExprKind::Column(c) => c.clone(),
                    _ => e.to_string(),
                }));
                if let Some(a) = alias {
                    aliases.push(a.as_str());
                    aliased.push((a.as_str(), e));
                }
            }
        }
    }
    if let Some(w) = &sel.filter {
        env.check(w, columns, &[], Some("WHERE"))?;
    }
    let mut group_by = Vec::new();
    for g in &sel.group_by {
        let resolved = match &g.kind {
            ExprKind::Column(c) => aliased.iter().find(|(a, _)| *a == c).map_or(g, |(_, e)| *e),
            _ => g,
        };
        env.check(resolved, columns, &[], Some("GROUP BY"))?;
        group_by.push(resolved);
    }
    for (o, _) in &sel.order_by {
        env.check(o, columns, &aliases, None)?;
    }
    Ok(Prepared {
        outputs,
        names,
        aliases,
        group_by,
    })
}

/// Runs a query on `view`.
pub fn select(view: &MapView<'_>, sel: &Select, functions: &Registry) -> Result<QueryResult> {
    let mut env = Env {
        functions,
        attention: Vec::new(),
    };
    let Prepared {
        outputs,
        names,
        aliases,
        group_by,
    } = prepare(&env, sel)?;
    let plan = plan(&env, sel)?;

    // Rows from the access path, then WHERE.
    let voxels: VoxelSet;
    let mut rows: Vec<Row<'_>> = Vec::new();
    let mut weights_done = None;
    match (&sel.from, &plan.access) {
        (Source::Voxels(_), access) => {
            voxels = match access {
                Access::Range { center, radius } => view.voxels_within(*center, *radius),
                _ => view.voxels_within([0.0; 3], (view.config().bounds * 2.0) as f32),
            }
            .map_err(|e| Error::engine(sel.from_pos.0, e))?;
            rows.extend((0..voxels.len()).map(|c| Row::Vox(&voxels, c, 0)));
        }
        (Source::Map(_), Access::Scan) => rows.extend(view.objects().map(|o| Row::Obj(o, 0))),
        (Source::Map(_), Access::Range { center, radius }) => rows.extend(
            view.within(*center, *radius)
                .map_err(|e| Error::engine(sel.from_pos.0, e))?
                .into_iter()
                .map(|o| Row::Obj(o, 0)),
        ),
        (Source::Map(_), Access::Nearest { point }) => {
            let want = fetch(sel);
            let mut k = want.max(16);
            loop {
                let hits = view
                    .nearest(*point, k)
                    .map_err(|e| Error::engine(sel.from_pos.0, e))?;
                let exhausted = hits.len() < k;
                rows.clear();
                for (o, _) in hits {
                    let row = Row::Obj(o, 0);
                    if passes(&env, plan.residual, &row)? {
                        rows.push(row);
                    }
                }
                if rows.len() >= want || exhausted {
                    break;
                }
                k = k.saturating_mul(4);
            }
        }
        (Source::Map(_), Access::AttentionTop { query, within }) => {
            let candidates = match within {
                None => Candidates::All,
                Some((center, radius)) => Candidates::Within {
                    center: *center,
                    radius: *radius,
                },
            };
            let top = view
                .attention(query, candidates, fetch(sel))
                .map_err(|e| Error::engine(sel.order_by[0].0.pos, e))?;
            let mut w = Vec::with_capacity(top.len());
            for (o, weight) in top {
                rows.push(Row::Obj(o, 0));
                w.push(weight);
            }
            if let ExprKind::Call { args, .. } = &sel.order_by[0].0.kind {
                weights_done = args.first().map(|q| (q.to_string(), w));
            }
        }
    }
    if !matches!(plan.access, Access::Nearest { .. }) {
        if let Some(residual) = plan.residual {
            let mut kept = Vec::with_capacity(rows.len());
            for row in rows {
                if passes(&env, Some(residual), &row)? {
                    kept.push(row);
                }
            }
            rows = kept;
        }
    }
    for (n, row) in rows.iter_mut().enumerate() {
        match row {
            Row::Obj(_, i) | Row::Vox(_, _, i) => *i = n,
            Row::None => {}
        }
    }

    // Attention weights over the rows that passed WHERE.
    let mut calls = Vec::new();
    for item in &sel.items {
        if let SelectItem::Expr(e, _) = item {
            attention_calls(e, &mut calls);
        }
    }
    for (e, _) in &sel.order_by {
        attention_calls(e, &mut calls);
    }
    let channels = view.config().channels as usize;
    for q in calls {
        let key = q.to_string();
        if env.attention.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let weights = match &weights_done {
            Some((k, w)) if *k == key => w.clone(),
            _ => {
                let query = crate::eval::as_vector(
                    &env.eval(q, Scope::Row(&Row::None))?,
                    q.pos,
                    "ATTENTION",
                )?;
                if query.len() != channels {
                    return Err(Error::new(
                        q.pos,
                        format!(
                            "ATTENTION query has {} values, the map has {channels} channels",
                            query.len()
                        ),
                    ));
                }
                let mut gathered = Vec::with_capacity(rows.len() * channels);
                for r in &rows {
                    gathered.extend_from_slice(r.attention_vector());
                }
                attention_weights(&gathered, channels, &query)
            }
        };
        env.attention.push((key, weights));
    }

    // Groups, or one unit per row; sort keys first, so that only the rows LIMIT keeps are
    // projected.
    let groups: Vec<Vec<Row<'_>>> = if plan.aggregate {
        group(&env, &group_by, std::mem::take(&mut rows))?
    } else {
        Vec::new()
    };
    let presorted = matches!(
        plan.access,
        Access::Nearest { .. } | Access::AttentionTop { .. }
    );
    if !presorted && sel.order_by.is_empty() && !plan.aggregate {
        // Only the tie order: by id (unique; its first 8 bytes as an integer decide most
        // comparisons without a memcmp), or by cell for voxels.
        match sel.from {
            Source::Voxels(_) => rows.sort_by(|a, b| a.tie_cmp(b)),
            Source::Map(_) => rows.sort_by_cached_key(|r| match r {
                Row::Obj(o, _) => {
                    let id = o.id();
                    let mut b = [0u8; 8];
                    let n = id.len().min(8);
                    b[..n].copy_from_slice(&id.as_bytes()[..n]);
                    (u64::from_be_bytes(b), id)
                }
                _ => (0, ""),
            }),
        }
    }
    let units: Vec<(Scope<'_, '_>, Option<Row<'_>>)> = if plan.aggregate {
        groups.iter().map(|g| (Scope::Group(g), None)).collect()
    } else {
        rows.iter().map(|r| (Scope::Row(r), Some(*r))).collect()
    };
    let project = |o: &Output<'_>, scope: Scope<'_, '_>| -> Result<Value> {
        match o {
            Output::Expr(e) => env.eval(e, scope),
            Output::Column(c) => Ok(match scope {
                Scope::Row(r) => r.column(c).unwrap_or(Value::Null),
                Scope::Group(rs) => rs.first().and_then(|r| r.column(c)).unwrap_or(Value::Null),
            }),
        }
    };
    // ORDER BY a name that is an alias sorts by that output.
    let key_outputs: Vec<Option<usize>> = sel
        .order_by
        .iter()
        .map(|(e, _)| match &e.kind {
            ExprKind::Column(c) if aliases.contains(&c.as_str()) => {
                names.iter().position(|n| n == c)
            }
            _ => None,
        })
        .collect();
    let mut keyed = Vec::with_capacity(units.len());
    for (scope, row) in units {
        let mut keys = Vec::with_capacity(sel.order_by.len());
        for ((e, _), alias) in sel.order_by.iter().zip(&key_outputs) {
            keys.push(match alias {
                Some(i) => project(&outputs[*i], scope)?,
                None => env.eval(e, scope)?,
            });
        }
        keyed.push((keys, scope, row));
    }
    if !presorted && !sel.order_by.is_empty() {
        keyed.sort_by(|a, b| {
            for (i, (_, desc)) in sel.order_by.iter().enumerate() {
                let o = a.0[i].total_cmp(&b.0[i]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            match (&a.2, &b.2) {
                (Some(x), Some(y)) => x.tie_cmp(y),
                _ => Ordering::Equal,
            }
        });
    }
    let offset = sel.offset.unwrap_or(0).min(usize::MAX as u64) as usize;
    let limit = sel
        .limit
        .map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize);
    let mut result = Vec::with_capacity(keyed.len().saturating_sub(offset).min(limit));
    for (_, scope, _) in keyed.into_iter().skip(offset).take(limit) {
        let mut values = Vec::with_capacity(outputs.len());
        for o in &outputs {
            values.push(project(o, scope)?);
        }
        result.push(values);
    }
    let rows = result;
    Ok(QueryResult {
        status: format!("SELECT {}", rows.len()),
        columns: names,
        rows,
    })
}

/// LIMIT + OFFSET: how many ordered rows a fast path must produce.
fn fetch(sel: &Select) -> usize {
    let n = sel
        .limit
        .unwrap_or(0)
        .saturating_add(sel.offset.unwrap_or(0));
    n.min(usize::MAX as u64) as usize
}

fn passes(env: &Env<'_>, filter: Option<&Expr>, row: &Row<'_>) -> Result<bool> {
    match filter {
        None => Ok(true),
        Some(f) => match env.eval(f, Scope::Row(row))? {
            Value::Bool(b) => Ok(b),
            Value::Null => Ok(false),
            other => Err(Error::new(
                f.pos,
                format!("WHERE expects a boolean, found a {}", other.type_name()),
            )),
        },
    }
}

/// Rows grouped by the GROUP BY keys, groups in key order; one group (maybe empty) without
/// GROUP BY.
fn group<'a>(env: &Env<'_>, group_by: &[&Expr], rows: Vec<Row<'a>>) -> Result<Vec<Vec<Row<'a>>>> {
    if group_by.is_empty() {
        return Ok(vec![rows]);
    }
    let mut keyed: Vec<(Vec<Value>, Row<'a>)> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut key = Vec::with_capacity(group_by.len());
        for g in group_by {
            key.push(env.eval(g, Scope::Row(&row))?);
        }
        keyed.push((key, row));
    }
    let cmp = |a: &[Value], b: &[Value]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    keyed.sort_by(|a, b| cmp(&a.0, &b.0).then_with(|| a.1.tie_cmp(&b.1)));
    let mut groups: Vec<Vec<Row<'a>>> = Vec::new();
    let mut last: Option<Vec<Value>> = None;
    for (key, row) in keyed {
        match &last {
            Some(k) if cmp(k, &key) == Ordering::Equal => {
                if let Some(g) = groups.last_mut() {
                    g.push(row);
                }
            }
            _ => {
                groups.push(vec![row]);
                last = Some(key);
            }
        }
    }
    Ok(groups)
}

/// EXPLAIN: the plan of `sel`, one line per operator.
pub fn explain(sel: &Select, functions: &Registry) -> Result<QueryResult> {
    let env = Env {
        functions,
        attention: Vec::new(),
    };
    prepare(&env, sel)?;
    let plan: Plan<'_> = plan(&env, sel)?;
    let lines = crate::plan::explain(&plan, sel);
    Ok(QueryResult {
        status: format!("EXPLAIN {}", lines.len()),
        columns: vec!["plan".into()],
        rows: lines.into_iter().map(|l| vec![Value::text(&l)]).collect(),
    })
}
