//! The tensor routes: `POST /tensor/embed` (`embed_object`: insert one object, its
//! embedding splatted into the field) and `POST /tensor/query` (`query_spatial`: the objects
//! within a radius, filtered, nearest first). Both use the typed API on the blocking pool:
//! a query is a read transaction (it neither waits for nor blocks a writer), an embed a
//! write transaction of its own, durable when answered.
//!
//! A map's user columns (docs/LANGUAGE.md, "User columns") travel as `properties`: an
//! object from column name to value (TEXT, TIMESTAMP and BLOB as the language's text —
//! UTC `YYYY-MM-DD HH:MM:SS[.ffffff]`, lowercase hex —, REAL and INTEGER numbers, BOOLEAN
//! `true`/`false`, NULL `null`) that an embed may give and that every object of an answer
//! carries, all of the map's columns in declared order. Objects of a map without user
//! columns have no `properties` key: those answers are as they were before user columns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::{finite, point, Json, MapName};
use super::error::ApiError;
use super::{blocking, AppState};
use tensormap::json::{write_f32, write_f32s, write_str};
use tensormap::user::{self, Cell, ColumnDef};
use tensormap::{Object, Value};

/// The most objects one `/tensor/query` answers (its `limit` may not exceed it).
pub const MAX_LIMIT: usize = 100_000;
/// The `limit` of a query that gives none.
const DEFAULT_LIMIT: usize = 1000;
/// The most voxels one query's `tensor_patches` may hold.
pub const MAX_PATCH_CELLS: usize = 4096;

/// `POST /tensor/embed`.
#[derive(Debug, Deserialize)]
pub struct EmbedRequest {
    map: Option<String>,
    tensor_map_id: Option<String>,
    /// `[x, y, z]`, inside the map's bounds.
    position: Vec<f64>,
    /// The embedding: `channels` numbers.
    features: Vec<f64>,
    /// The object's type (`custom` when absent).
    object_type: Option<String>,
    /// The object's id (a fresh one when absent).
    id: Option<String>,
    /// In [0, 1]; 1 when absent.
    confidence: Option<f64>,
    /// Values of the map's user columns by name; the others hold their DEFAULT.
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A fresh object id: `obj-` and 16 hex digits, counting up from the clock at start (unique
/// in this process, and across restarts unless the clock goes back).
fn fresh_id() -> String {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        AtomicU64::new(now)
    });
    format!("obj-{:016x}", next.fetch_add(1, Ordering::Relaxed))
}

pub async fn embed(State(s): State<AppState>, Json(req): Json<EmbedRequest>) -> Response {
    match embed_inner(s, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn embed_inner(s: AppState, req: EmbedRequest) -> Result<Response, ApiError> {
    let position = point(&req.position, "position")?;
    let confidence = finite(req.confidence.unwrap_or(1.0), "confidence")?;
    // f64 → f32; a value that overflows becomes infinite and the engine refuses it.
    let embedding: Vec<f32> = req.features.iter().map(|v| *v as f32).collect();
    let kind = req.object_type.unwrap_or_else(|| "custom".to_string());
    let id = req.id.unwrap_or_else(fresh_id);
    let names = MapName {
        map: req.map,
        tensor_map_id: req.tensor_map_id,
    };
    let shared = s.clone();
    let given = req.properties;
    let (map, id, properties) = blocking(move || {
        let db = shared.pool.db();
        let map = names.resolve(db)?;
        let object = Object::new(&id, &kind, position, embedding).with_confidence(confidence);
        // The typed insert checks the map, the id, the position and the embedding's
        // length and values (with the values: their columns, types and NOT NULL); its own
        // transaction, durable when commit returns.
        let mut txn = db.begin_write()?;
        let columns = txn.map(&map)?.columns().to_vec();
        let cells = match given {
            Some(given) => properties_in(&columns, given)?,
            None => Vec::new(),
        };
        if cells.is_empty() {
            txn.insert(&map, object)?;
        } else {
            txn.insert_with_values(&map, std::slice::from_ref(&object), vec![cells.clone()])?;
        }
        txn.commit()?;
        // What the object now holds: the values given, the DEFAULTs of the others.
        let properties = (!columns.is_empty()).then(|| {
            let held = columns.iter().map(|def| {
                let cell = cells
                    .iter()
                    .rev()
                    .find(|(c, _)| *c == def.id)
                    .map_or(&def.default, |(_, v)| v);
                (def.name.clone(), cell_json(cell))
            });
            serde_json::Value::Object(held.collect())
        });
        Ok((map, id, properties))
    })
    .await?;
    s.metrics.add_commits(1);
    let mut body = serde_json::json!({
        "map": map,
        "object_id": id,
        "embedding_id": format!("{map}/{id}"),
        "confidence": confidence,
    });
    if let (Some(p), Some(fields)) = (properties, body.as_object_mut()) {
        fields.insert("properties".into(), p);
    }
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

/// `POST /tensor/query`.
#[derive(Debug, Deserialize)]
pub struct QueryRequest {
    map: Option<String>,
    tensor_map_id: Option<String>,
    center: Vec<f64>,
    radius: f64,
    #[serde(default)]
    filters: Filters,
    limit: Option<usize>,
    #[serde(default)]
    include_embeddings: bool,
    #[serde(default)]
    include_patches: bool,
}

/// The filters of `/tensor/query`.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    object_type: Option<String>,
    min_confidence: Option<f64>,
}

pub async fn query(State(s): State<AppState>, Json(req): Json<QueryRequest>) -> Response {
    match query_inner(s, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn query_inner(s: AppState, req: QueryRequest) -> Result<Response, ApiError> {
    let center = point(&req.center, "center")?;
    let radius = finite(req.radius, "radius")?;
    if radius < 0.0 {
        return Err(ApiError::bad_request(format!(
            "radius must be >= 0, found {radius}"
        )));
    }
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {MAX_LIMIT}, found {limit}"
        )));
    }
    let min_confidence = match req.filters.min_confidence {
        Some(c) => Some(finite(c, "filters.min_confidence")?),
        None => None,
    };
    let names = MapName {
        map: req.map,
        tensor_map_id: req.tensor_map_id,
    };
    let body = blocking(move || {
        let db = s.pool.db();
        let map = names.resolve(db)?;
        let read = db.begin_read()?;
        let view = read.map(&map)?;
        let mut hits: Vec<_> = view
            .within(center, radius)?
            .into_iter()
            .filter(|o| {
                req.filters
                    .object_type
                    .as_deref()
                    .is_none_or(|t| o.kind() == t)
                    && min_confidence.is_none_or(|c| o.confidence() >= c)
            })
            .map(|o| (distance(o.position(), center), o))
            .collect();
        // Nearest first, ties by id: repeatable answers.
        hits.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.id().cmp(b.1.id())));
        let count = hits.len();
        hits.truncate(limit);
        let patches = if req.include_patches {
            let set = view.voxels_within(center, radius)?;
            if set.len() > MAX_PATCH_CELLS {
                return Err(ApiError::bad_request(format!(
                    "the radius covers {} occupied voxels, more than the {MAX_PATCH_CELLS} \
                     tensor_patches may hold: use a smaller radius",
                    set.len()
                )));
            }
            Some(set)
        } else {
            None
        };
        // About 110 bytes an object (id, type, position, confidence, distance).
        let mut out = Vec::with_capacity(256 + hits.len() * 128);
        write_query(
            &mut out,
            &map,
            count,
            &hits,
            req.include_embeddings,
            view.columns(),
            patches.as_ref(),
        )
        .map_err(|e| ApiError::internal(format!("cannot write the answer: {e}")))?;
        Ok(out)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The cells of an embed's `properties` for a map with `columns`: each name must be a user
/// column, each value of its type (as the language converts it: numbers, booleans, text
/// for TIMESTAMP and hex text for BLOB, `null`); NOT NULL is checked by the insert.
fn properties_in(
    columns: &[ColumnDef],
    given: serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<(u32, Cell)>, ApiError> {
    let mut cells = Vec::with_capacity(given.len());
    for (name, v) in given {
        let Some(def) = columns.iter().find(|d| d.name == name) else {
            let known: Vec<&str> = columns.iter().map(|d| d.name.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "properties.{name}: the map has no user column '{name}' (its user columns: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let value = match &v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(x) => Value::Number(x),
                None => {
                    return Err(ApiError::bad_request(format!(
                        "properties.{name}: {n} is not a number TensorQL holds"
                    )))
                }
            },
            serde_json::Value::String(t) => Value::text(t),
            other => {
                return Err(ApiError::bad_request(format!(
                    "properties.{name}: expected {}, found a JSON {}",
                    def.ty.name(),
                    if other.is_array() { "array" } else { "object" }
                )))
            }
        };
        let cell = user::to_cell(&value, def.ty)
            .map_err(|m| ApiError::bad_request(format!("properties.{name}: {m}")))?;
        cells.push((def.id, cell));
    }
    Ok(cells)
}

/// A stored cell as JSON: as the language reads it (`user::cell_value`), INTEGER exact.
fn cell_json(c: &Cell) -> serde_json::Value {
    match c {
        Cell::Integer(i) => serde_json::Value::from(*i),
        Cell::Real(x) => {
            serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into)
        }
        other => match user::cell_value(other) {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(x) => {
                serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, Into::into)
            }
            v => serde_json::Value::String(v.to_string()),
        },
    }
}

/// Writes the `"properties"` of the object `o` (of a map whose user columns are
/// `columns`, not empty): `,"properties":{"label":"red",...}`.
fn write_properties(
    out: &mut Vec<u8>,
    columns: &[ColumnDef],
    o: &tensormap::ObjectRef<'_>,
) -> std::io::Result<()> {
    use std::io::Write;
    let table = o.user_table();
    out.write_all(b",\"properties\":{")?;
    for (i, def) in columns.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write_str(out, &def.name)?;
        out.write_all(b":")?;
        serde_json::to_writer(&mut *out, &cell_json(table.cell(o.id(), def)))
            .map_err(std::io::Error::other)?;
    }
    out.write_all(b"}")
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
}

/// `{"map", "count", "objects": [...], "tensor_patches": [...], "patch_cells": [...]}`,
/// written straight into `out`; each object has `properties` when the map has user
/// `columns`.
fn write_query(
    out: &mut Vec<u8>,
    map: &str,
    count: usize,
    hits: &[(f32, tensormap::ObjectRef<'_>)],
    embeddings: bool,
    columns: &[ColumnDef],
    patches: Option<&tensormap::VoxelSet>,
) -> std::io::Result<()> {
    use std::io::Write;
    out.write_all(b"{\"map\":")?;
    write_str(out, map)?;
    write!(out, ",\"count\":{count},\"objects\":[")?;
    for (i, (d, o)) in hits.iter().enumerate() {
        out.write_all(if i > 0 { b",{\"id\":" } else { b"{\"id\":" })?;
        write_str(out, o.id())?;
        out.write_all(b",\"type\":")?;
        write_str(out, o.kind())?;
        out.write_all(b",\"position\":")?;
        write_f32s(out, &o.position())?;
        out.write_all(b",\"confidence\":")?;
        write_f32(out, o.confidence())?;
        out.write_all(b",\"distance\":")?;
        write_f32(out, *d)?;
        if embeddings {
            out.write_all(b",\"embedding\":")?;
            write_f32s(out, o.embedding())?;
        }
        if !columns.is_empty() {
            write_properties(out, columns, o)?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"],\"tensor_patches\":[")?;
    if let Some(set) = patches {
        let c = set.channels.max(1);
        for (i, values) in set.values.chunks(c).enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write_f32s(out, values)?;
        }
    }
    out.write_all(b"],\"patch_cells\":[")?;
    if let Some(set) = patches {
        for (i, cell) in set.cells.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write!(out, "[{},{},{}]", cell[0], cell[1], cell[2])?;
        }
    }
    out.write_all(b"]}")
}
