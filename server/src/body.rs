//! Request bodies: JSON read within the size limit, errors as JSON (400 with the line and
//! column of bad JSON, 413 past the limit), and the fields the tensor routes share.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::ApiError;

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "the request body is larger than the server's limit")
            } else {
                ApiError::new(status, format!("cannot read the request body: {e}"))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// The map a request names: `map`, or `tensor_map_id` (the field name of the original API's
/// clients).
#[derive(Debug, Default, Deserialize)]
pub struct MapName {
    pub map: Option<String>,
    pub tensor_map_id: Option<String>,
}

impl MapName {
    /// The named map; with no name, the database's only map (a client of the original API names none).
    pub fn resolve(&self, db: &tensormap::Database) -> Result<String, ApiError> {
        match (&self.map, &self.tensor_map_id) {
            (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(format!(
                "map '{a}' and tensor_map_id '{b}' name different maps"
            ))),
            (Some(name), _) | (None, Some(name)) => Ok(name.clone()),
            (None, None) => {
                let maps = db.maps();
                match maps.as_slice() {
                    [only] => Ok(only.name.clone()),
                    [] => Err(ApiError::not_found("the database has no map")),
                    _ => Err(ApiError::bad_request(
                        "the database has several maps: name one with \"map\"",
                    )),
                }
            }
        }
    }
}

/// A point `[x, y, z]` from JSON numbers, which must be finite as f32.
pub fn point(v: &[f64], what: &str) -> Result<[f32; 3], ApiError> {
    match v {
        [x, y, z] => {
            let p = [*x as f32, *y as f32, *z as f32];
            if p.iter().all(|c| c.is_finite()) {
                Ok(p)
            } else {
                Err(ApiError::bad_request(format!(
                    "{what} must be finite, found {v:?}"
                )))
            }
        }
        _ => Err(ApiError::bad_request(format!(
            "{what} must be 3 numbers [x, y, z], found {}",
            v.len()
        ))),
    }
}

/// A JSON number as a finite f32.
pub fn finite(v: f64, what: &str) -> Result<f32, ApiError> {
    let x = v as f32;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(ApiError::bad_request(format!(
            "{what} must be a finite number, found {v}"
        )))
    }
}
