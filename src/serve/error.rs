//! Errors as HTTP responses: a status and a JSON body
//! `{"error": "...", "status": 400}`, with `"line"` and `"column"` when the error is in a
//! TensorQL text. A user's mistake is a 4xx, never a 500; 500 is kept for failures of the
//! server itself (storage I/O, a task that died).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{Error, QueryError};

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, for a person.
    pub message: String,
    /// Where in the TensorQL text (line, column; 1-based), when it was one.
    pub pos: Option<(u32, u32)>,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            pos: None,
        }
    }

    /// 400: the request is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: what it names does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The JSON body.
    fn body(&self) -> String {
        let mut body = serde_json::json!({
            "error": self.message,
            "status": self.status.as_u16(),
        });
        if let Some((line, column)) = self.pos {
            body["line"] = line.into();
            body["column"] = column.into();
        }
        body.to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// The typed API's errors: what the user named is missing (404) or already there (409),
/// what they sent is invalid (400); storage failures are the server's (500).
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::MapNotFound(_) | Error::ModelNotFound(_) | Error::ObjectNotFound { .. } => {
                StatusCode::NOT_FOUND
            }
            Error::MapExists(_) | Error::ModelExists(_) | Error::DuplicateId { .. } => {
                StatusCode::CONFLICT
            }
            Error::InvalidMapName { .. }
            | Error::InvalidObject { .. }
            | Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A TensorQL error, with its line and column: 404 when the map or model it names does not
/// exist, else 400 (the statement is wrong). The query crate's errors carry a position and
/// a message, not a kind, so the engine's "no map named" / "no model named" are recognized
/// by their text (engine/src/error.rs).
impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let missing =
            e.message.starts_with("no map named ") || e.message.starts_with("no model named ");
        let status = if missing {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError {
            status,
            message: e.to_string(),
            pos: Some((e.pos.line, e.pos.col)),
        }
    }
}
