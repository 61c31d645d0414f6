//! The planner: which index answers each map of a query, how maps are joined, and the
//! plan EXPLAIN prints.
//!
//! - WHERE is split into its AND-ed conjuncts. A conjunct that reads one map only is
//!   pushed down to that map (for the first map and inner joins; a LEFT join's map only
//!   takes the conjuncts of its ON). A pushed `WITHIN(position | center, const, const)` is
//!   answered by the map's R-tree (objects) or octree (voxels), never by a scan.
//! - One map: `ORDER BY DISTANCE(position, p) [ASC] LIMIT k` is the R-tree's nearest
//!   neighbours; `ORDER BY ATTENTION(q) DESC LIMIT k` with no filter but a WITHIN is the
//!   engine's top-k attention (its softmax runs over the same candidates as WHERE).
//! - A join of map `b` to the maps before it: a conjunct `WITHIN(b.position, e, r)` (either
//!   argument order) whose `e` and `r` read only earlier maps makes an index nested-loop
//!   join, one R-tree range search of `b` per row; two maps joined on such a WITHIN with
//!   a constant radius are driven by the smaller one. Without such a WITHIN, `ORDER BY
//!   DISTANCE(a.position, b.position) LIMIT k` takes each row's k nearest from b's tree
//!   (the k nearest pairs are among them). Anything else is a nested loop over `b`'s
//!   rows, read once.

use tensormap_engine::{format_number, Value};

use crate::ast::{BinOp, Expr, ExprKind, JoinKind, Select, Source};
use crate::error::Result;
use crate::eval::{Env, Scope, TableKind};
use crate::join::Input;

/// How one map's rows are found.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every row.
    Scan,
    /// Rows within `radius` of `center`, from the spatial index.
    Range {
        /// Centre.
        center: [f32; 3],
        /// Radius.
        radius: f32,
    },
    /// The nearest objects to `point`, as many as LIMIT + OFFSET need after WHERE.
    Nearest {
        /// The point.
        point: [f32; 3],
    },
    /// The top `LIMIT + OFFSET` objects by attention weight.
    AttentionTop {
        /// The query vector.
        query: Vec<f32>,
        /// Candidates restricted to a sphere.
        within: Option<([f32; 3], f32)>,
    },
}

/// One map of FROM: how its rows are found and the conjuncts pushed down to it.
#[derive(Debug, Clone)]
pub struct TablePlan<'q> {
    /// How its rows are found.
    pub access: Access,
    /// The conjunct the access answers exactly (not evaluated again when scanning).
    pub answered: Option<&'q Expr>,
    /// Conjuncts of this map alone, evaluated on each of its rows.
    pub filter: Vec<&'q Expr>,
}

/// How a joined map's rows are found for each row of the maps before it.
#[derive(Debug, Clone)]
pub enum Probe<'q> {
    /// A range search of its R-tree around `center` (an expression over earlier maps).
    Within {
        /// The centre.
        center: &'q Expr,
        /// The radius.
        radius: &'q Expr,
        /// The WITHIN conjunct (answered by the search).
        conjunct: &'q Expr,
    },
    /// Its `k` nearest objects (more while conditions reject them).
    Nearest {
        /// The point.
        center: &'q Expr,
        /// LIMIT + OFFSET.
        k: usize,
    },
    /// Its rows, read once, against every row.
    Loop,
}

/// One join step: map `table` joined to the maps before it in the plan's order.
#[derive(Debug, Clone)]
pub struct JoinStep<'q> {
    /// The map (index in FROM).
    pub table: usize,
    /// INNER, LEFT or CROSS.
    pub kind: JoinKind,
    /// How its rows are found.
    pub probe: Probe<'q>,
    /// Conditions evaluated on the joined tuple (ON, and WHERE conjuncts of inner joins).
    pub on: Vec<&'q Expr>,
}

/// A query's plan.
#[derive(Debug, Clone)]
pub struct Plan<'q> {
    /// One per map of FROM.
    pub tables: Vec<TablePlan<'q>>,
    /// The map read first (index in FROM).
    pub driver: usize,
    /// The maps joined to it, in order.
    pub joins: Vec<JoinStep<'q>>,
    /// What of WHERE is left to evaluate on each joined tuple.
    pub residual: Vec<&'q Expr>,
    /// Whether rows are grouped (GROUP BY, HAVING or aggregates).
    pub aggregate: bool,
}

/// A constant: an expression that reads no column (evaluated once).
fn constant(env: &Env<'_>, e: &Expr) -> Option<Value> {
    if reads_columns(e) {
        return None;
    }
    env.eval(e, Scope::Row(&[], 0)).ok()
}

/// Whether `e` reads a column of the row (ATTENTION counts: it reads the row's weight; so
/// does a subquery, which may be correlated, and a window function).
pub fn reads_columns(e: &Expr) -> bool {
    e.any(&|x| match &x.kind {
        ExprKind::Column(_)
        | ExprKind::QualifiedColumn { .. }
        | ExprKind::Subquery(_)
        | ExprKind::Exists(_)
        | ExprKind::InSelect { .. }
        | ExprKind::Window { .. } => true,
        ExprKind::Call { name, .. } => name == "attention",
        _ => false,
    })
}

/// The maps (indexes in FROM) whose columns `e` reads; aggregates, window functions and
/// subqueries (which may read any map's columns) count as reading every map (they cannot
/// be pushed down).
pub fn tables_read(env: &Env<'_>, e: &Expr) -> Vec<usize> {
    let mut out = Vec::new();
    collect_tables(env, e, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

fn collect_tables(env: &Env<'_>, e: &Expr, out: &mut Vec<usize>) {
    match &e.kind {
        ExprKind::Column(c) => out.extend(env.resolve(None, c).ok()),
        ExprKind::QualifiedColumn { table, column } => {
            out.extend(env.resolve(Some(table), column).ok())
        }
        ExprKind::Call { name, .. }
            if name == "attention" || crate::ast::AGGREGATES.contains(&name.as_str()) =>
        {
            out.extend(0..env.tables.len())
        }
        ExprKind::Subquery(_) | ExprKind::Exists(_) | ExprKind::Window { .. } => {
            out.extend(0..env.tables.len())
        }
        ExprKind::InSelect { .. } => out.extend(0..env.tables.len()),
        _ => e.children().for_each(|c| collect_tables(env, c, out)),
    }
}

fn point_of(v: &Value) -> Option<[f32; 3]> {
    match v {
        Value::Vector(x) => <[f32; 3]>::try_from(&x[..])
            .ok()
            .filter(|p| p.iter().all(|c| c.is_finite())),
        _ => None,
    }
}

/// Whether `e` is the spatial column of map `t` (`position`, or `center` of voxels).
fn is_spatial(env: &Env<'_>, e: &Expr, t: usize) -> bool {
    let col = match env.tables[t].kind {
        TableKind::Objects => "position",
        TableKind::Voxels => "center",
        TableKind::Derived => return false,
    };
    let (table, name) = match &e.kind {
        ExprKind::Column(c) => (None, c),
        ExprKind::QualifiedColumn { table, column } => (Some(table.as_str()), column),
        _ => return false,
    };
    name == col && env.resolve(table, name) == Ok(t)
}

/// The arguments of `WITHIN(a, b, r)`.
fn within_args(e: &Expr) -> Option<(&Expr, &Expr, &Expr)> {
    match &e.kind {
        ExprKind::Call { name, args, .. } if name == "within" && args.len() == 3 => {
            Some((&args[0], &args[1], &args[2]))
        }
        _ => None,
    }
}

/// `WITHIN(<t's spatial column>, const point, const radius)` (either order) → the sphere.
fn const_within(env: &Env<'_>, e: &Expr, t: usize) -> Option<([f32; 3], f32)> {
    let (a, b, r) = within_args(e)?;
    let other = if is_spatial(env, a, t) {
        b
    } else if is_spatial(env, b, t) {
        a
    } else {
        return None;
    };
    let center = point_of(&constant(env, other)?)?;
    let radius = match constant(env, r)? {
        Value::Number(r) if r.is_finite() && r >= 0.0 => r as f32,
        _ => return None,
    };
    Some((center, radius))
}

/// The conjuncts of an AND tree.
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Binary(BinOp::And, l, r) => {
            let mut v = conjuncts(l);
            v.extend(conjuncts(r));
            v
        }
        _ => vec![e],
    }
}

/// The sphere of a top-level `WITHIN(position, const, const)` conjunct of `filter` on a
/// one-map `env` (UPDATE and DELETE use it), if any.
pub fn range_of(env: &Env<'_>, filter: &Expr) -> Option<([f32; 3], f32)> {
    conjuncts(filter)
        .into_iter()
        .find_map(|p| const_within(env, p, 0))
}

/// A map's own plan from the conjuncts pushed down to it.
fn table_plan<'q>(env: &Env<'_>, t: usize, filter: Vec<&'q Expr>) -> TablePlan<'q> {
    match filter
        .iter()
        .enumerate()
        .find_map(|(i, p)| const_within(env, p, t).map(|s| (i, s)))
    {
        Some((i, (center, radius))) => {
            let mut filter = filter;
            let answered = filter.remove(i);
            TablePlan {
                access: Access::Range { center, radius },
                answered: Some(answered),
                filter,
            }
        }
        None => TablePlan {
            access: Access::Scan,
            answered: None,
            filter,
        },
    }
}

/// `LIMIT + OFFSET`: how many ordered rows a top-k path must produce.
pub fn fetch(sel: &Select) -> usize {
    let n = sel
        .limit
        .unwrap_or(0)
        .saturating_add(sel.offset.unwrap_or(0));
    n.min(usize::MAX as u64) as usize
}

/// Plans `sel` (ORDER BY already has aliases replaced); `inputs` are the entries of FROM.
pub fn plan<'q>(
    env: &Env<'_>,
    sel: &'q Select,
    order_by: &'q [(Expr, bool)],
    inputs: &[Input<'_>],
) -> Result<Plan<'q>> {
    let n = env.tables.len();
    let aggregate = sel.having.is_some()
        || !sel.group_by.is_empty()
        || sel
            .items
            .iter()
            .any(|i| matches!(i, crate::ast::SelectItem::Expr(e, _) if e.has_aggregate()))
        || order_by.iter().any(|(e, _)| e.has_aggregate());
    // Which map each conjunct can go to: the first map and inner joins take WHERE's.
    let kinds: Vec<JoinKind> = std::iter::once(JoinKind::Inner)
        .chain(sel.joins.iter().map(|j| j.kind))
        .collect();
    let mut pushed: Vec<Vec<&Expr>> = vec![Vec::new(); n];
    let mut residual = Vec::new();
    for c in sel.filter.iter().flat_map(conjuncts) {
        // A conjunct calling a batch function on the rows (a model's `m_score`) is checked
        // after the joins, over all the tuples at once: one batched call (batch.rs).
        if crate::batch::reads_rows(env, c) {
            residual.push(c);
            continue;
        }
        match tables_read(env, c)[..] {
            [t] if kinds[t] != JoinKind::Left && n > 0 => pushed[t].push(c),
            _ => residual.push(c),
        }
    }
    let mut on: Vec<Vec<&Expr>> = vec![Vec::new(); n];
    for (j, join) in sel.joins.iter().enumerate() {
        let t = j + 1;
        for c in join.on.iter().flat_map(conjuncts) {
            match tables_read(env, c)[..] {
                [x] if x == t => pushed[t].push(c),
                _ => on[t].push(c),
            }
        }
    }
    // Inner joins evaluate WHERE's multi-map conjuncts as soon as their maps are there.
    let all_inner = kinds.iter().all(|k| *k != JoinKind::Left);
    if all_inner && n > 1 {
        for c in std::mem::take(&mut residual) {
            let last = tables_read(env, c).last().copied().unwrap_or(0);
            if last > 0 && !crate::batch::reads_rows(env, c) {
                on[last].push(c);
            } else {
                residual.push(c);
            }
        }
    }
    let tables: Vec<TablePlan<'_>> = pushed
        .into_iter()
        .enumerate()
        .map(|(t, f)| table_plan(env, t, f))
        .collect();
    let mut plan = Plan {
        tables,
        driver: 0,
        joins: Vec::new(),
        residual,
        aggregate,
    };
    // A window function sees every row that passes WHERE: no top-k access then.
    let windowed = sel
        .items
        .iter()
        .any(|i| matches!(i, crate::ast::SelectItem::Expr(e, _) if e.has_window()))
        || order_by.iter().any(|(e, _)| e.has_window());
    if n == 1 && !windowed {
        single_map_top(env, sel, order_by, &mut plan);
    }
    for t in 1..n {
        let probe = probe_for(env, t, &mut on[t], |x| x < t);
        plan.joins.push(JoinStep {
            table: t,
            kind: kinds[t],
            probe,
            on: std::mem::take(&mut on[t]),
        });
    }
    if n == 2 && kinds[1] != JoinKind::Left && !windowed {
        two_map_order(env, sel, order_by, inputs, &mut plan);
    }
    Ok(plan)
}

/// A probe of map `t` from the conjuncts `on` (the WITHIN it uses is taken out of them).
fn probe_for<'q>(
    env: &Env<'_>,
    t: usize,
    on: &mut Vec<&'q Expr>,
    earlier: impl Fn(usize) -> bool,
) -> Probe<'q> {
    if env.tables[t].kind != TableKind::Objects {
        return Probe::Loop;
    }
    let found = on.iter().enumerate().find_map(|(i, c)| {
        let (a, b, r) = within_args(c)?;
        let center = if is_spatial(env, a, t) {
            b
        } else if is_spatial(env, b, t) {
            a
        } else {
            return None;
        };
        let before = |e: &Expr| tables_read(env, e).into_iter().all(&earlier);
        (before(center) && before(r) && reads_columns(center)).then_some((i, center, r, *c))
    });
    match found {
        Some((i, center, radius, conjunct)) => {
            on.remove(i);
            Probe::Within {
                center,
                radius,
                conjunct,
            }
        }
        None => Probe::Loop,
    }
}

/// One map: nearest neighbours or top-k attention answer `ORDER BY ... LIMIT`.
fn single_map_top(env: &Env<'_>, sel: &Select, order_by: &[(Expr, bool)], plan: &mut Plan<'_>) {
    // A residual condition (a batch call in WHERE) filters after the access: a top-k
    // access would then return fewer than k rows.
    if env.tables[0].kind != TableKind::Objects
        || !plan.residual.is_empty()
        || plan.aggregate
        || sel.distinct
        || sel.limit.is_none()
        || order_by.len() != 1
    {
        return;
    }
    let (key, desc) = &order_by[0];
    let ExprKind::Call { name, args, .. } = &key.kind else {
        return;
    };
    let t = &mut plan.tables[0];
    if name == "distance" && !desc && args.len() == 2 {
        let (a, b) = (&args[0], &args[1]);
        let other = if is_spatial(env, a, 0) {
            b
        } else if is_spatial(env, b, 0) {
            a
        } else {
            return;
        };
        if let Some(point) = constant(env, other).as_ref().and_then(point_of) {
            // WHERE is checked on the neighbours as they come, the WITHIN included.
            if let Some(c) = t.answered.take() {
                t.filter.insert(0, c);
            }
            t.access = Access::Nearest { point };
        }
    } else if name == "attention"
        && *desc
        && args.len() == 1
        && t.filter.is_empty()
        && plan.residual.is_empty()
    {
        if let Some(Value::Vector(q)) = constant(env, &args[0]) {
            let within = match t.access {
                Access::Range { center, radius } => Some((center, radius)),
                _ => None,
            };
            t.access = Access::AttentionTop {
                query: q.to_vec(),
                within,
            };
        }
    }
}

/// Two maps joined (inner): drive with the smaller side of a symmetric WITHIN, and answer
/// `ORDER BY DISTANCE(a.position, b.position) LIMIT k` with each row's k nearest.
fn two_map_order<'q>(
    env: &Env<'_>,
    sel: &'q Select,
    order_by: &'q [(Expr, bool)],
    inputs: &[Input<'_>],
    plan: &mut Plan<'q>,
) {
    let both_objects = env.tables.iter().all(|t| t.kind == TableKind::Objects);
    // The nearest pairs: the one ORDER BY key is the distance of the two positions.
    let nearest = both_objects
        && !plan.aggregate
        && !sel.distinct
        && sel.limit.is_some()
        && order_by.len() == 1
        && !order_by[0].1
        && matches!(&order_by[0].0.kind, ExprKind::Call { name, args, .. }
            if name == "distance" && args.len() == 2
            && ((is_spatial(env, &args[0], 0) && is_spatial(env, &args[1], 1))
                || (is_spatial(env, &args[0], 1) && is_spatial(env, &args[1], 0))));
    if !both_objects {
        return;
    }
    let estimate = |t: usize| match (&plan.tables[t].access, inputs[t].view()) {
        (Access::Range { center, radius }, Some(view)) => {
            view.within(*center, *radius).map_or(0, |v| v.len())
        }
        _ => inputs[t].len(),
    };
    let drive_second = estimate(1) < estimate(0);
    let step = &mut plan.joins[0];
    // With a WITHIN, its range search already bounds the pairs to those within r (and
    // costs what they number); without one, each row's k nearest do.
    if nearest && matches!(step.probe, Probe::Loop) {
        let ExprKind::Call { args, .. } = &order_by[0].0.kind else {
            return;
        };
        let probed = if drive_second { 0 } else { 1 };
        let center = if is_spatial(env, &args[0], probed) {
            &args[1]
        } else {
            &args[0]
        };
        step.probe = Probe::Nearest {
            center,
            k: fetch(sel),
        };
        if drive_second {
            plan.driver = 1;
            step.table = 0;
        }
        return;
    }
    if let Probe::Within {
        center,
        radius,
        conjunct,
    } = step.probe
    {
        if drive_second && is_spatial(env, center, 0) && constant(env, radius).is_some() {
            if let Some((a, b, _)) = within_args(conjunct) {
                // Probe map 0's tree around map 1's position.
                let center = if is_spatial(env, a, 1) { a } else { b };
                step.probe = Probe::Within {
                    center,
                    radius,
                    conjunct,
                };
                plan.driver = 1;
                step.table = 0;
            }
        }
    }
}

fn vec3(p: &[f32; 3]) -> String {
    Value::vector(p).to_string()
}

fn table_name(sel: &Select, t: usize) -> String {
    let Some(r) = sel.tables().nth(t) else {
        return String::new();
    };
    let source = match &r.source {
        Source::Map(m) => m.clone(),
        Source::Voxels(m) => format!("VOXELS({m})"),
        Source::Subquery(_) => "(subquery)".to_string(),
    };
    match &r.alias {
        Some(a) => format!("{source} AS {a}"),
        None => source,
    }
}

fn and_list(parts: &[&Expr]) -> String {
    parts
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The access line of map `t`.
fn access_line(env: &Env<'_>, sel: &Select, plan: &Plan<'_>, t: usize) -> String {
    let tp = &plan.tables[t];
    let source = table_name(sel, t);
    let index = match env.tables[t].kind {
        TableKind::Objects => "R-tree",
        TableKind::Voxels => "octree",
        TableKind::Derived => "",
    };
    let fetch = fetch(sel);
    let mut line = match &tp.access {
        Access::Scan => format!("Scan {source}"),
        Access::Range { center, radius } => format!(
            "{index} range search {source} within {} of {}",
            format_number(*radius as f64),
            vec3(center)
        ),
        Access::Nearest { point } => format!(
            "R-tree nearest neighbours {source} to {} (first {fetch} passing WHERE)",
            vec3(point)
        ),
        Access::AttentionTop { within, .. } => match within {
            None => format!("Attention top-{fetch} heap over all of {source}"),
            Some((c, r)) => format!(
                "Attention top-{fetch} heap over R-tree range search {source} within {} of {}",
                format_number(*r as f64),
                vec3(c)
            ),
        },
    };
    if env.tables.len() > 1 && !tp.filter.is_empty() {
        line.push_str(&format!(" where {}", and_list(&tp.filter)));
    }
    line
}

/// The plan as EXPLAIN prints it: one line per operator, the first one runs last.
pub fn explain(
    env: &Env<'_>,
    plan: &Plan<'_>,
    sel: &Select,
    order_by: &[(Expr, bool)],
) -> Vec<String> {
    let mut lines = Vec::new();
    let items: Vec<String> = sel
        .items
        .iter()
        .map(|i| match i {
            crate::ast::SelectItem::Wildcard(_) => "*".to_string(),
            crate::ast::SelectItem::TableWildcard(t, _) => format!("{t}.*"),
            crate::ast::SelectItem::Expr(e, Some(a)) => format!("{e} AS {a}"),
            crate::ast::SelectItem::Expr(e, None) => e.to_string(),
        })
        .collect();
    lines.push(format!("Project {}", items.join(", ")));
    if sel.limit.is_some() || sel.offset.is_some() {
        lines.push(format!(
            "Limit {} offset {}",
            sel.limit.map_or("all".to_string(), |l| l.to_string()),
            sel.offset.unwrap_or(0)
        ));
    }
    let presorted = plan.tables.first().is_some_and(|t| {
        matches!(
            t.access,
            Access::Nearest { .. } | Access::AttentionTop { .. }
        )
    });
    if !presorted && !env.tables.is_empty() {
        let ties: Vec<String> = env
            .tables
            .iter()
            .map(|t| {
                let tie = match t.kind {
                    TableKind::Objects => "id",
                    TableKind::Voxels => "i, j, k",
                    TableKind::Derived => "(row order)",
                };
                if env.tables.len() > 1 {
                    format!("{}.{tie} ASC", t.label)
                } else {
                    format!("{tie} ASC")
                }
            })
            .collect();
        let keys: Vec<String> = order_by
            .iter()
            .map(|(e, d)| format!("{e} {}", if *d { "DESC" } else { "ASC" }))
            .chain(ties)
            .collect();
        lines.push(format!("Sort {}", keys.join(", ")));
    }
    if sel.distinct {
        lines.push("Distinct".to_string());
    }
    if let Some(h) = &sel.having {
        lines.push(format!("Filter groups {h}"));
    }
    if plan.aggregate {
        let keys: Vec<String> = sel.group_by.iter().map(|e| e.to_string()).collect();
        lines.push(if keys.is_empty() {
            "Aggregate (one group)".to_string()
        } else {
            format!("Aggregate group by {}", keys.join(", "))
        });
    }
    if env.tables.is_empty() {
        if !plan.residual.is_empty() {
            lines.push(format!("Filter {}", and_list(&plan.residual)));
        }
        lines.push("One row (no FROM)".to_string());
        return lines;
    }
    if env.tables.len() == 1 {
        let t = &plan.tables[0];
        let mut filter: Vec<&Expr> = t.filter.clone();
        filter.extend(plan.residual.iter().copied());
        if !filter.is_empty() {
            lines.push(format!("Filter {}", and_list(&filter)));
        }
        lines.push(access_line(env, sel, plan, 0));
        return lines;
    }
    if !plan.residual.is_empty() {
        lines.push(format!("Filter {}", and_list(&plan.residual)));
    }
    for step in plan.joins.iter().rev() {
        let kind = match step.kind {
            JoinKind::Inner => "inner",
            JoinKind::Left => "left",
            JoinKind::Cross => "cross",
        };
        let name = table_name(sel, step.table);
        let tp = &plan.tables[step.table];
        let mut filter: Vec<&Expr> = tp.answered.into_iter().collect();
        filter.extend(tp.filter.iter().copied());
        let mut line = match &step.probe {
            Probe::Within { center, radius, .. } => format!(
                "Index nested-loop join ({kind}): R-tree range search {name} within {radius} of {center} for each row"
            ),
            Probe::Nearest { center, k, .. } => format!(
                "Index nested-loop join ({kind}): R-tree nearest {k} of {name} to {center} for each row"
            ),
            Probe::Loop => format!(
                "Nested-loop join ({kind}): every row of {}",
                access_line(env, sel, plan, step.table)
            ),
        };
        if !matches!(step.probe, Probe::Loop) && !filter.is_empty() {
            line.push_str(&format!(" where {}", and_list(&filter)));
        }
        if !step.on.is_empty() {
            line.push_str(&format!(" on {}", and_list(&step.on)));
        }
        lines.push(line);
    }
    lines.push(format!("  {}", access_line(env, sel, plan, plan.driver)));
    lines
}
