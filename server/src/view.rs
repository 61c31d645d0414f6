//! The live viewer (render/viewer/README.md, "The served viewer: routes"):
//!
//! | route | token | answer |
//! |---|---|---|
//! | `GET /view` | no (no data) | the viewer's page listing the maps (it asks `POST /query` for `SHOW MAPS`) |
//! | `GET /view/{map}` | no (no data) | the viewer's page for one map |
//! | `GET /view/{map}/meta` | yes | JSON: counts, octree cells, types, column ranges, the field's bricks |
//! | `POST /view/{map}/cells` | yes | `{"cells": [[code, from, to], ...]}` → a binary frame of objects |
//! | `POST /view/{map}/field` | yes | `{"bricks": [[x, y, z], ...]}` → a binary frame of the field's norm |
//!
//! The pages carry no data, so they need no token; the page asks for the token once when a
//! data route answers 401 and keeps it in the tab's sessionStorage. The data routes read
//! a map's objects and field once (`SELECT * FROM map` through the facade's `view_scene`)
//! and index them in the render crate's [`ServedMap`], which encodes every answer: the
//! server only moves bytes. The index is rebuilt when the server has committed since it
//! was built or the map's object count changed (a write through another connection of an
//! embedding program), and at most [`CACHED_MAPS`] maps are kept.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use tensormap::render::html::{served_page, HtmlError, ServedMap};

use super::error::ApiError;
use super::generate::quote;
use super::{blocking, AppState};

/// Most maps whose index is kept (a map of 1M objects takes about 100 MB).
pub const CACHED_MAPS: usize = 4;

/// Where the viewer's routes live (the page's manifest names it).
const BASE: &str = "/view";

/// The indexed maps: name → (the state it was built at, the index).
#[derive(Debug, Default)]
pub struct Cache {
    maps: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    built_at: Built,
    used: u64,
    map: Arc<ServedMap>,
}

/// What an index was built from: the server's commits so far and the map's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Built {
    commits: u64,
    objects: u64,
}

/// The map's index, built when missing or stale (call from the blocking pool).
fn served(s: &AppState, map: &str) -> Result<Arc<ServedMap>, ApiError> {
    let db = s.pool.db();
    let objects = db
        .maps()
        .into_iter()
        .find(|m| m.name == map)
        .map(|m| m.objects)
        .ok_or_else(|| ApiError::not_found(format!("no map named '{map}'")))?;
    let now = Built {
        commits: s.metrics.commits(),
        objects,
    };
    let tick = {
        let mut maps = s.views.maps.lock();
        let tick = maps.values().map(|e| e.used).max().unwrap_or(0) + 1;
        if let Some(e) = maps.get_mut(map).filter(|e| e.built_at == now) {
            e.used = tick;
            return Ok(e.map.clone());
        }
        tick
    };
    let conn = s.pool.get();
    let scene = conn.view_scene(&format!("SELECT * FROM {}", quote(map)))?;
    let index = ServedMap::new(map, scene.objects, scene.field.as_ref(), 0).map_err(html_error)?;
    let index = Arc::new(index);
    let mut maps = s.views.maps.lock();
    if maps.len() >= CACHED_MAPS && !maps.contains_key(map) {
        if let Some(oldest) = maps
            .iter()
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| k.clone())
        {
            maps.remove(&oldest);
        }
    }
    maps.insert(
        map.to_string(),
        Entry {
            built_at: now,
            used: tick,
            map: index.clone(),
        },
    );
    Ok(index)
}

fn html_error(e: HtmlError) -> ApiError {
    match e {
        HtmlError::BadRequest(m) => ApiError::bad_request(m),
        other => ApiError::internal(format!("cannot index the map for the viewer: {other}")),
    }
}

fn page(html: String) -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    // The page's own policy is in a <meta>; the header makes it hold before parsing too.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// `GET /view`: the page that lists the maps.
pub async fn index() -> Response {
    page(served_page(None, BASE))
}

/// `GET /view/{map}`: the viewer of one map.
pub async fn map_page(MapParam(map): MapParam) -> Response {
    page(served_page(Some(&map), BASE))
}

/// `GET /view/{map}/meta`.
pub async fn meta(State(s): State<AppState>, MapParam(map): MapParam) -> Response {
    let answer = blocking(move || Ok(served(&s, &map)?.meta_json().to_string())).await;
    match answer {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /view/{map}/cells`.
pub async fn cells(State(s): State<AppState>, MapParam(map): MapParam, body: Body) -> Response {
    frame(blocking(move || served(&s, &map)?.cells(&body.0).map_err(html_error)).await)
}

/// `POST /view/{map}/field`.
pub async fn field(State(s): State<AppState>, MapParam(map): MapParam, body: Body) -> Response {
    frame(blocking(move || served(&s, &map)?.bricks(&body.0).map_err(html_error)).await)
}

fn frame(answer: Result<Vec<u8>, ApiError>) -> Response {
    match answer {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The `{map}` of a route, percent-decoded; one that does not decode is a 400 in JSON.
#[derive(Debug)]
pub struct MapParam(String);

impl<S: Send + Sync> FromRequestParts<S> for MapParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(map)| MapParam(map))
            .map_err(|e| ApiError::bad_request(format!("the map name in the path: {e}")))
    }
}

/// A request body read within the server's limit (the encoders parse it), errors as JSON.
#[derive(Debug)]
pub struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| {
                let status = e.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(status, "the request body is larger than the server's limit")
                } else {
                    ApiError::new(status, format!("cannot read the request body: {e}"))
                }
            })
    }
}

/// True for the routes that serve a page and so need no token: `GET /view` and
/// `GET /view/{map}` (`path` as sent, still percent-encoded, so a map name has no `/`).
pub fn is_page(method: &axum::http::Method, path: &str) -> bool {
    if *method != axum::http::Method::GET {
        return false;
    }
    path == BASE
        || path
            .strip_prefix(BASE)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn only_the_pages_are_open() {
        for (m, p, open) in [
            (Method::GET, "/view", true),
            (Method::GET, "/view/scene", true),
            (Method::GET, "/view/a%2Fb", true),
            (Method::POST, "/view/scene", false),
            (Method::GET, "/view/scene/meta", false),
            (Method::POST, "/view/scene/cells", false),
            (Method::GET, "/view/", false),
            (Method::GET, "/viewer", false),
            (Method::GET, "/views/x", false),
        ] {
            assert_eq!(is_page(&m, p), open, "{m} {p}");
        }
    }
}
