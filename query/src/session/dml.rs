//! Writes of objects: INSERT (constant rows, checked all before any is added), UPDATE and
//! DELETE (the objects WHERE selects, found through the R-tree when WHERE has a top-level
//! WITHIN).

use std::collections::{HashMap, HashSet};

use tensormap_engine::{Object, Registry, Value, WriteTransaction};

use super::Session;
use crate::ast::{Expr, ExprKind, Span};
use crate::error::{Error, Pos, Result};
use crate::eval::{
    as_number, as_vector, Env, Row, Scope, TableInfo, TableKind, Tuples, OBJECT_COLUMNS,
};
use crate::exec::{row_passes, QueryResult};

impl Session {
    /// `INSERT INTO map [(columns)] VALUES (...), ...`.
    pub(super) fn insert(
        &mut self,
        map: &str,
        columns: &[(String, Span)],
        rows: &[(Vec<Expr>, Span)],
        pos: Pos,
    ) -> Result<QueryResult> {
        let db = self.db.clone();
        self.write(pos, |t| {
            insert_rows(t, db.functions(), map, columns, rows, pos)
        })
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

/// An environment for expressions over one map's objects.
fn one_map<'a>(functions: &'a Registry, map: &str) -> Env<'a> {
    Env::new(
        functions,
        vec![TableInfo {
            label: map.to_string(),
            kind: TableKind::Objects,
        }],
    )
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

fn insert_rows(
    t: &mut WriteTransaction,
    functions: &Registry,
    map: &str,
    columns: &[(String, Span)],
    rows: &[(Vec<Expr>, Span)],
    pos: Pos,
) -> Result<QueryResult> {
    let env = Env::new(functions, Vec::new());
    let default = ["id", "type", "position", "embedding", "confidence"];
    let cols: Vec<(String, Pos)> = if columns.is_empty() {
        default.iter().map(|c| (c.to_string(), pos)).collect()
    } else {
        columns.iter().map(|(c, s)| (c.clone(), s.0)).collect()
    };
    let mut seen_cols = HashSet::new();
    for (c, p) in &cols {
        if !OBJECT_COLUMNS.contains(&c.as_str()) {
            return Err(Error::not_found(*p, format!("unknown column '{c}'")));
        }
        if !seen_cols.insert(c.as_str()) {
            return Err(Error::syntax(*p, format!("column '{c}' given twice")));
        }
    }
    if !seen_cols.contains("id") {
        return Err(Error::syntax(pos, "INSERT needs an id column"));
    }
    let mut objects = Vec::with_capacity(rows.len());
    let mut ids: HashMap<String, Pos> = HashMap::with_capacity(rows.len());
    for (row, at) in rows {
        let at = at.0;
        if row.len() != cols.len() {
            return Err(Error::syntax(
                at,
                format!("{} values for {} columns", row.len(), cols.len()),
            ));
        }
        let mut o = Object::new("", "", [f32::NAN; 3], Vec::new());
        for ((c, _), e) in cols.iter().zip(row) {
            assign(&mut o, c, &constant(&env, e)?, e.pos)?;
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
        objects.push(o);
    }
    let n = objects.len();
    if let Err(e) = t.insert_many(map, objects) {
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
    Ok(QueryResult::status(format!("INSERT {n}")))
}

/// The objects of `map` that `filter` selects, as owned copies, in id order.
fn matching(
    t: &mut WriteTransaction,
    env: &Env<'_>,
    map: &str,
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<Vec<Object>> {
    if let Some(f) = filter {
        env.check(f, &[], Some("WHERE"))?;
    }
    let view = t.map(map).map_err(|e| Error::engine(pos, e))?;
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
            out.push(o.to_object());
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn update_rows(
    t: &mut WriteTransaction,
    functions: &Registry,
    map: &str,
    set: &[(String, Expr, Span)],
    filter: Option<&Expr>,
    pos: Pos,
) -> Result<QueryResult> {
    let mut env = one_map(functions, map);
    // Batch functions (a model's m_score) scale positions by the map's bounds.
    env.context.bounds = t.map(map).ok().map(|v| v.config().bounds);
    for (c, e, at) in set {
        if c == "id" {
            return Err(Error::invalid(
                at.0,
                "the id of an object cannot be updated",
            ));
        }
        if !OBJECT_COLUMNS.contains(&c.as_str()) {
            return Err(Error::not_found(at.0, format!("unknown column '{c}'")));
        }
        env.check(e, &[], Some("SET"))?;
    }
    let targets = matching(t, &env, map, filter, pos)?;
    let config = t
        .map(map)
        .map_err(|e| Error::engine(pos, e))?
        .config()
        .clone();
    let mut updated = Vec::with_capacity(targets.len());
    {
        let view = t.map(map).map_err(|e| Error::engine(pos, e))?;
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
            for (c, e, _) in set {
                // Every expression sees the row as it was before this statement.
                let v = env.eval(e, Scope::Row(rows.get(i), i))?;
                assign(&mut o, c, &v, e.pos)?;
            }
            o.validate(&config).map_err(|e| Error::engine(pos, e))?;
            updated.push(o);
        }
    }
    let n = updated.len();
    for o in updated {
        t.update(map, o).map_err(|e| Error::engine(pos, e))?;
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
    let env = one_map(functions, map);
    let targets = matching(t, &env, map, filter, pos)?;
    let n = targets.len();
    for o in targets {
        t.delete(map, &o.id).map_err(|e| Error::engine(pos, e))?;
    }
    Ok(QueryResult::status(format!("DELETE {n}")))
}
