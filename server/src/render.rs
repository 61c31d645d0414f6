//! `POST /render/svg`: a map drawn as SVG, the way `RENDER SELECT * FROM map` draws it
//! (the render crate through the session's [`tensormap::Database::render`]), answered as
//! `image/svg+xml`. The request's `camera` (position, rotation, fov, perspective) and size
//! are checked and set by the render crate's one table of options
//! ([`RenderOptions::set`], as `RENDER ... WITH` sets them); so are its `effects`, the
//! original API's object: `liquid` adds the animated liquid filter (`effects = 'liquid'`),
//! `wireframe` draws the objects as outlines (`effects = 'wireframe'`), `tensorField` — or
//! `heatmap`, the name this route first took — draws the field (default true).

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

/// The effects of a request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Effects {
    liquid: Option<bool>,
    wireframe: Option<bool>,
    tensor_field: Option<bool>,
    heatmap: Option<bool>,
}

impl Effects {
    /// The `effects` option's value (`'liquid, wireframe'`, `'none'`).
    fn names(&self) -> String {
        let on = [("liquid", self.liquid), ("wireframe", self.wireframe)];
        let names: Vec<&str> = on
            .iter()
            .filter(|(_, v)| *v == Some(true))
            .map(|(n, _)| *n)
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// Whether the field is drawn: `tensorField`, or `heatmap`; both given must agree.
    fn field(&self) -> Result<Option<bool>, ApiError> {
        match (self.tensor_field, self.heatmap) {
            (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(
                "effects.tensorField and effects.heatmap disagree (they are one setting)",
            )),
            (a, b) => Ok(a.or(b)),
        }
    }
}

fn options(req: &RenderRequest) -> Result<RenderOptions, ApiError> {
    let mut o = RenderOptions::default();
    let c = &req.camera;
    let effects = req.effects.names();
    let given = [
        ("width", req.width.map(OptionValue::Number)),
        ("height", req.height.map(OptionValue::Number)),
        ("camera", c.position.as_deref().map(OptionValue::Vector)),
        ("rotation", c.rotation.as_deref().map(OptionValue::Vector)),
        ("fov", c.fov.map(OptionValue::Number)),
        ("perspective", c.perspective.map(OptionValue::Number)),
        ("heatmap", req.effects.field()?.map(OptionValue::Bool)),
        ("effects", Some(OptionValue::Text(&effects))),
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
