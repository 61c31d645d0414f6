//! Bearer-token authentication with scopes: every route but `/health` and the viewer's pages
//! (`GET /view`, `GET /view/{map}`: they hold no data and ask for the token) needs
//! `Authorization: Bearer TOKEN` when the server has tokens (`--token-file`). Each token has
//! a scope ([`Access`]): `read` (queries, renders, generation, the viewer's data, metrics),
//! `write` (also inserts: `POST /tensor/embed`, and INSERT / UPDATE / DELETE / CREATE MAP on
//! `/query`) or `admin` (also DROP, model statements and the server's files). A token used
//! beyond its scope is answered 403; on `/query` the scope a script needs is the strongest
//! of its statements' ([`tensormap::query::script_access`]: the parsed statement's kind,
//! never its text), checked before anything runs.
//!
//! A token file holds one `TOKEN SCOPE` per line (blank lines and `#` comments are
//! skipped); a file of one bare token gives that token `admin`, as before scopes. Tokens are
//! compared in constant time (subtle), all of them on every request, so the time of a
//! refusal says nothing about how much of a guess was right or which token it was near.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

pub use tensormap::query::ast::Access;

use super::error::ApiError;
use super::AppState;

/// A bearer token and what it may do.
#[derive(Clone, PartialEq, Eq)]
pub struct ScopedToken {
    /// The token (compared in constant time).
    pub token: String,
    /// What it allows.
    pub scope: Access,
}

impl std::fmt::Debug for ScopedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScopedToken(…, {})", self.scope.name())
    }
}

impl ScopedToken {
    /// Reads a token file (see the module header). Errors name the file and the line.
    pub fn read_file(path: &Path) -> std::io::Result<Vec<ScopedToken>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
        })?;
        Self::parse(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the token file {}: {e}", path.display()),
            )
        })
    }

    /// Parses a token file's text.
    pub fn parse(text: &str) -> Result<Vec<ScopedToken>, String> {
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .collect();
        if lines.is_empty() {
            return Err("it is empty (one 'TOKEN read|write|admin' a line)".into());
        }
        let mut tokens: Vec<ScopedToken> = Vec::with_capacity(lines.len());
        for (n, line) in &lines {
            let mut words = line.split_whitespace();
            let token = words.next().unwrap_or_default();
            let scope = match words.next() {
                // One bare token: the whole file is that token, allowed everything.
                None if lines.len() == 1 => Access::Admin,
                None => return Err(format!("line {n}: a token without a scope")),
                Some("read") => Access::Read,
                Some("write") => Access::Write,
                Some("admin") => Access::Admin,
                Some(other) => {
                    return Err(format!(
                        "line {n}: unknown scope '{other}' (read, write or admin)"
                    ))
                }
            };
            if let Some(extra) = words.next() {
                return Err(format!("line {n}: unexpected '{extra}' after the scope"));
            }
            if tokens.iter().any(|t| t.token == token) {
                return Err(format!("line {n}: the token appears twice"));
            }
            tokens.push(ScopedToken {
                token: token.to_string(),
                scope,
            });
        }
        Ok(tokens)
    }
}

/// What a route needs: `None` for the routes open to all.
pub fn route_access(method: &Method, path: &str) -> Option<Access> {
    if path == "/health" || super::view::is_page(method, path) {
        return None;
    }
    Some(match (method.as_str(), path) {
        ("POST", "/tensor/embed") => Access::Write,
        // `/query` checks its statements against the scope itself (sql.rs).
        _ => Access::Read,
    })
}

/// The middleware: 401 without a known token, 403 for a route beyond its scope. The
/// token's scope travels to the handler as a request extension.
pub async fn require_token(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    if s.tokens.is_empty() {
        return next.run(req).await;
    }
    let Some(needed) = route_access(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(given) = given else {
        return unauthorized("this server needs \"Authorization: Bearer TOKEN\"");
    };
    // Every token is compared, whichever matches.
    let mut scope = None;
    for t in &s.tokens {
        if bool::from(given.as_bytes().ct_eq(t.token.as_bytes())) {
            scope = Some(t.scope);
        }
    }
    let Some(scope) = scope else {
        return unauthorized("the bearer token is wrong");
    };
    if scope < needed {
        return forbidden(
            scope,
            needed,
            &format!("{} {}", req.method(), req.uri().path()),
        );
    }
    req.extensions_mut().insert(scope);
    next.run(req).await
}

/// 403: `what` needs `needed`, the token has `scope`.
pub fn forbidden(scope: Access, needed: Access, what: &str) -> Response {
    scope_error(scope, needed, what).into_response()
}

/// The error of a token used beyond its scope.
pub fn scope_error(scope: Access, needed: Access, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "{what} needs a token with the '{}' scope; this token has '{}'",
            needed.name(),
            scope.name()
        ),
    )
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_parse_with_scopes_or_one_bare_token() {
        let t = ScopedToken::parse("# readers\nr1 read\n\nw1 write\na1   admin\n").unwrap();
        let scopes: Vec<_> = t.iter().map(|t| (t.token.as_str(), t.scope)).collect();
        assert_eq!(
            scopes,
            [
                ("r1", Access::Read),
                ("w1", Access::Write),
                ("a1", Access::Admin)
            ]
        );
        let bare = ScopedToken::parse("  s3cret \n").unwrap();
        assert_eq!(bare[0].scope, Access::Admin);
        for (text, error) in [
            ("", "empty"),
            ("a read\nb", "line 2: a token without a scope"),
            ("a reader", "line 1: unknown scope 'reader'"),
            ("a read x", "line 1: unexpected 'x'"),
            ("a read\na write", "line 2: the token appears twice"),
        ] {
            let e = ScopedToken::parse(text).unwrap_err();
            assert!(e.contains(error), "{text:?}: {e}");
        }
    }

    #[test]
    fn routes_need_read_but_embed_needs_write() {
        assert_eq!(route_access(&Method::GET, "/health"), None);
        assert_eq!(route_access(&Method::GET, "/view"), None);
        assert_eq!(
            route_access(&Method::POST, "/tensor/embed"),
            Some(Access::Write)
        );
        for (m, p) in super::super::routes() {
            let m: Method = m.parse().unwrap();
            let a = route_access(&m, p);
            if p != "/health" && !super::super::view::is_page(&m, p) {
                assert!(a.is_some(), "{m} {p}");
            }
        }
    }
}
