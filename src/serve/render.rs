//! `POST /render/svg`: a map drawn as SVG, the way `RENDER SELECT * FROM map` draws it
//! (the render crate through the session's [`crate::Database::render`]), answered as
//! `image/svg+xml`. The seed's `camera` (position, rotation, fov) maps onto the renderer's
//! camera; its `effects` are read as: `heatmap` (default true) draws the field, `wireframe`
//! draws the axes; `liquid` (an animated filter in the seed) has no equivalent in a static
//! SVG and is accepted without effect.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::{finite, point, Json, MapName};
use super::error::ApiError;
use super::generate::quote;
use super::{blocking, AppState};
use crate::RenderOptions;

/// `POST /render/svg`.
#[derive(Debug, Deserialize)]
pub struct RenderRequest {
    map: Option<String>,
    tensor_map_id: Option<String>,
    #[serde(default)]
    camera: CameraRequest,
    #[serde(default)]
    effects: Effects,
    width: Option<f64>,
    height: Option<f64>,
}

/// The seed's camera.
#[derive(Debug, Default, Deserialize)]
pub struct CameraRequest {
    position: Option<Vec<f64>>,
    rotation: Option<Vec<f64>>,
    fov: Option<f64>,
    perspective: Option<f64>,
}

/// The seed's effects, and the heatmap.
#[derive(Debug, Default, Deserialize)]
pub struct Effects {
    #[allow(dead_code)] // accepted: the seed's clients send it (see the module header)
    liquid: Option<bool>,
    wireframe: Option<bool>,
    heatmap: Option<bool>,
}

/// `v` within `lo..=hi` (RENDER's limits: query/src/render.rs).
fn within(v: f64, lo: f64, hi: f64, what: &str) -> Result<f64, ApiError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(format!(
            "{what} must be a number from {lo} to {hi}, found {v}"
        )))
    }
}

fn options(req: &RenderRequest) -> Result<RenderOptions, ApiError> {
    let mut o = RenderOptions::default();
    if let Some(w) = req.width {
        o.width = within(w, 1.0, 16384.0, "width")?.round() as u32;
    }
    if let Some(h) = req.height {
        o.height = within(h, 1.0, 16384.0, "height")?.round() as u32;
    }
    let c = &req.camera;
    if let Some(p) = &c.position {
        o.camera.position = point(p, "camera.position")?;
    }
    if let Some(r) = &c.rotation {
        o.camera.rotation = point(r, "camera.rotation")?;
    }
    if let Some(f) = c.fov {
        o.camera.fov = finite(within(f, 1e-3, 1e6, "camera.fov")?, "camera.fov")?;
    }
    if let Some(p) = c.perspective {
        o.camera.perspective = within(p, 1e-3, 1e12, "camera.perspective")? as f32;
    }
    if let Some(h) = req.effects.heatmap {
        o.heatmap = h;
    }
    if let Some(w) = req.effects.wireframe {
        o.axes = w;
    }
    Ok(o)
}

pub async fn render_svg(State(s): State<AppState>, Json(req): Json<RenderRequest>) -> Response {
    let answer = async {
        let opts = options(&req)?;
        let names = MapName {
            map: req.map,
            tensor_map_id: req.tensor_map_id,
        };
        blocking(move || {
            let conn = s.pool.get();
            let map = names.resolve(&conn)?;
            let svg = conn.render(&format!("SELECT * FROM {}", quote(&map)), &opts)?;
            Ok(svg)
        })
        .await
    };
    match answer.await {
        Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        Err(e) => e.into_response(),
    }
}
