//! Writes of objects: INSERT (constant rows or a query's rows, checked all before any is
//! added; ON CONFLICT (id) DO NOTHING / DO UPDATE), UPDATE and DELETE (the objects WHERE
//! selects, found through the R-tree when WHERE has a top-level WITHIN).
//!
//! The model functions of an INSERT's VALUES run once per statement over all its rows (one
//! batch per function), as those of UPDATE's SET do over the rows it updates.

use std::collections::{HashMap, HashSet};

use tensormap_engine::user::{self, Cell, ColumnDef};
use tensormap_engine::{MapView, Object, Registry, Value, WriteTransaction};

use super::Session;
use crate::ast::{Expr, ExprKind, OnConflict, Select, Span};
use crate::error::{Error, Pos, Result};
use crate::eval::{
    as_number, as_vector, Env, Relation, Row, Scope, TableInfo, Tuples, OBJECT_COLUMNS,
};
use crate::exec::{row_passes, QueryResult};
use crate::run::Ctx;

impl Session {
    /// `INSERT INTO map [(columns)] VALUES (...), ... | SELECT ... [ON CONFLICT ...]`.
    pub(super) fn insert(&mut self, ins: Insert<'_>, pos: Pos) -> Result<QueryResult> {
        let db = self.db.clone();
        self.write(pos, |t| insert_rows(t, db.functions(), ins, pos))
    }

    /// `UPDATE map SET col = e, ... [WHERE p]`.
    pub(super) fn update(
        &mut self,
        map: &str,
        set: &[(String, Expr, Span)],
        filter: Option<&Expr>,
        pos: Pos,
    ) -> Result<QueryResult> {
        let db = self.db.clone();
        self.write(pos, |t| {
            update_rows(t, db.functions(), map, set, filter, pos)
        })
    }

    /// `DELETE FROM map [WHERE p]`.
    pub(super) fn delete(
        &mut self,
        map: &str,
        filter: Option<&Expr>,
        pos: Pos,
    ) -> Result<QueryResult> {
        let db = self.db.clone();
        self.write(pos, |t| delete_rows(t, db.functions(), map, filter, pos))
    }
}

/// A constant expression's value (INSERT rows read no columns).
fn constant(env: &Env<'_>, e: &Expr) -> Result<Value> {
    match &e.kind {
        // The common case of a big INSERT: no checks to make.
        ExprKind::Numbers(v) => return Ok(Value::Vector(v.clone())),
        ExprKind::Number(n) => return Ok(Value::Number(*n)),
        _ => {}
    }
    env.check(e, &[], Some("VALUES"))?;
    env.eval(e, Scope::Row(&[], 0))
}

/// An environment for expressions over one map's objects (with user columns `columns`).
fn one_map<'a>(functions: &'a Registry, map: &str, columns: &[ColumnDef]) -> Env<'a> {
    Env::new(functions, vec![TableInfo::objects_with(map, columns)])
}

/// Value `v` for user column `def` of `row` (as errors name it), checked against its type.
fn user_cell(def: &ColumnDef, v: &Value, pos: Pos, row: &str) -> Result<Cell> {
    user::to_cell(v, def.ty)
        .map_err(|m| Error::invalid(pos, format!("column '{}' of {row}: {m}", def.name)))
}

/// Every user column's cell of one row: the given ones, the others' defaults; a NULL in a
/// NOT NULL column is an error naming the column and the row.
fn complete_cells(
    defs: &[ColumnDef],
    given: &[(u32, Cell)],
    pos: Pos,
    row: &str,
) -> Result<Vec<(u32, Cell)>> {
    let mut out = Vec::with_capacity(defs.len());
    for d in defs {
        let cell = given
            .iter()
            .rev()
            .find(|(c, _)| *c == d.id)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| d.default.clone());
        if d.not_null && cell == Cell::Null {
            return Err(Error::invalid(
                pos,
                format!("column '{}' is NOT NULL: {row} has no value for it", d.name),
            ));
        }
        out.push((d.id, cell));
    }
    Ok(out)
}

fn text(v: &Value, pos: Pos, what: &str) -> Result<String> {
    match v {
        Value::Text(s) => Ok(s.to_string()),
        other => Err(Error::invalid(
            pos,
            format!("{what} must be text, found a {}", other.type_name()),
        )),
    }
}

/// Sets column `col` of `o` to `v`.
fn assign(o: &mut Object, col: &str, v: &Value, pos: Pos) -> Result<()> {
    match col {
        "id" => o.id = text(v, pos, "id")?,
        "type" => o.kind = text(v, pos, "type")?,
        "position" => {
            let p = as_vector(v, pos, "position")?;
            o.position = <[f32; 3]>::try_from(&p[..]).map_err(|_| {
                Error::invalid(
                    pos,
                    format!("position must have 3 values, found {}", p.len()),
                )
            })?;
        }
        "x" => o.position[0] = as_number(v, pos, "x")? as f32,
        "y" => o.position[1] = as_number(v, pos, "y")? as f32,
        "z" => o.position[2] = as_number(v, pos, "z")? as f32,
        "embedding" => o.embedding = as_vector(v, pos, "embedding")?.to_vec(),
        "confidence" => o.confidence = as_number(v, pos, "confidence")? as f32,
        other => return Err(Error::not_found(pos, format!("unknown column '{other}'"))),
    }
    Ok(())
}

/// An INSERT statement's parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Insert<'s> {
    /// The map.
    pub map: &'s str,
    /// The columns named (none: the default order).
    pub columns: &'s [(String, Span)],
    /// VALUES rows.
    pub rows: &'s [(Vec<Expr>, Span)],
    /// Or a query.
    pub query: Option<&'s Select>,
    /// ON CONFLICT.
    pub on_conflict: Option<&'s OnConflict>,
}

/// The bytes an object holds, for `memory_limit`.
fn object_bytes(o: &Object) -> usize {
    std::mem::size_of::<Object>() + o.id.len() + o.kind.len() + o.embedding.len() * 4
}

/// The values of an object's columns, in [`OBJECT_COLUMNS`] order.
fn object_values(o: &Object) -> Vec<Value> {
    let p = o.position;
    vec![
        Value::text(&o.id),
        Value::text(&o.kind),
        Value::vector(&p),
        Value::Number(tensormap_engine::widen_f32(p[0])),
        Value::Number(tensormap_engine::widen_f32(p[1])),
        Value::Number(tensormap_engine::widen_f32(p[2])),
        Value::vector(&o.embedding),
        Value::Number(tensormap_engine::widen_f32(o.confidence)),
    ]
}

/// An object with the cells of every user column of its map, in declared order.
type Full = (Object, Vec<(u32, Cell)>);

/// The values of an object's columns: [`OBJECT_COLUMNS`], then its user columns.
fn full_values((o, cells): &Full) -> Vec<Value> {
    let mut v = object_values(o);
    v.extend(cells.iter().map(|(_, c)| user::cell_value(c)));
    v
}

/// `ON CONFLICT (id) DO UPDATE SET ... [WHERE ...]` on `existing` with `excluded` the row
/// that was to be inserted: the updated object, or none where WHERE does not hold.
fn conflict_update(
    env: &Env<'_>,
    defs: &[ColumnDef],
    set: &[(String, Expr, Span)],
    filter: Option<&Expr>,
    existing: &Full,
    excluded: &Full,
) -> Result<Option<Full>> {
    let names: Vec<String> = OBJECT_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(defs.iter().map(|d| d.name.clone()))
        .collect();
    let old = Relation {
        names: names.clone(),
        rows: vec![full_values(existing)],
    };
    let new = Relation {
        names,
        rows: vec![full_values(excluded)],
    };
    let tuple = [Row::Rel(&old, 0), Row::Rel(&new, 0)];
    if let Some(f) = filter {
        let v = env.eval(f, Scope::Row(&tuple, 0))?;
        if crate::eval::truth(&v, f.pos, "WHERE")? != Some(true) {
            return Ok(None);
        }
    }
    let (mut o, mut cells) = existing.clone();
    let row = format!("object '{}'", o.id);
    for (c, e, _) in set {
        // Every expression sees the object as it was before this statement's update.
        let v = env.eval(e, Scope::Row(&tuple, 0))?;
        match defs.iter().find(|d| d.name == *c) {
            Some(def) => cells.push((def.id, user_cell(def, &v, e.pos, &row)?)),
            None => assign(&mut o, c, &v, e.pos)?,
        }
    }
    let pos = set.first().map(|(_, e, _)| e.pos).unwrap_or_default();
    let cells = complete_cells(defs, &cells, pos, &row)?;
    Ok(Some((o, cells)))
}

fn insert_rows(
    t: &mut WriteTransaction,
    functions: &Registry,
    ins: Insert<'_>,
    pos: Pos,
) -> Result<QueryResult> {
    let Insert {
        map,
        columns,
        rows,
        query,
        on_conflict,
    } = ins;
    let mut env = Env::new(functions, Vec::new());
    let defs: Vec<ColumnDef> = t.map(map).map(|v| v.columns().to_vec()).unwrap_or_default();
    let default = ["id", "type", "position", "embedding", "confidence"];
    let cols: Vec<(String, Pos)> = if columns.is_empty() {
        default.iter().map(|c| (c.to_string(), pos)).collect()
    } else {
        columns.iter().map(|(c, s)| (c.clone(), s.0)).collect()
    };
    let mut seen_cols = HashSet::new();
    for (c, p) in &cols {
        if !OBJECT_COLUMNS.contains(&c.as_str()) && !defs.iter().any(|d| d.name == *c) {
            return Err(Error::not_found(*p, format!("unknown column '{c}'")));
        }
        if !seen_cols.insert(c.as_str()) {
            return Err(Error::syntax(*p, format!("column '{c}' given twice")));
        }
    }
    if !seen_cols.contains("id") {
        return Err(Error::syntax(pos, "INSERT needs an id column"));
    }
    // ON CONFLICT's DO UPDATE sees the map's row (by its name) and `excluded`.
    let names: Vec<String> = OBJECT_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(defs.iter().map(|d| d.name.clone()))
        .collect();
    let conflict_env = {
        let mut excluded = TableInfo::derived("excluded", &names);
        excluded.qualified_only = true;
        let mut e = Env::new(functions, vec![TableInfo::derived(map, &names), excluded]);
        e.context.bounds = t.map(map).ok().map(|v| v.config().bounds);
        e
    };
    if let Some(OnConflict::Update { set, filter }) = on_conflict {
        for (c, e, at) in set {
            if c == "id" {
                return Err(Error::invalid(
                    at.0,
                    "the id of an object cannot be updated",
                ));
            }
            if !OBJECT_COLUMNS.contains(&c.as_str()) && !defs.iter().any(|d| d.name == *c) {
                return Err(Error::not_found(at.0, format!("unknown column '{c}'")));
            }
            conflict_env.check(e, &[], Some("SET"))?;
        }
        if let Some(f) = filter {
            conflict_env.check(f, &[], Some("WHERE"))?;
        }
    }
    // The rows: a query's, or VALUES (their model calls batched first).
    let source: Vec<(Vec<Value>, Vec<Pos>, Pos)> = match query {
        Some(q) => {
            let r = super::txn::read_in(t, functions, q, pos, |ctx, q| ctx.query(q, &[], &[]))?;
            if r.columns.len() != cols.len() {
                return Err(Error::syntax(
                    pos,
                    format!(
                        "INSERT has {} columns, its query returns {}",
                        cols.len(),
                        r.columns.len()
                    ),
                ));
            }
            let at = vec![pos; cols.len()];
            r.rows.into_iter().map(|r| (r, at.clone(), pos)).collect()
        }
        None => {
            env.context.bounds = t.map(map).ok().map(|v| v.config().bounds);
            let all: Vec<&Expr> = rows.iter().flat_map(|(r, _)| r.iter()).collect();
            crate::batch::constant_calls(&env, &all)?;
            let mut out = Vec::with_capacity(rows.len());
            for (row, at) in rows {
                if row.len() != cols.len() {
                    return Err(Error::syntax(
                        at.0,
                        format!("{} values for {} columns", row.len(), cols.len()),
                    ));
                }
                let mut values = Vec::with_capacity(row.len());
                for e in row {
                    values.push(constant(&env, e)?);
                }
                out.push((values, row.iter().map(|e| e.pos).collect(), at.0));
            }
            out
        }
    };
    // Where each column of the list goes: a built-in field, or user column `defs[i]`.
    let targets: Vec<Option<&ColumnDef>> = cols
        .iter()
        .map(|(c, _)| defs.iter().find(|d| d.name == *c))
        .collect();
    let mut objects: Vec<Object> = Vec::with_capacity(source.len());
    // The user column cells of each of `objects`.
    let mut cells: Vec<Vec<(u32, Cell)>> = Vec::new();
    let mut ids: HashMap<String, Pos> = HashMap::with_capacity(source.len());
    // ON CONFLICT: the map's objects updated (or left) by this statement, by id.
    let mut updates: HashMap<String, Full> = HashMap::new();
    let mut pending: HashMap<String, usize> = HashMap::new();
    for (n, (values, places, at)) in source.iter().enumerate() {
        let at = *at;
        let mut o = Object::new("", "", [f32::NAN; 3], Vec::new());
        let row_name = format!("row {}", n + 1);
        let mut given = Vec::new();
        for ((((c, _), v), vp), target) in cols.iter().zip(values).zip(places).zip(&targets) {
            if let Some(def) = target {
                given.push((def.id, user_cell(def, v, *vp, &row_name)?));
                continue;
            }
            assign(&mut o, c, v, *vp).map_err(|e| match query {
                // A query's row has no position of its own: say which row.
                Some(_) => Error::new(
                    e.kind,
                    e.pos,
                    format!("{} (row {} of the query)", e.message, n + 1),
                ),
                None => e,
            })?;
        }
        let row_cells = if defs.is_empty() {
            Vec::new()
        } else {
            complete_cells(&defs, &given, at, &format!("{row_name} (id '{}')", o.id))?
        };
        if let Some(action) = on_conflict {
            let existing: Option<Full> = match pending.get(&o.id) {
                Some(&i) => Some((
                    objects[i].clone(),
                    cells.get(i).cloned().unwrap_or_default(),
                )),
                None => match updates.get(&o.id) {
                    Some(u) => Some(u.clone()),
                    None => t
                        .map(map)
                        .map_err(|e| Error::engine(pos, e))?
                        .get(&o.id)
                        .map(|r| {
                            let table = r.user_table();
                            let stored = defs
                                .iter()
                                .map(|d| (d.id, table.cell(&o.id, d).clone()))
                                .collect();
                            (r.to_object(), stored)
                        }),
                },
            };
            if let Some(old) = existing {
                let new = match action {
                    OnConflict::Nothing => None,
                    OnConflict::Update { set, filter } => conflict_update(
                        &conflict_env,
                        &defs,
                        set,
                        filter.as_ref(),
                        &old,
                        &(o.clone(), row_cells),
                    )?,
                };
                if let Some((new, new_cells)) = new {
                    match pending.get(&o.id) {
                        Some(&i) => {
                            objects[i] = new;
                            if let Some(c) = cells.get_mut(i) {
                                *c = new_cells;
                            }
                        }
                        None => {
                            updates.insert(o.id.clone(), (new, new_cells));
                        }
                    }
                }
                continue;
            }
            pending.insert(o.id.clone(), objects.len());
        }
        // Ids repeated inside the statement are found here; the rules of the map and the
        // ids it has already, by the engine's batch check below (which validates every
        // object before adding any: one pass over its id tables, not a search each).
        if ids.insert(o.id.clone(), at).is_some() {
            return Err(Error::conflict(
                at,
                format!("map '{map}' already has an object with id '{}'", o.id),
            ));
        }
        crate::limits::charge(object_bytes(&o));
        crate::limits::tick()?;
        if !defs.is_empty() {
            cells.push(row_cells);
        }
        objects.push(o);
    }
    // Past a limit, the statement ends here, before it changes anything.
    crate::limits::check()?;
    // Updated objects are checked before anything changes.
    let config = t
        .map(map)
        .map_err(|e| Error::engine(pos, e))?
        .config()
        .clone();
    let mut updated: Vec<Full> = updates.into_values().collect();
    updated.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    for (o, _) in &updated {
        o.validate(&config).map_err(|e| Error::engine(pos, e))?;
    }
    let n = objects.len() + updated.len();
    // The objects and their cells go in together (a map with a NOT NULL column without a
    // DEFAULT refuses objects without their values).
    let added = if defs.is_empty() {
        t.insert_many(map, objects)
    } else {
        t.insert_with_values(map, &objects, cells)
    };
    if let Err(e) = added {
        // The error names the object: report it at its row.
        let at = match &e {
            tensormap_engine::Error::DuplicateId { id, .. }
            | tensormap_engine::Error::InvalidObject { id, .. } => {
                ids.get(id).copied().unwrap_or(pos)
            }
            _ => pos,
        };
        return Err(Error::engine(at, e));
    }
    for (o, c) in updated {
        let id = o.id.clone();
        t.update(map, o).map_err(|e| Error::engine(pos, e))?;
        if !defs.is_empty() {
            t.set_values(map, &id, c)
                .map_err(|e| Error::engine(pos, e))?;
        }
    }
    Ok(QueryResult::status(format!("INSERT {n}")))
}

/// The objects of `map` (`view`) that `filter` selects, as owned copies, in id order.
fn matching(
    view: &MapView<'_>,
    env: &Env<'_>,
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<Vec<Object>> {
    if let Some(f) = filter {
        env.check(f, &[], Some("WHERE"))?;
    }
    // A top-level WITHIN is answered by the R-tree, as in a query; the whole WHERE is then
    // checked on its rows.
    let candidates: Vec<_> = match filter.and_then(|f| crate::plan::range_of(env, f)) {
        Some((center, radius)) => view
            .within(center, radius)
            .map_err(|e| Error::engine(pos, e))?,
        None => view.objects().collect(),
    };
    let mut out = Vec::new();
    for o in candidates {
        if row_passes(env, filter, Row::Obj(o))? {
            let o = o.to_object();
            crate::limits::charge(object_bytes(&o));
            out.push(o);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Opens `map` and the maps the subqueries of `exprs` read (first `map`, then the others
/// in the order they are named), as `t` sees them, and runs `f` on them with what runs
/// those subqueries.
fn with_maps<T>(
    t: &mut WriteTransaction,
    functions: &Registry,
    map: &str,
    exprs: &[&Expr],
    pos: Pos,
    f: impl FnOnce(&MapView<'_>, &Ctx<'_, '_>) -> Result<T>,
) -> Result<T> {
    let mut named = vec![(map.to_string(), pos)];
    for e in exprs {
        crate::run::expr_map_names(e, &mut named);
    }
    let mut names: Vec<&str> = Vec::with_capacity(named.len());
    for (n, at) in &named {
        if names.contains(&n.as_str()) {
            continue;
        }
        t.map(n).map_err(|e| Error::engine(*at, e))?;
        names.push(n);
    }
    let views = t.maps(&names).map_err(|e| Error::engine(pos, e))?;
    let maps: Vec<(String, MapView<'_>)> = names.iter().map(|n| n.to_string()).zip(views).collect();
    let ctx = Ctx::new(&maps, functions);
    f(&maps[0].1, &ctx)
}

fn update_rows(
    t: &mut WriteTransaction,
    functions: &Registry,
    map: &str,
    set: &[(String, Expr, Span)],
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<QueryResult> {
    let defs: Vec<ColumnDef> = t.map(map).map(|v| v.columns().to_vec()).unwrap_or_default();
    for (c, _, at) in set {
        if c == "id" {
            return Err(Error::invalid(
                at.0,
                "the id of an object cannot be updated",
            ));
        }
        if !OBJECT_COLUMNS.contains(&c.as_str()) && !defs.iter().any(|d| d.name == *c) {
            return Err(Error::not_found(at.0, format!("unknown column '{c}'")));
        }
    }
    let mut exprs: Vec<&Expr> = set.iter().map(|(_, e, _)| e).collect();
    exprs.extend(filter);
    let updated = with_maps(t, functions, map, &exprs, pos, |view, ctx| {
        let mut env = one_map(functions, map, &defs);
        env.runner = Some(ctx);
        // Batch functions (a model's m_score) scale positions by the map's bounds.
        env.context.bounds = Some(view.config().bounds);
        for (_, e, _) in set {
            env.check(e, &[], Some("SET"))?;
        }
        let targets = matching(view, &env, filter, pos)?;
        let config = view.config().clone();
        let mut updated = Vec::with_capacity(targets.len());
        let mut rows = Tuples::new(1);
        let mut found = Vec::with_capacity(targets.len());
        for old in &targets {
            if let Some(row) = view.get(&old.id) {
                rows.push(&[Row::Obj(row)]);
                found.push(old);
            }
        }
        // Batch functions of SET (`m_embed(type)`) run once over all the targets.
        let exprs: Vec<&Expr> = set.iter().map(|(_, e, _)| e).collect();
        crate::batch::compute(&mut env, &exprs, &rows)?;
        for (i, old) in found.into_iter().enumerate() {
            let mut o = old.clone();
            let row_name = format!("object '{}'", o.id);
            let mut given: Vec<(u32, Cell)> = Vec::new();
            if !defs.is_empty() {
                if let Some(r) = view.get(&old.id) {
                    let table = r.user_table();
                    given = defs
                        .iter()
                        .map(|d| (d.id, table.cell(&old.id, d).clone()))
                        .collect();
                }
            }
            for (c, e, _) in set {
                // Every expression sees the row as it was before this statement.
                let v = env.eval(e, Scope::Row(rows.get(i), i))?;
                match defs.iter().find(|d| d.name == *c) {
                    Some(def) => given.push((def.id, user_cell(def, &v, e.pos, &row_name)?)),
                    None => assign(&mut o, c, &v, e.pos)?,
                }
            }
            o.validate(&config).map_err(|e| Error::engine(pos, e))?;
            let cells = if defs.is_empty() {
                None
            } else {
                Some(complete_cells(&defs, &given, pos, &row_name)?)
            };
            crate::limits::charge(object_bytes(&o));
            // Only user columns set: the object itself (and its splat) stays as it is.
            let same = o == *old;
            updated.push((o, cells, same));
        }
        Ok(updated)
    })?;
    // Past a limit, the statement ends here, before it changes anything.
    crate::limits::check()?;
    let n = updated.len();
    for (o, cells, same) in updated {
        let id = o.id.clone();
        if !same || cells.is_none() {
            t.update(map, o).map_err(|e| Error::engine(pos, e))?;
        }
        if let Some(c) = cells {
            t.set_values(map, &id, c)
                .map_err(|e| Error::engine(pos, e))?;
        }
    }
    Ok(QueryResult::status(format!("UPDATE {n}")))
}

fn delete_rows(
    t: &mut WriteTransaction,
    functions: &Registry,
    map: &str,
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<QueryResult> {
    let exprs: Vec<&Expr> = filter.into_iter().collect();
    let targets = with_maps(t, functions, map, &exprs, pos, |view, ctx| {
        let mut env = one_map(functions, map, view.columns());
        env.runner = Some(ctx);
        matching(view, &env, filter, pos)
    })?;
    crate::limits::check()?;
    let n = targets.len();
    for o in targets {
        t.delete(map, &o.id).map_err(|e| Error::engine(pos, e))?;
    }
    Ok(QueryResult::status(format!("DELETE {n}")))
}
