//! Bearer-token authentication: every route but `/health` needs
//! `Authorization: Bearer TOKEN` when the server has a token (`--token-file`). The token is
//! compared in constant time (subtle), so the time of a refusal says nothing about how
//! much of a guess was right.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;

/// The middleware: 401 without the right token.
pub async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.token else {
        return next.run(req).await;
    };
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let error = match given {
        None => "this server needs \"Authorization: Bearer TOKEN\"",
        Some(g) if bool::from(g.as_bytes().ct_eq(token.as_bytes())) => return next.run(req).await,
        Some(_) => "the bearer token is wrong",
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, error).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}
