//! Errors as HTTP responses: a status and a JSON body `{"error": "...", "status": 400}`,
//! with `"line"` and `"column"` when the error is in a TensorQL text.
//!
//! The status comes from the error's kind ([`ErrorKind`], one list for the engine's,
//! TensorQL's and the model calls' errors), never from its text: a user's mistake is a 4xx
//! (400 a malformed request or value, 404 a name that does not exist, 409 a name or id
//! taken), and 500 is kept for failures of the server itself — its store, a model that
//! cannot run, a bug — which are also logged (`metrics::record`).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use tensormap::{CallError, Error, ErrorKind, QueryError};

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

/// The status of an error of `kind`.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Syntax | ErrorKind::InvalidValue | ErrorKind::Limit => StatusCode::BAD_REQUEST,
        // The file named is the server's: the request named one that cannot be read or
        // written, or whose content is not what it should be.
        ErrorKind::Io | ErrorKind::FileFormat => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Storage | ErrorKind::Model | ErrorKind::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
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
        let status = self.status;
        let mut response =
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        // For the middleware that logs the server's own failures.
        response.extensions_mut().insert(self);
        response
    }
}

/// The typed API's errors, by kind.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::new(status_of(e.kind()), e.to_string())
    }
}

/// A TensorQL error, by kind, with its line and column.
impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError {
            status: status_of(e.kind),
            message: e.to_string(),
            pos: Some((e.pos.line, e.pos.col)),
        }
    }
}

/// A model call's error, by kind.
impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        ApiError::new(status_of(e.kind), e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_kinds_not_messages() {
        let storage = QueryError::new(
            ErrorKind::Storage,
            tensormap::query::Pos { line: 1, col: 1 },
            "no map named 'x'",
        );
        assert_eq!(
            ApiError::from(storage).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let missing = Error::MapNotFound("x".into());
        assert_eq!(ApiError::from(missing).status, StatusCode::NOT_FOUND);
        let taken = Error::DuplicateId {
            map: "m".into(),
            id: "a".into(),
        };
        assert_eq!(ApiError::from(taken).status, StatusCode::CONFLICT);
        let bad = CallError::from("max_tokens must be a whole number");
        assert_eq!(ApiError::from(bad).status, StatusCode::BAD_REQUEST);
    }
}
