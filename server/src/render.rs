//! `POST /render/svg`: a map drawn as SVG, the way `RENDER SELECT * FROM map` draws it
//! (the render crate through the session's [`tensormap::Database::render`]), answered as
//! `image/svg+xml`. The request's `camera` (position, rotation, fov, perspective) and size
//! are checked and set by the render crate's one table of options
//! ([`RenderOptions::set`], as `RENDER ... WITH` sets them); its `effects` are read as:
//! `heatmap` (default true) draws the field, `wireframe` draws the axes; `liquid` (an
//! animated effect that a static SVG cannot show) is accepted without effect.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tensormap::{OptionValue, RenderOptions};

use super::body::{Json, MapName};
use super::error::ApiError;
use super::generate::quote;
use super::{blocking, AppState};

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

/// The camera of a request.
#[derive(Debug, Default, Deserialize)]
pub struct CameraRequest {
    position: Option<Vec<f64>>,
    rotation: Option<Vec<f64>>,
    fov: Option<f64>,
    perspective: Option<f64>,
}

/// The effects of a request, and the heatmap.
#[derive(Debug, Default, Deserialize)]
pub struct Effects {
    #[allow(dead_code)] // accepted without effect (see the module header)
    liquid: Option<bool>,
    wireframe: Option<bool>,
    heatmap: Option<bool>,
}

fn options(req: &RenderRequest) -> Result<RenderOptions, ApiError> {
    let mut o = RenderOptions::default();
    let c = &req.camera;
    let given = [
        ("width", req.width.map(OptionValue::Number)),
        ("height", req.height.map(OptionValue::Number)),
        ("camera", c.position.as_deref().map(OptionValue::Vector)),
        ("rotation", c.rotation.as_deref().map(OptionValue::Vector)),
        ("fov", c.fov.map(OptionValue::Number)),
        ("perspective", c.perspective.map(OptionValue::Number)),
        ("heatmap", req.effects.heatmap.map(OptionValue::Bool)),
        ("axes", req.effects.wireframe.map(OptionValue::Bool)),
    ];
    for (name, value) in given {
        if let Some(v) = value {
            o.set(name, v)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
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
