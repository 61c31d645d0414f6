//! The executor of one query (one SELECT core; `crate::run` handles WITH, compound
//! queries and subqueries): tuples from the plan ([`crate::join`]), attention weights,
//! grouping, aggregates and HAVING, window functions (`crate::window`), DISTINCT, ORDER BY
//! (ties broken by the maps' ids in FROM order, or by cell for voxels), OFFSET/LIMIT and
//! the select list.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use tensormap_engine::{attention_weights, Value};

use crate::ast::{Expr, ExprKind, Select, SelectItem};
use crate::error::{Error, Pos, Result};
use crate::eval::{Env, Key, Row, Scope, TableKind, Tuples};
use crate::join::{passes, run, voxel_sets, Input, Maps};
use crate::plan::{fetch, plan, Access, Plan};

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

/// What EXPLAIN ANALYZE measures of one query: the rows each stage gave and its time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Rows the first map's access gave (after its own conditions), and its time.
    pub driver: (usize, Duration),
    /// Tuples after each join step, in the plan's order, and its time.
    pub joins: Vec<(usize, Duration)>,
    /// Tuples after the rest of WHERE, and its time.
    pub residual: Option<(usize, Duration)>,
    /// Groups, and the time of grouping and aggregating.
    pub groups: Option<(usize, Duration)>,
    /// Groups after HAVING.
    pub having: Option<usize>,
    /// Rows (or groups) ordered, and the time of window functions, DISTINCT and sorting.
    pub sorted: (usize, Duration),
    /// Rows returned, and the time of projecting them.
    pub out: (usize, Duration),
}

/// Collects the `ATTENTION(q)` query arguments of `e`.
fn attention_calls<'q>(e: &'q Expr, out: &mut Vec<&'q Expr>) {
    if let ExprKind::Call { name, args, .. } = &e.kind {
        if name == "attention" && args.len() == 1 {
            out.push(&args[0]);
        }
    }
    e.children().for_each(|c| attention_calls(c, out));
}

/// One output column: an expression, or a map's column from `*`.
enum Output<'q> {
    Expr(&'q Expr),
    Column(usize, String),
}

/// A query's names, checked and resolved.
pub(crate) struct Prepared<'q> {
    outputs: Vec<Output<'q>>,
    /// The output column names.
    pub names: Vec<String>,
    /// ORDER BY with aliases and ordinals replaced by the expressions they name.
    order_by: Vec<(Expr, bool)>,
    /// For DISTINCT: which output each ORDER BY key is.
    order_outputs: Vec<usize>,
    /// GROUP BY, likewise.
    group_by: Vec<Expr>,
    /// HAVING, with aliases replaced.
    having: Option<Expr>,
}

/// `e` with every bare column that is an alias replaced by the aliased expression.
fn substitute(e: &Expr, aliased: &[(&str, &Expr)]) -> Expr {
    let mut out = e.clone();
    out.rewrite(&mut |x| {
        if let ExprKind::Column(c) = &x.kind {
            if let Some((_, a)) = aliased.iter().find(|(a, _)| a == c) {
                *x = (*a).clone();
                // The aliased expression is not looked into again (`x + 1 AS x`).
                return false;
            }
        }
        true
    });
    out
}

/// A select-list position (`ORDER BY 2`), if `e` is a whole number literal.
fn ordinal(e: &Expr) -> Option<f64> {
    match e.kind {
        ExprKind::Number(n) if n.fract() == 0.0 => Some(n),
        _ => None,
    }
}

/// The column name an expression gets: its alias, its column, or its text.
fn output_name(e: &Expr, alias: &Option<String>) -> String {
    if let Some(a) = alias {
        return a.clone();
    }
    match &e.kind {
        ExprKind::Column(c) | ExprKind::QualifiedColumn { column: c, .. } => c.clone(),
        _ => {
            let s = e.to_string();
            // `(a + b)` reads better as `a + b`: drop parentheses that wrap it all.
            let inner = s.strip_prefix('(').and_then(|x| x.strip_suffix(')'));
            match inner {
                Some(x) if balanced(x) => x.to_string(),
                _ => s,
            }
        }
    }
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Checks every name of `sel` before a row is read (so mistakes show on empty maps too).
pub(crate) fn prepare<'q>(env: &Env<'_>, sel: &'q Select) -> Result<Prepared<'q>> {
    let mut outputs = Vec::new();
    let mut names = Vec::new();
    let mut aliased: Vec<(&str, &Expr)> = Vec::new();
    for item in &sel.items {
        match item {
            SelectItem::Wildcard(pos) => {
                if env.tables.is_empty() {
                    return Err(Error::syntax(pos.0, "SELECT * needs a FROM"));
                }
                for (t, info) in env.tables.iter().enumerate() {
                    for c in info.star() {
                        names.push(c.clone());
                        outputs.push(Output::Column(t, c));
                    }
                }
            }
            SelectItem::TableWildcard(label, pos) => {
                let t = env
                    .tables
                    .iter()
                    .position(|x| x.label == *label)
                    .ok_or_else(|| {
                        Error::not_found(pos.0, format!("no map or alias named '{label}' in FROM"))
                    })?;
                for c in env.tables[t].star() {
                    names.push(c.clone());
                    outputs.push(Output::Column(t, c));
                }
            }
            SelectItem::Expr(e, alias) => {
                env.check(e, &[], None)?;
                outputs.push(Output::Expr(e));
                names.push(output_name(e, alias));
                if let Some(a) = alias {
                    aliased.push((a.as_str(), e));
                }
            }
        }
    }
    if let Some(w) = &sel.filter {
        env.check(w, &[], Some("WHERE"))?;
    }
    for j in &sel.joins {
        if let Some(on) = &j.on {
            env.check(on, &[], Some("ON"))?;
        }
    }
    // An ordinal names an output; an alias the expression it stands for.
    let by_position = |e: &Expr, clause: &str| -> Result<Option<Expr>> {
        let Some(n) = ordinal(e) else {
            return Ok(None);
        };
        if n < 1.0 || n > outputs.len() as f64 {
            return Err(Error::syntax(
                e.pos,
                format!(
                    "{clause} term {n} is out of range: the select list has {} columns",
                    outputs.len()
                ),
            ));
        }
        Ok(Some(match &outputs[n as usize - 1] {
            Output::Expr(x) => (*x).clone(),
            Output::Column(t, c) => Expr {
                kind: ExprKind::QualifiedColumn {
                    table: env.tables[*t].label.clone(),
                    column: c.clone(),
                },
                pos: e.pos,
            },
        }))
    };
    let mut group_by = Vec::new();
    for g in &sel.group_by {
        let resolved = match by_position(g, "GROUP BY")? {
            Some(x) => x,
            None => substitute(g, &aliased),
        };
        env.check(&resolved, &[], Some("GROUP BY"))?;
        group_by.push(resolved);
    }
    let having = match &sel.having {
        Some(h) => {
            let h = substitute(h, &aliased);
            if let Some(w) = window_in(&h) {
                return Err(Error::syntax(
                    w,
                    "window functions are not allowed in HAVING",
                ));
            }
            env.check(&h, &[], None)?;
            Some(h)
        }
        None => None,
    };
    let mut order_by = Vec::new();
    for (o, desc) in &sel.order_by {
        let resolved = match by_position(o, "ORDER BY")? {
            Some(x) => x,
            None => substitute(o, &aliased),
        };
        env.check(&resolved, &[], None)?;
        order_by.push((resolved, *desc));
    }
    let mut order_outputs = Vec::new();
    if sel.distinct {
        for (i, (o, _)) in order_by.iter().enumerate() {
            let found = outputs.iter().position(|x| match x {
                Output::Expr(e) => *e == o,
                Output::Column(t, c) => match &o.kind {
                    ExprKind::Column(n) => n == c && env.resolve(None, n) == Ok(*t),
                    ExprKind::QualifiedColumn { table, column } => {
                        column == c && env.resolve(Some(table), column) == Ok(*t)
                    }
                    _ => false,
                },
            });
            match found {
                Some(j) => order_outputs.push(j),
                None => {
                    return Err(Error::syntax(
                        sel.order_by[i].0.pos,
                        "ORDER BY of a SELECT DISTINCT must name a selected column",
                    ))
                }
            }
        }
    }
    Ok(Prepared {
        outputs,
        names,
        order_by,
        order_outputs,
        group_by,
        having,
    })
}

/// Where a window function is in `e`, if it holds one.
fn window_in(e: &Expr) -> Option<Pos> {
    if let ExprKind::Window { .. } = e.kind {
        return Some(e.pos);
    }
    e.children().find_map(window_in)
}

/// Where each map of FROM is named.
fn positions(sel: &Select) -> Vec<Pos> {
    sel.tables().map(|t| t.pos.0).collect()
}

/// Runs one query core on `inputs` (the entries of FROM, in order) in `env` (whose tables
/// describe them).
pub fn select(mut env: Env<'_>, inputs: &[Input<'_>], sel: &Select) -> Result<QueryResult> {
    select_in(&mut env, inputs, sel)
}

/// [`select`] in an environment the caller keeps (EXPLAIN ANALYZE reads its profile).
pub fn select_in(env: &mut Env<'_>, inputs: &[Input<'_>], sel: &Select) -> Result<QueryResult> {
    env.context.bounds = inputs
        .iter()
        .find_map(|i| i.view())
        .map(|v| v.config().bounds);
    let prepared = prepare(env, sel)?;
    let plan = plan(env, sel, &prepared.order_by, inputs)?;
    let at = positions(sel);
    let voxels = voxel_sets(env, &plan, inputs, &at)?;
    let maps = Maps {
        inputs,
        voxels: &voxels,
        at: &at,
        fetch: fetch(sel),
    };
    let (mut tuples, weights_done) = run(env, &plan, &maps)?;
    // Tuples reach the later stages in tie order unless an ORDER BY sorts them; sorted
    // before the per-tuple values below (attention weights, batch calls) are computed.
    let windowed = prepared.outputs.iter().any(|o| match o {
        Output::Expr(e) => e.has_window(),
        Output::Column(..) => false,
    }) || prepared.order_by.iter().any(|(e, _)| e.has_window());
    if !plan.aggregate
        && !presorted(env, &plan)
        && (prepared.order_by.is_empty() || sel.distinct || windowed)
    {
        sort_by_ties(&mut tuples, env);
    }
    attention(env, sel, &prepared.order_by, inputs, &tuples, weights_done)?;
    let mut exprs: Vec<&Expr> = sel
        .items
        .iter()
        .filter_map(|i| match i {
            SelectItem::Expr(e, _) => Some(e),
            _ => None,
        })
        .collect();
    exprs.extend(prepared.order_by.iter().map(|(e, _)| e));
    exprs.extend(&prepared.group_by);
    exprs.extend(&prepared.having);
    crate::batch::compute(env, &exprs, &tuples)?;
    let (result, figures) = finish(env, sel, &plan, &prepared, tuples)?;
    if let Some(pr) = env.profile.as_mut() {
        pr.sorted = figures.sorted;
        pr.out = figures.out;
    }
    Ok(result)
}

/// Whether the plan yields the rows of its one map already in ORDER BY's order.
fn presorted(env: &Env<'_>, plan: &Plan<'_>) -> bool {
    plan.tables.first().is_some_and(|t| {
        matches!(
            t.access,
            Access::Nearest { .. } | Access::AttentionTop { .. }
        )
    }) && env.tables.len() == 1
}

/// The weights of every `ATTENTION(q)` of the select list and ORDER BY, over the tuples
/// that passed WHERE (one map only: checked).
fn attention(
    env: &mut Env<'_>,
    sel: &Select,
    order_by: &[(Expr, bool)],
    inputs: &[Input<'_>],
    tuples: &Tuples<'_>,
    done: Option<Vec<f32>>,
) -> Result<()> {
    let mut calls = Vec::new();
    for item in &sel.items {
        if let SelectItem::Expr(e, _) = item {
            attention_calls(e, &mut calls);
        }
    }
    for (e, _) in order_by {
        attention_calls(e, &mut calls);
    }
    let Some(view) = inputs.first().and_then(|i| i.view()) else {
        return Ok(());
    };
    let channels = view.config().channels as usize;
    let done_key = match (&done, order_by.first()) {
        (
            Some(_),
            Some((
                Expr {
                    kind: ExprKind::Call { args, .. },
                    ..
                },
                _,
            )),
        ) => args.first().map(|q| q.to_string()),
        _ => None,
    };
    let mut done = done;
    for q in calls {
        let key = q.to_string();
        if env.attention.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let weights = match (&done_key, done.take()) {
            (Some(k), Some(w)) if *k == key => w,
            (_, d) => {
                done = d;
                let query =
                    crate::eval::as_vector(&env.eval(q, Scope::Row(&[], 0))?, q.pos, "ATTENTION")?;
                if query.len() != channels {
                    return Err(Error::invalid(
                        q.pos,
                        format!(
                            "ATTENTION query has {} values, the map has {channels} channels",
                            query.len()
                        ),
                    ));
                }
                let mut gathered = Vec::with_capacity(tuples.len * channels);
                for i in 0..tuples.len {
                    gathered.extend_from_slice(tuples.get(i)[0].attention_vector());
                }
                attention_weights(&gathered, channels, &query)
            }
        };
        env.attention.push((key, weights));
    }
    Ok(())
}

/// A unit of output: one tuple, or one group of tuples.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Tuple(u32),
    Group(u32),
}

/// Grouping, HAVING, window functions, DISTINCT, ORDER BY, OFFSET/LIMIT and projection.
fn finish(
    env: &mut Env<'_>,
    sel: &Select,
    plan: &Plan<'_>,
    p: &Prepared<'_>,
    tuples: Tuples<'_>,
) -> Result<(QueryResult, Finished)> {
    let presorted = presorted(env, plan);
    // The clock is read for EXPLAIN ANALYZE only.
    let clock = |env: &Env<'_>| env.profile.is_some().then(Instant::now);
    let since = |t: Option<Instant>| t.map_or(Duration::ZERO, |t| t.elapsed());
    let started = clock(env);
    let groups = if plan.aggregate {
        group(env, &p.group_by, &tuples)?
    } else {
        Vec::new()
    };
    let mut units: Vec<Unit> = if plan.aggregate {
        (0..groups.len() as u32).map(Unit::Group).collect()
    } else {
        // In tie order already (`select`) unless ORDER BY sorts them below.
        (0..tuples.len as u32).map(Unit::Tuple).collect()
    };
    let scope = |u: Unit| match u {
        Unit::Tuple(i) => Scope::Row(tuples.get(i as usize), i as usize),
        Unit::Group(g) => Scope::Group(&tuples, &groups[g as usize]),
    };
    if let Some(h) = &p.having {
        let mut kept = Vec::with_capacity(units.len());
        for u in units {
            let v = env.eval(h, scope(u))?;
            if crate::eval::truth(&v, h.pos, "HAVING")? == Some(true) {
                kept.push(u);
            }
        }
        units = kept;
    }
    if let Some(pr) = env.profile.as_mut() {
        if plan.aggregate {
            pr.groups = Some((groups.len(), since(started)));
            if p.having.is_some() {
                pr.having = Some(units.len());
            }
        }
    }
    let started = clock(env);
    let units_in = units.len();
    // Window functions over the rows (or groups) that are left, before DISTINCT, ORDER BY
    // and LIMIT.
    let mut calls: Vec<&Expr> = Vec::new();
    for o in &p.outputs {
        if let Output::Expr(e) = o {
            crate::window::collect(e, &mut calls);
        }
    }
    for (e, _) in &p.order_by {
        crate::window::collect(e, &mut calls);
    }
    if !calls.is_empty() {
        let scopes: Vec<Scope<'_, '_>> = units.iter().map(|&u| scope(u)).collect();
        let ties: Vec<u32> = units
            .iter()
            .map(|u| match u {
                Unit::Tuple(i) => *i,
                Unit::Group(g) => *g,
            })
            .collect();
        let windows =
            crate::window::compute(env, &calls, &scopes, &ties, tuples.len.max(1), &|a, b| {
                if plan.aggregate {
                    a.cmp(&b)
                } else {
                    tuples.tie_cmp(a as usize, b as usize)
                }
            })?;
        env.windows.extend(windows);
    }
    let env = &*env;
    let project = |o: &Output<'_>, s: Scope<'_, '_>| -> Result<Value> {
        match o {
            Output::Expr(e) => env.eval(e, s),
            Output::Column(t, c) => Ok(match s {
                Scope::Row(r, _) => r[*t].column(c),
                Scope::Group(all, m) => m
                    .first()
                    .map_or(Value::Null, |&i| all.get(i as usize)[*t].column(c)),
            }),
        }
    };
    let mut sorted_at = None;
    let offset = sel.offset.unwrap_or(0).min(usize::MAX as u64) as usize;
    let limit = sel
        .limit
        .map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize);
    let mut rows: Vec<Vec<Value>>;
    if sel.distinct {
        rows = Vec::new();
        let mut seen = HashSet::new();
        for u in units {
            let mut values = Vec::with_capacity(p.outputs.len());
            for o in &p.outputs {
                values.push(project(o, scope(u))?);
            }
            crate::limits::charge_row(&values);
            if seen.insert(Key::row(&values)) {
                rows.push(values);
            }
        }
        if !p.order_by.is_empty() {
            rows.sort_by(|a, b| {
                for ((_, desc), &j) in p.order_by.iter().zip(&p.order_outputs) {
                    let o = a[j].total_cmp(&b[j]);
                    let o = if *desc { o.reverse() } else { o };
                    if o.is_ne() {
                        return o;
                    }
                }
                Ordering::Equal
            });
        }
        rows = rows.into_iter().skip(offset).take(limit).collect();
    } else {
        if !presorted && !p.order_by.is_empty() {
            let mut keyed = Vec::with_capacity(units.len());
            for u in units {
                let mut keys = Vec::with_capacity(p.order_by.len());
                for (e, _) in &p.order_by {
                    keys.push(env.eval(e, scope(u))?);
                }
                keyed.push((keys, u));
            }
            let cmp = |a: &(Vec<Value>, Unit), b: &(Vec<Value>, Unit)| {
                for (i, (_, desc)) in p.order_by.iter().enumerate() {
                    let o = a.0[i].total_cmp(&b.0[i]);
                    let o = if *desc { o.reverse() } else { o };
                    if o.is_ne() {
                        return o;
                    }
                }
                match (a.1, b.1) {
                    (Unit::Tuple(x), Unit::Tuple(y)) => tuples.tie_cmp(x as usize, y as usize),
                    (Unit::Group(x), Unit::Group(y)) => x.cmp(&y),
                    _ => Ordering::Equal,
                }
            };
            // Only the first OFFSET + LIMIT need to be in order.
            let want = offset.saturating_add(limit);
            if want < keyed.len() {
                keyed.select_nth_unstable_by(want, cmp);
                keyed.truncate(want);
            }
            keyed.sort_by(cmp);
            units = keyed.into_iter().map(|(_, u)| u).collect();
        }
        sorted_at = Some(since(started));
        // A nearest-neighbour plan's rows come from the engine with their ids warmed;
        // reading them again here was 2 % of a nearest-10 statement.
        let warmed = env.tables.len() == 1
            && plan.tables.first().is_some_and(|t| {
                matches!(t.access, Access::Nearest { .. })
                    && tuples.len <= tensormap_engine::ObjectRef::NEAREST_IDS_WARMED
            });
        if !warmed {
            warm_ids(&tuples, units.iter().skip(offset).take(limit));
        }
        rows = Vec::with_capacity(units.len().saturating_sub(offset).min(limit));
        for &u in units.iter().skip(offset).take(limit) {
            let mut values = Vec::with_capacity(p.outputs.len());
            for o in &p.outputs {
                values.push(project(o, scope(u))?);
            }
            crate::limits::charge_row(&values);
            rows.push(values);
        }
    }
    let sorted = sorted_at.unwrap_or_else(|| since(started));
    let figures = Finished {
        sorted: (units_in, sorted),
        out: (rows.len(), since(started).saturating_sub(sorted)),
    };
    Ok((
        QueryResult {
            status: format!("SELECT {}", rows.len()),
            columns: p.names.clone(),
            rows,
        },
        figures,
    ))
}

/// Reads the ids of the objects of `units` (the rows about to be projected) in one tight
/// pass. An id read from a segment file is a cache miss or two (its offsets, then its
/// bytes): read here, the misses of all the rows overlap, instead of each waiting behind
/// the projection of the row before (a nearest-10 query's ten ids from a large map).
fn warm_ids<'u>(tuples: &Tuples<'_>, units: impl Iterator<Item = &'u Unit>) {
    let mut bytes = 0;
    for u in units {
        if let Unit::Tuple(i) = u {
            for r in tuples.get(*i as usize) {
                if let Row::Obj(o) = r {
                    // Its first byte: the offsets and then the bytes are read.
                    bytes += o.id_bytes().first().copied().unwrap_or(0) as usize;
                }
            }
        }
    }
    std::hint::black_box(bytes);
}

/// What [`finish`] measured (EXPLAIN ANALYZE).
struct Finished {
    sorted: (usize, Duration),
    out: (usize, Duration),
}

/// Sorts tuples in the tie order: the maps' ids (cells) in FROM order.
fn sort_by_ties(tuples: &mut Tuples<'_>, env: &Env<'_>) {
    if tuples.width == 1 && env.tables[0].kind == TableKind::Objects {
        // By id: its first 8 bytes as an integer decide most comparisons without a memcmp.
        tuples.rows.sort_by_cached_key(|r| match r {
            Row::Obj(o) => {
                // Bytes: their order is the ids' order, and they need no UTF-8 check.
                let id = o.id_bytes();
                let mut b = [0u8; 8];
                let n = id.len().min(8);
                b[..n].copy_from_slice(&id[..n]);
                (u64::from_be_bytes(b), id)
            }
            _ => (0, &[][..]),
        });
        return;
    }
    let mut order: Vec<usize> = (0..tuples.len).collect();
    order.sort_by(|&a, &b| tuples.tie_cmp(a, b));
    let mut sorted = Tuples::new(tuples.width);
    for i in order {
        sorted.push(tuples.get(i));
    }
    *tuples = sorted;
}

/// Tuples grouped by the GROUP BY keys, groups in key order (members in tie order); one
/// group (maybe empty) without GROUP BY.
fn group(env: &Env<'_>, group_by: &[Expr], tuples: &Tuples<'_>) -> Result<Vec<Vec<u32>>> {
    if group_by.is_empty() {
        return Ok(vec![(0..tuples.len as u32).collect()]);
    }
    let mut keyed: Vec<(Vec<Value>, u32)> = Vec::with_capacity(tuples.len);
    for i in 0..tuples.len {
        let mut key = Vec::with_capacity(group_by.len());
        for g in group_by {
            key.push(env.eval(g, Scope::Row(tuples.get(i), i))?);
        }
        keyed.push((key, i as u32));
    }
    let cmp = |a: &[Value], b: &[Value]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    keyed.sort_by(|a, b| cmp(&a.0, &b.0).then_with(|| tuples.tie_cmp(a.1 as usize, b.1 as usize)));
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut last: Option<Vec<Value>> = None;
    for (key, i) in keyed {
        match &last {
            Some(k) if cmp(k, &key) == Ordering::Equal => {
                if let Some(g) = groups.last_mut() {
                    g.push(i);
                }
            }
            _ => {
                groups.push(vec![i]);
                last = Some(key);
            }
        }
    }
    Ok(groups)
}

/// EXPLAIN: the plan of one query core, one line per operator.
pub fn explain(env: &Env<'_>, inputs: &[Input<'_>], sel: &Select) -> Result<Vec<String>> {
    let prepared = prepare(env, sel)?;
    let plan: Plan<'_> = plan(env, sel, &prepared.order_by, inputs)?;
    Ok(crate::plan::explain(env, &plan, sel, &prepared.order_by))
}

/// Whether a row passes `filter` (UPDATE and DELETE).
pub fn row_passes(env: &Env<'_>, filter: Option<&Expr>, row: Row<'_>) -> Result<bool> {
    match filter {
        None => Ok(true),
        Some(f) => passes(env, &[f], &[row], 0),
    }
}
