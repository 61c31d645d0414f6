//! Running a whole query: `WITH` queries (materialized in order, each visible to those
//! after it and to the query), compound queries (`UNION [ALL]`, `INTERSECT`, `EXCEPT`, then the
//! compound's ORDER BY and LIMIT), subqueries in FROM (materialized, read like a map
//! without index), and subqueries in expressions ([`Subqueries`], called by `eval/`).
//!
//! Each SELECT core runs through the planner and executor as a query on maps does, so an
//! R-tree range search, nearest neighbours or top-k attention answers the maps read
//! inside a subquery or a WITH query just as at the top level; EXPLAIN shows the plan of
//! each query, indented under the operator that uses it.

use std::collections::HashSet;
use std::sync::Arc;

use tensormap_engine::{MapView, Registry, Value};

use crate::ast::{Expr, Select, SetOp, Source};
use crate::error::{Error, Pos, Result};
use crate::eval::{Checked, ColRef, Env, Key, Relation, Subqueries, TableInfo};
use crate::exec::QueryResult;
use crate::join::Input;

/// What a statement's queries read: its maps by name, the functions, and the WITH
/// queries in scope.
#[derive(Clone)]
pub struct Ctx<'c, 'a> {
    /// The maps the statement names (some names may be WITH queries instead).
    maps: &'c [(String, MapView<'a>)],
    /// User, model and batch functions.
    functions: &'c Registry,
    /// The WITH queries in scope, innermost last (during checks: their columns only).
    ctes: Vec<(String, Arc<Relation>)>,
}

impl std::fmt::Debug for Ctx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field(
                "maps",
                &self.maps.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "ctes",
                &self.ctes.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Where a query starts, for errors about the whole of it.
fn query_pos(sel: &Select) -> Pos {
    sel.items
        .iter()
        .map(|i| match i {
            crate::ast::SelectItem::Expr(e, _) => e.pos,
            crate::ast::SelectItem::Wildcard(s) | crate::ast::SelectItem::TableWildcard(_, s) => {
                s.0
            }
        })
        .next()
        .unwrap_or(Pos { line: 1, col: 1 })
}

/// The core of a compound's operand: the SELECT without WITH, operands, ORDER BY, LIMIT.
fn core_of(sel: &Select) -> Select {
    Select {
        distinct: sel.distinct,
        items: sel.items.clone(),
        from: sel.from.clone(),
        joins: sel.joins.clone(),
        filter: sel.filter.clone(),
        group_by: sel.group_by.clone(),
        having: sel.having.clone(),
        ..Select::default()
    }
}

/// Every map name a query reads, with where it is named (WITH names included: they are
/// told apart when the query runs).
pub fn map_names(sel: &Select, out: &mut Vec<(String, Pos)>) {
    for c in &sel.with {
        map_names(&c.query, out);
    }
    for t in sel.tables() {
        match &t.source {
            Source::Map(m) | Source::Voxels(m) => {
                if !out.iter().any(|(n, _)| n == m) {
                    out.push((m.clone(), t.pos.0));
                }
            }
            Source::Subquery(q) => map_names(q, out),
        }
    }
    for e in sel.exprs() {
        each_query(e, &mut |q| map_names(q, out));
    }
    for (_, q) in &sel.compound {
        map_names(q, out);
    }
}

/// Every map name the subqueries of `e` read, with where it is named (UPDATE and DELETE).
pub fn expr_map_names(e: &Expr, out: &mut Vec<(String, Pos)>) {
    each_query(e, &mut |q| map_names(q, out));
}

/// Calls `f` on the queries of the subqueries in `e` (not those nested in them).
fn each_query(e: &Expr, f: &mut dyn FnMut(&Select)) {
    if let Some(q) = e.query() {
        f(q);
    }
    for c in e.children() {
        each_query(c, f);
    }
}

/// The names of every WITH query of `sel` and the queries in it.
pub fn cte_names(sel: &Select, out: &mut Vec<String>) {
    for c in &sel.with {
        out.push(c.name.clone());
        cte_names(&c.query, out);
    }
    for t in sel.tables() {
        if let Source::Subquery(q) = &t.source {
            cte_names(q, out);
        }
    }
    for e in sel.exprs() {
        each_query(e, &mut |q| cte_names(q, out));
    }
    for (_, q) in &sel.compound {
        cte_names(q, out);
    }
}

impl<'c, 'a> Ctx<'c, 'a> {
    /// A context over `maps` (by name).
    pub fn new(maps: &'c [(String, MapView<'a>)], functions: &'c Registry) -> Self {
        Ctx {
            maps,
            functions,
            ctes: Vec::new(),
        }
    }

    /// The map named `name`, if the statement opened it.
    pub fn view(&self, name: &str) -> Option<MapView<'a>> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    fn cte(&self, name: &str) -> Option<&Arc<Relation>> {
        self.ctes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r)
    }

    fn missing(pos: Pos, name: &str) -> Error {
        Error::engine(pos, tensormap_engine::Error::MapNotFound(name.to_string()))
    }

    /// Runs `sel`, with `outer` the maps of the queries around it and `values` the
    /// outer columns it reads.
    pub fn query(
        &self,
        sel: &Select,
        outer: &[TableInfo],
        values: &[(ColRef, Value)],
    ) -> Result<QueryResult> {
        if sel.with.is_empty() {
            return self.body(sel, outer, values);
        }
        let mut child = self.clone();
        for c in &sel.with {
            let r = child.query(&c.query, outer, values)?;
            let names = renamed(c, r.columns)?;
            child.ctes.push((
                c.name.clone(),
                Arc::new(Relation {
                    names,
                    rows: r.rows,
                }),
            ));
        }
        child.body(sel, outer, values)
    }

    /// A query without its WITH: one core, or a compound.
    fn body(
        &self,
        sel: &Select,
        outer: &[TableInfo],
        values: &[(ColRef, Value)],
    ) -> Result<QueryResult> {
        if sel.compound.is_empty() {
            return self.core(sel, outer, values);
        }
        let first = self.core(&core_of(sel), outer, values)?;
        let names = first.columns;
        let mut rows = first.rows;
        let mut distinct = false;
        for (op, q) in &sel.compound {
            let r = self.core(q, outer, values)?;
            if r.columns.len() != names.len() {
                return Err(Error::syntax(
                    query_pos(q),
                    format!(
                        "the queries of {} have {} and {} columns: they must have as many",
                        op.keyword(),
                        names.len(),
                        r.columns.len()
                    ),
                ));
            }
            rows = combine(*op, rows, r.rows, &mut distinct);
        }
        if !sel.order_by.is_empty() {
            sort_compound(sel, &names, &mut rows)?;
        }
        let offset = sel.offset.unwrap_or(0).min(usize::MAX as u64) as usize;
        let limit = sel
            .limit
            .map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize);
        let rows: Vec<Vec<Value>> = rows.into_iter().skip(offset).take(limit).collect();
        Ok(QueryResult {
            status: format!("SELECT {}", rows.len()),
            columns: names,
            rows,
        })
    }

    /// The entries of FROM: what each reads and how expressions see it. FROM subqueries
    /// are run into `owned` first.
    fn inputs<'r>(
        &'r self,
        sel: &Select,
        owned: &'r [Relation],
    ) -> Result<(Vec<Input<'r>>, Vec<TableInfo>)>
    where
        'a: 'r,
    {
        let mut inputs = Vec::new();
        let mut infos = Vec::new();
        let mut next = 0;
        for t in sel.tables() {
            let label = t.label();
            match &t.source {
                Source::Map(m) => {
                    if let Some(r) = self.cte(m) {
                        inputs.push(Input::Rel(r));
                        infos.push(TableInfo::derived(label, &r.names));
                    } else {
                        let v = self.view(m).ok_or_else(|| Self::missing(t.pos.0, m))?;
                        inputs.push(Input::Map(v));
                        infos.push(TableInfo::objects_with(label, v.columns()));
                    }
                }
                Source::Voxels(m) => {
                    let v = self.view(m).ok_or_else(|| Self::missing(t.pos.0, m))?;
                    inputs.push(Input::Map(v));
                    infos.push(TableInfo::voxels(label));
                }
                Source::Subquery(_) => {
                    let r = owned.get(next).ok_or_else(|| {
                        Error::internal(t.pos.0, "a FROM subquery was not materialized")
                    })?;
                    next += 1;
                    inputs.push(Input::Rel(r));
                    infos.push(TableInfo::derived(label, &r.names));
                }
            }
        }
        Ok((inputs, infos))
    }

    /// The subqueries of FROM, run.
    fn run_from_subqueries(
        &self,
        sel: &Select,
        outer: &[TableInfo],
        values: &[(ColRef, Value)],
    ) -> Result<Vec<Relation>> {
        let mut owned = Vec::new();
        for t in sel.tables() {
            if let Source::Subquery(q) = &t.source {
                // A FROM subquery does not see the maps beside it (no LATERAL), only
                // those of the queries around this one.
                let r = self.query(q, outer, values)?;
                owned.push(Relation {
                    names: r.columns,
                    rows: r.rows,
                });
            }
        }
        Ok(owned)
    }

    /// An environment for a query core over `infos`.
    fn env<'e>(
        &'e self,
        infos: Vec<TableInfo>,
        outer: &[TableInfo],
        values: &[(ColRef, Value)],
    ) -> Env<'e> {
        let mut env = Env::new(self.functions, infos);
        env.outer = outer.to_vec();
        env.outer_values = values.to_vec();
        env.runner = Some(self);
        env
    }

    /// One SELECT core (with its own ORDER BY and LIMIT when it is not a compound).
    fn core(
        &self,
        sel: &Select,
        outer: &[TableInfo],
        values: &[(ColRef, Value)],
    ) -> Result<QueryResult> {
        let owned = self.run_from_subqueries(sel, outer, values)?;
        let (inputs, infos) = self.inputs(sel, &owned)?;
        let env = self.env(infos, outer, values);
        crate::exec::select(env, &inputs, sel)
    }

    /// Checks every name of `sel` (inside queries over `outer`) without reading a row.
    pub fn check_query(&self, sel: &Select, outer: &[TableInfo]) -> Result<Checked> {
        let mut child = self.clone();
        let mut free: Vec<ColRef> = Vec::new();
        let add = |free: &mut Vec<ColRef>, more: Vec<ColRef>| {
            for r in more {
                if !free.contains(&r) {
                    free.push(r);
                }
            }
        };
        for c in &sel.with {
            let checked = child.check_query(&c.query, outer)?;
            add(&mut free, checked.outer);
            let names = renamed(c, checked.names)?;
            child.ctes.push((
                c.name.clone(),
                Arc::new(Relation {
                    names,
                    rows: Vec::new(),
                }),
            ));
        }
        let head = if sel.compound.is_empty() {
            None
        } else {
            Some(core_of(sel))
        };
        let cores = std::iter::once(head.as_ref().unwrap_or(sel))
            .chain(sel.compound.iter().map(|(_, q)| q));
        let mut names: Option<Vec<String>> = None;
        for (i, core) in cores.enumerate() {
            let mut placeholders = Vec::new();
            for t in core.tables() {
                if let Source::Subquery(q) = &t.source {
                    let checked = child.check_query(q, outer)?;
                    add(&mut free, checked.outer);
                    placeholders.push(Relation {
                        names: checked.names,
                        rows: Vec::new(),
                    });
                }
            }
            let (_, infos) = child.inputs(core, &placeholders)?;
            let env = child.env(infos, outer, &[]);
            let prepared = crate::exec::prepare(&env, core)?;
            let found = std::mem::take(&mut *env.free.lock().unwrap_or_else(|p| p.into_inner()));
            add(&mut free, found);
            match &names {
                None => names = Some(prepared.names.clone()),
                Some(n) if n.len() != prepared.names.len() => {
                    let op = sel.compound[i - 1].0;
                    return Err(Error::syntax(
                        query_pos(core),
                        format!(
                            "the queries of {} have {} and {} columns: they must have as many",
                            op.keyword(),
                            n.len(),
                            prepared.names.len()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let names = names.unwrap_or_default();
        if !sel.compound.is_empty() {
            for (e, _) in &sel.order_by {
                compound_key(e, &names)?;
            }
        }
        Ok(Checked { outer: free, names })
    }

    /// EXPLAIN of `sel`: its plan, and those of its WITH queries, FROM subqueries and
    /// subqueries, indented under it.
    pub fn explain(&self, sel: &Select, outer: &[TableInfo], depth: usize) -> Result<Vec<String>> {
        let pad = "  ".repeat(depth);
        let mut lines = Vec::new();
        let mut child = self.clone();
        for c in &sel.with {
            lines.push(format!("{pad}WITH {} (run once):", c.name));
            lines.extend(child.explain(&c.query, outer, depth + 1)?);
            let checked = child.check_query(&c.query, outer)?;
            let names = renamed(c, checked.names)?;
            child.ctes.push((
                c.name.clone(),
                Arc::new(Relation {
                    names,
                    rows: Vec::new(),
                }),
            ));
        }
        let head = if sel.compound.is_empty() {
            None
        } else {
            let keys: Vec<String> = sel
                .order_by
                .iter()
                .map(|(e, d)| format!("{e} {}", if *d { "DESC" } else { "ASC" }))
                .collect();
            if sel.limit.is_some() || sel.offset.is_some() {
                lines.push(format!(
                    "{pad}Limit {} offset {}",
                    sel.limit.map_or("all".to_string(), |l| l.to_string()),
                    sel.offset.unwrap_or(0)
                ));
            }
            if !keys.is_empty() {
                lines.push(format!("{pad}Sort {}", keys.join(", ")));
            }
            let ops: Vec<&str> = sel.compound.iter().map(|(op, _)| op.keyword()).collect();
            lines.push(format!("{pad}Compound {}", ops.join(", ")));
            Some(core_of(sel))
        };
        let inner = if head.is_some() { depth + 1 } else { depth };
        let cores = std::iter::once(head.as_ref().unwrap_or(sel))
            .chain(sel.compound.iter().map(|(_, q)| q));
        for core in cores {
            lines.extend(child.explain_core(core, outer, inner)?);
        }
        Ok(lines)
    }

    fn explain_core(&self, sel: &Select, outer: &[TableInfo], depth: usize) -> Result<Vec<String>> {
        let pad = "  ".repeat(depth);
        let mut placeholders = Vec::new();
        let mut sub_lines = Vec::new();
        for t in sel.tables() {
            if let Source::Subquery(q) = &t.source {
                sub_lines.push(format!("{pad}  Subquery {} (run once):", t.label()));
                sub_lines.extend(self.explain(q, outer, depth + 2)?);
                placeholders.push(Relation {
                    names: self.check_query(q, outer)?.names,
                    rows: Vec::new(),
                });
            }
        }
        let (inputs, infos) = self.inputs(sel, &placeholders)?;
        let env = self.env(infos, outer, &[]);
        let mut lines: Vec<String> = crate::exec::explain(&env, &inputs, sel)?
            .into_iter()
            .map(|l| format!("{pad}{l}"))
            .collect();
        lines.extend(sub_lines);
        // Subqueries in expressions, in the order they are written.
        let mut around = env.tables.clone();
        around.extend(outer.iter().cloned());
        let mut found: Vec<(Pos, &Select)> = Vec::new();
        for e in sel.exprs() {
            collect_subqueries(e, &mut found);
        }
        for (pos, q) in found {
            let checked = self.check_query(q, &around)?;
            let how = if checked.outer.is_empty() {
                "run once".to_string()
            } else {
                let cols: Vec<String> = checked
                    .outer
                    .iter()
                    .map(|(t, c)| match t {
                        Some(t) => format!("{t}.{c}"),
                        None => c.clone(),
                    })
                    .collect();
                format!(
                    "correlated on {}: run once per distinct value",
                    cols.join(", ")
                )
            };
            lines.push(format!(
                "{pad}  Subquery at {}:{} ({how}):",
                pos.line, pos.col
            ));
            lines.extend(self.explain(q, &around, depth + 2)?);
        }
        Ok(lines)
    }
}

impl Ctx<'_, '_> {
    /// EXPLAIN ANALYZE of `sel`: it runs, and its plan comes with the rows each operator
    /// gave and its time (`rows=N time=T ms`); a WITH or compound query's parts are run
    /// as a whole and its total is given.
    pub fn analyze(&self, sel: &Select) -> Result<Vec<String>> {
        let started = std::time::Instant::now();
        if !sel.with.is_empty() || !sel.compound.is_empty() {
            let mut lines = self.explain(sel, &[], 0)?;
            let r = self.query(sel, &[], &[])?;
            lines.push(format!(
                "Total: {} rows in {}",
                r.rows.len(),
                ms(started.elapsed())
            ));
            return Ok(lines);
        }
        let plan = self.explain(sel, &[], 0)?;
        let owned = self.run_from_subqueries(sel, &[], &[])?;
        let (inputs, infos) = self.inputs(sel, &owned)?;
        let mut env = self.env(infos, &[], &[]);
        env.profile = Some(crate::exec::Profile::default());
        let r = crate::exec::select_in(&mut env, &inputs, sel)?;
        let p = env.profile.take().unwrap_or_default();
        let figure = |(n, t): (usize, std::time::Duration)| format!("  (rows={n} time={})", ms(t));
        // Join lines are printed last step first; the driver's access line last.
        let mut joins = p.joins.iter().rev();
        let mut lines = Vec::with_capacity(plan.len() + 1);
        let top = plan
            .iter()
            .take_while(|l| !l.starts_with("  Subquery"))
            .count();
        for (i, line) in plan.iter().enumerate() {
            let t = line.trim_start();
            let nested = line.starts_with("    ") || i >= top;
            let extra = if nested {
                String::new()
            } else if t.starts_with("Project") || t.starts_with("Limit") {
                figure(p.out)
            } else if t.starts_with("Sort") || t.starts_with("Distinct") {
                figure(p.sorted)
            } else if t.starts_with("Filter groups") {
                p.having.map_or(String::new(), |n| format!("  (rows={n})"))
            } else if t.starts_with("Aggregate") {
                p.groups.map_or(String::new(), figure)
            } else if t.starts_with("Filter") {
                match p.residual {
                    Some(f) if !p.joins.is_empty() => figure(f),
                    _ => figure(p.driver),
                }
            } else if t.starts_with("Index nested-loop join") || t.starts_with("Nested-loop join") {
                joins.next().map_or(String::new(), |f| figure(*f))
            } else if i + 1 == top || t.starts_with("One row") {
                figure(p.driver)
            } else {
                String::new()
            };
            lines.push(format!("{line}{extra}"));
        }
        lines.push(format!(
            "Total: {} rows in {}",
            r.rows.len(),
            ms(started.elapsed())
        ));
        Ok(lines)
    }
}

/// A duration in milliseconds, as EXPLAIN ANALYZE prints it.
fn ms(d: std::time::Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn collect_subqueries<'q>(e: &'q Expr, out: &mut Vec<(Pos, &'q Select)>) {
    if let Some(q) = e.query() {
        out.push((e.pos, q));
    }
    for c in e.children() {
        collect_subqueries(c, out);
    }
}

impl Subqueries for Ctx<'_, '_> {
    fn check(&self, q: &Select, outer: &[TableInfo]) -> Result<Checked> {
        self.check_query(q, outer)
    }

    fn run(
        &self,
        q: &Select,
        outer: &[TableInfo],
        values: &[(ColRef, Value)],
    ) -> Result<QueryResult> {
        self.query(q, outer, values)
    }
}

/// A WITH query's column names: its own, or those given in `name (a, b)`.
fn renamed(c: &crate::ast::Cte, names: Vec<String>) -> Result<Vec<String>> {
    if c.columns.is_empty() {
        return Ok(names);
    }
    if c.columns.len() != names.len() {
        return Err(Error::syntax(
            c.pos.0,
            format!(
                "WITH {} names {} columns, its query has {}",
                c.name,
                c.columns.len(),
                names.len()
            ),
        ));
    }
    Ok(c.columns.clone())
}

/// Combines a compound's rows so far with the next operand's.
fn combine(
    op: SetOp,
    left: Vec<Vec<Value>>,
    right: Vec<Vec<Value>>,
    distinct: &mut bool,
) -> Vec<Vec<Value>> {
    let dedup = |rows: Vec<Vec<Value>>| -> Vec<Vec<Value>> {
        let mut seen = HashSet::with_capacity(rows.len());
        rows.into_iter()
            .filter(|r| seen.insert(Key::row(r)))
            .collect()
    };
    match op {
        SetOp::UnionAll => {
            let mut rows = left;
            rows.extend(right);
            *distinct = false;
            rows
        }
        SetOp::Union => {
            let mut rows = left;
            rows.extend(right);
            *distinct = true;
            dedup(rows)
        }
        SetOp::Intersect | SetOp::Except => {
            let other: HashSet<Vec<Key>> = right.iter().map(|r| Key::row(r)).collect();
            let keep = op == SetOp::Intersect;
            *distinct = true;
            dedup(
                left.into_iter()
                    .filter(|r| other.contains(&Key::row(r)) == keep)
                    .collect(),
            )
        }
    }
}

/// The result column an ORDER BY term of a compound names: a number (from 1) or a name.
fn compound_key(e: &Expr, names: &[String]) -> Result<usize> {
    use crate::ast::ExprKind;
    let found = match &e.kind {
        ExprKind::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= names.len() as f64 => {
            Some(*n as usize - 1)
        }
        ExprKind::Column(c) => names.iter().position(|x| x == c),
        ExprKind::QualifiedColumn { column, .. } => names.iter().position(|x| x == column),
        _ => None,
    };
    found.ok_or_else(|| {
        Error::syntax(
            e.pos,
            format!(
                "ORDER BY term {e} of a compound query must name one of its columns ({}) or give its number",
                names.join(", ")
            ),
        )
    })
}

/// Sorts a compound's rows by its ORDER BY (stable: equal rows keep their order).
fn sort_compound(sel: &Select, names: &[String], rows: &mut [Vec<Value>]) -> Result<()> {
    let mut keys = Vec::with_capacity(sel.order_by.len());
    for (e, desc) in &sel.order_by {
        keys.push((compound_key(e, names)?, *desc));
    }
    rows.sort_by(|a, b| {
        for &(k, desc) in &keys {
            let o = a[k].total_cmp(&b[k]);
            let o = if desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(())
}
