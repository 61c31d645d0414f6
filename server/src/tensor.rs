//! The tensor routes: `POST /tensor/embed` (`embed_object`: insert one object, its
//! embedding splatted into the field) and `POST /tensor/query` (`query_spatial`: the objects
//! within a radius, filtered, nearest first). Both use the typed API on the blocking pool:
//! a query is a read transaction (it neither waits for nor blocks a writer), an embed a
//! write transaction of its own, durable when answered.

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
use tensormap::Object;

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
    let (map, id) = blocking(move || {
        let db = shared.pool.db();
        let map = names.resolve(db)?;
        let object = Object::new(&id, &kind, position, embedding).with_confidence(confidence);
        // The typed insert checks the map, the id, the position and the embedding's
        // length and values; its own transaction, durable when commit returns.
        let mut txn = db.begin_write()?;
        txn.insert(&map, object)?;
        txn.commit()?;
        Ok((map, id))
    })
    .await?;
    s.metrics.add_commits(1);
    let body = serde_json::json!({
        "map": map,
        "object_id": id,
        "embedding_id": format!("{map}/{id}"),
        "confidence": confidence,
    });
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
            patches.as_ref(),
        )
        .map_err(|e| ApiError::internal(format!("cannot write the answer: {e}")))?;
        Ok(out)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
}

/// `{"map", "count", "objects": [...], "tensor_patches": [...], "patch_cells": [...]}`,
/// written straight into `out`.
fn write_query(
    out: &mut Vec<u8>,
    map: &str,
    count: usize,
    hits: &[(f32, tensormap::ObjectRef<'_>)],
    embeddings: bool,
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
