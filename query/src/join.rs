//! Rows from a plan: each map's rows by its access path and pushed-down filter (a
//! materialized query's rows by a scan), joined map by map into tuples (one row per entry
//! of FROM), then the rest of WHERE.
//!
//! A tuple always has one slot per map of FROM, in FROM order, whatever order the plan
//! joins them in; slots of maps not yet joined hold `Row::Null`, which no condition on
//! them reads (the planner only evaluates a condition once its maps are there).

use tensormap_engine::{Candidates, MapView, Value, VoxelSet};

use crate::ast::{Expr, JoinKind};
use crate::error::{Error, Result};
use crate::eval::{truth, Env, Relation, Row, Scope, TableKind, Tuples};
use crate::func::{point, radius};
use crate::plan::{Access, JoinStep, Plan, Probe};

/// Whether every condition holds (NULL does not) on `tuple`.
pub fn passes(env: &Env<'_>, conds: &[&Expr], tuple: &[Row<'_>], n: usize) -> Result<bool> {
    crate::limits::tick()?;
    for c in conds {
        let v = env.eval(c, Scope::Row(tuple, n))?;
        if truth(&v, c.pos, "WHERE")? != Some(true) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What an entry of FROM reads: a map, or the rows of a query.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A map (its objects or its voxels).
    Map(MapView<'a>),
    /// A subquery's or a WITH query's rows.
    Rel(&'a Relation),
}

impl<'a> Input<'a> {
    /// The map, if it is one.
    pub fn view(&self) -> Option<&MapView<'a>> {
        match self {
            Input::Map(v) => Some(v),
            Input::Rel(_) => None,
        }
    }

    /// How many rows it has (objects of a map).
    pub fn len(&self) -> usize {
        match self {
            Input::Map(v) => v.len(),
            Input::Rel(r) => r.rows.len(),
        }
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The voxel sets the plan reads, one per VOXELS map of FROM (by its range, if any).
pub fn voxel_sets(
    env: &Env<'_>,
    plan: &Plan<'_>,
    inputs: &[Input<'_>],
    at: &[crate::error::Pos],
) -> Result<Vec<Option<VoxelSet>>> {
    let mut out = Vec::with_capacity(inputs.len());
    for (t, input) in inputs.iter().enumerate() {
        let (TableKind::Voxels, Some(view)) = (env.tables[t].kind, input.view()) else {
            out.push(None);
            continue;
        };
        let set = match plan.tables[t].access {
            Access::Range { center, radius } => view.voxels_within(center, radius),
            _ => view.voxels_within([0.0; 3], (view.config().bounds * 2.0) as f32),
        }
        .map_err(|e| Error::engine(at[t], e))?;
        out.push(Some(set));
    }
    Ok(out)
}

/// What the executor needs of one query's maps.
pub struct Maps<'m, 'a> {
    /// The entries of FROM.
    pub inputs: &'m [Input<'a>],
    /// Their voxel sets (VOXELS maps only).
    pub voxels: &'a [Option<VoxelSet>],
    /// Where each is named (for engine errors).
    pub at: &'m [crate::error::Pos],
    /// LIMIT + OFFSET.
    pub fetch: usize,
}

impl std::fmt::Debug for Maps<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maps").field("fetch", &self.fetch).finish()
    }
}

/// The rows of map `t` by its access path that pass its filter, with the attention
/// weights when the access computed them.
fn table_rows<'a>(
    env: &Env<'_>,
    plan: &Plan<'_>,
    maps: &Maps<'_, 'a>,
    t: usize,
) -> Result<(Vec<Row<'a>>, Option<Vec<f32>>)> {
    let tp = &plan.tables[t];
    let n = env.tables.len();
    let at = maps.at[t];
    let mut tuple = vec![Row::Null; n];
    let mut keep = |row: Row<'a>, filter: &[&Expr]| -> Result<bool> {
        tuple[t] = row;
        passes(env, filter, &tuple, 0)
    };
    let mut out = Vec::new();
    let view = match maps.inputs[t] {
        Input::Map(v) => v,
        Input::Rel(r) => {
            for i in 0..r.rows.len() {
                if keep(Row::Rel(r, i), &tp.filter)? {
                    out.push(Row::Rel(r, i));
                }
            }
            return Ok((out, None));
        }
    };
    if let Some(set) = &maps.voxels[t] {
        for c in 0..set.len() {
            let row = Row::Vox(set, c);
            if keep(row, &tp.filter)? {
                out.push(row);
            }
        }
        return Ok((out, None));
    }
    match &tp.access {
        Access::Scan => {
            for o in view.objects() {
                if keep(Row::Obj(o), &tp.filter)? {
                    out.push(Row::Obj(o));
                }
            }
        }
        Access::Range { center, radius } => {
            let hits = view
                .within(*center, *radius)
                .map_err(|e| Error::engine(at, e))?;
            out.reserve(hits.len());
            for o in hits {
                if keep(Row::Obj(o), &tp.filter)? {
                    out.push(Row::Obj(o));
                }
            }
        }
        Access::Nearest { point } => {
            // With a filter, fetch some more at once: it may reject neighbours.
            let mut k = if tp.filter.is_empty() {
                maps.fetch
            } else {
                maps.fetch.max(16)
            };
            loop {
                let hits = view.nearest(*point, k).map_err(|e| Error::engine(at, e))?;
                let exhausted = hits.len() < k;
                out.clear();
                for (o, _) in hits {
                    if keep(Row::Obj(o), &tp.filter)? {
                        out.push(Row::Obj(o));
                    }
                }
                if out.len() >= maps.fetch || exhausted {
                    break;
                }
                k = k.max(4).saturating_mul(4);
            }
        }
        Access::AttentionTop { query, within } => {
            let candidates = match within {
                None => Candidates::All,
                Some((center, radius)) => Candidates::Within {
                    center: *center,
                    radius: *radius,
                },
            };
            let top = view
                .attention(query, candidates, maps.fetch)
                .map_err(|e| Error::engine(at, e))?;
            let mut weights = Vec::with_capacity(top.len());
            for (o, w) in top {
                out.push(Row::Obj(o));
                weights.push(w);
            }
            return Ok((out, Some(weights)));
        }
    }
    Ok((out, None))
}

/// The tuples that pass WHERE, and attention weights when the access computed them.
pub fn run<'a>(
    env: &mut Env<'_>,
    plan: &Plan<'_>,
    maps: &Maps<'_, 'a>,
) -> Result<(Tuples<'a>, Option<Vec<f32>>)> {
    let n = env.tables.len();
    let mut cur = Tuples::new(n);
    let mut weights = None;
    // The clock is read for EXPLAIN ANALYZE only.
    let mut clock = env.profile.is_some().then(std::time::Instant::now);
    let since =
        |t: Option<std::time::Instant>| t.map_or(std::time::Duration::ZERO, |t| t.elapsed());
    if n == 0 {
        cur.len = 1;
    } else {
        let (rows, w) = table_rows(env, plan, maps, plan.driver)?;
        weights = w;
        if n == 1 {
            // One map: its rows are the tuples, without a copy.
            crate::limits::charge(std::mem::size_of_val(rows.as_slice()));
            cur = Tuples {
                width: 1,
                len: rows.len(),
                rows,
            };
        } else {
            let mut tuple = vec![Row::Null; n];
            for r in rows {
                tuple[plan.driver] = r;
                cur.push(&tuple);
            }
        }
    }
    if let Some(pr) = env.profile.as_mut() {
        pr.driver = (cur.len, since(clock));
        clock = Some(std::time::Instant::now());
    }
    for step in &plan.joins {
        cur = join_step(env, plan, maps, step, &cur)?;
        if let Some(pr) = env.profile.as_mut() {
            pr.joins.push((cur.len, since(clock)));
            clock = Some(std::time::Instant::now());
        }
    }
    if !plan.residual.is_empty() {
        // Batch calls in the conditions run once over all the tuples (batch.rs); their
        // values are indexed by these tuples, so they are dropped once the filter is done.
        let before = env.batched.len();
        crate::batch::compute(env, &plan.residual, &cur)?;
        let mut kept = Tuples::new(n);
        for i in 0..cur.len {
            if passes(env, &plan.residual, cur.get(i), i)? {
                kept.push(cur.get(i));
            }
        }
        env.batched.truncate(before);
        cur = kept;
        if let Some(pr) = env.profile.as_mut() {
            pr.residual = Some((cur.len, since(clock)));
        }
    }
    Ok((cur, weights))
}

/// Joins map `step.table` to each tuple of `left`.
fn join_step<'a>(
    env: &Env<'_>,
    plan: &Plan<'_>,
    maps: &Maps<'_, 'a>,
    step: &JoinStep<'_>,
    left: &Tuples<'a>,
) -> Result<Tuples<'a>> {
    let t = step.table;
    let tp = &plan.tables[t];
    let view = maps.inputs[t].view().copied();
    let at = maps.at[t];
    // Conditions on each candidate of a probe: the map's own, then the join's.
    let own: Vec<&Expr> = tp
        .answered
        .into_iter()
        .chain(tp.filter.iter().copied())
        .collect();
    let looped = match step.probe {
        Probe::Loop => Some(table_rows(env, plan, maps, t)?.0),
        _ => None,
    };
    let mut out = Tuples::new(left.width);
    let mut tuple = vec![Row::Null; left.width];
    let mut matches: Vec<Row<'a>> = Vec::new();
    for i in 0..left.len {
        tuple.copy_from_slice(left.get(i));
        matches.clear();
        match &step.probe {
            Probe::Loop => {
                for &r in looped.iter().flatten() {
                    tuple[t] = r;
                    if passes(env, &step.on, &tuple, 0)? {
                        matches.push(r);
                    }
                }
            }
            Probe::Within {
                center, radius: r, ..
            } => {
                let c = env.eval(center, Scope::Row(&tuple, 0))?;
                let rv = env.eval(r, Scope::Row(&tuple, 0))?;
                if let (Some(view), false) = (view, c == Value::Null || rv == Value::Null) {
                    let c = point(&c, center.pos, "WITHIN")?;
                    let rv = radius(&rv, r.pos)?;
                    for o in view.within(c, rv).map_err(|e| Error::engine(at, e))? {
                        tuple[t] = Row::Obj(o);
                        if passes(env, &own, &tuple, 0)? && passes(env, &step.on, &tuple, 0)? {
                            matches.push(Row::Obj(o));
                        }
                    }
                }
            }
            Probe::Nearest { center, k } => {
                let c = env.eval(center, Scope::Row(&tuple, 0))?;
                if let (Some(view), false) = (view, c == Value::Null) {
                    let c = point(&c, center.pos, "DISTANCE")?;
                    let mut want = (*k).max(16);
                    loop {
                        let hits = view.nearest(c, want).map_err(|e| Error::engine(at, e))?;
                        let exhausted = hits.len() < want;
                        matches.clear();
                        for (o, _) in hits {
                            tuple[t] = Row::Obj(o);
                            if passes(env, &own, &tuple, 0)? && passes(env, &step.on, &tuple, 0)? {
                                matches.push(Row::Obj(o));
                                if matches.len() == *k {
                                    break;
                                }
                            }
                        }
                        if matches.len() >= *k || exhausted {
                            break;
                        }
                        want = want.saturating_mul(4);
                    }
                }
            }
        }
        for &r in &matches {
            tuple[t] = r;
            out.push(&tuple);
        }
        if matches.is_empty() && step.kind == JoinKind::Left {
            tuple[t] = Row::Null;
            out.push(&tuple);
        }
    }
    Ok(out)
}
