//! `POST /query`: TensorQL with `?` parameters, answered as JSON rows.
//!
//! `{"sql": "SELECT id FROM scene WHERE WITHIN(position, ?, ?)", "params": [[0, 0, 0], 50]}`
//! → `{"results": [{"status": "SELECT 2", "columns": ["id"], "rows": [{"id": "a"}, ...]}]}`,
//! one result per statement, rows written by the shell's JSON encoder ([`tensormap::json`]).
//! Parameters: numbers, strings, booleans, `null`, and arrays of numbers (vectors).
//!
//! A request runs on a pooled connection of its own. A transaction does not outlive its
//! request: a script that leaves a `BEGIN` open is rolled back and answered 400. Statements
//! that read or write files on the server (COPY, SNAPSHOT, RESTORE, RENDER … TO, LOAD and
//! SAVE MODEL) are refused with 403 unless the server was started with `--allow-files`:
//! the server's files are not the client's.

use std::io::Write;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::Json;
use super::error::ApiError;
use super::{blocking, AppState};
use tensormap::json::{write_rows, write_str};
use tensormap::{QueryResult, Value};

/// `POST /query`.
#[derive(Debug, Deserialize)]
pub struct SqlRequest {
    sql: String,
    #[serde(default)]
    params: Vec<serde_json::Value>,
}

pub async fn query(
    State(s): State<AppState>,
    scope: Option<axum::Extension<super::Access>>,
    Json(req): Json<SqlRequest>,
) -> Response {
    // No scope: the server has no tokens, everything is allowed.
    let scope = scope.map_or(super::Access::Admin, |e| e.0);
    match query_inner(s, req, scope).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn query_inner(
    s: AppState,
    req: SqlRequest,
    scope: super::Access,
) -> Result<Response, ApiError> {
    let params = req
        .params
        .iter()
        .enumerate()
        .map(|(i, v)| param(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    let shared = s.clone();
    let (body, commits) = blocking(move || {
        if !shared.allow_files {
            refuse_files(&req.sql)?;
        }
        // The token's scope against the statements' kinds, before anything runs.
        if let Some((needed, pos)) = tensormap::query::script_access(&req.sql) {
            if needed > scope {
                let mut e = super::auth::scope_error(
                    scope,
                    needed,
                    &format!("error at {pos}: this statement"),
                );
                e.pos = Some((pos.line, pos.col));
                return Err(e);
            }
        }
        let conn = shared.pool.get();
        let results = conn.execute_with(&req.sql, &params);
        if conn.in_transaction() {
            // The connection rolls back when it goes back to the pool.
            return Err(match results {
                Err(e) => ApiError::from(e),
                Ok(_) => ApiError::bad_request(
                    "the statements leave a transaction open (BEGIN without COMMIT or \
                     ROLLBACK): a transaction must end within its request; it was rolled back",
                ),
            });
        }
        let results = results?;
        let mut out = Vec::with_capacity(256);
        write_results(&mut out, &results)
            .map_err(|e| ApiError::internal(format!("cannot write the answer: {e}")))?;
        Ok((out, commits_of(&results)))
    })
    .await?;
    s.metrics.add_commits(commits);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A JSON parameter as a value.
fn param(i: usize, v: &serde_json::Value) -> Result<Value, ApiError> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Value::text(s),
        J::Array(items) => {
            let mut x = Vec::with_capacity(items.len());
            for (j, item) in items.iter().enumerate() {
                match item.as_f64() {
                    Some(n) => x.push(n as f32),
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "params[{i}][{j}]: a vector holds numbers only, found {item}"
                        )))
                    }
                }
            }
            Value::vector(&x)
        }
        J::Object(_) => {
            return Err(ApiError::bad_request(format!(
                "params[{i}]: a parameter is a number, a string, a boolean, null or an \
                 array of numbers, not an object"
            )))
        }
    })
}

/// 403 for a statement that reads or writes the server's files.
fn refuse_files(sql: &str) -> Result<(), ApiError> {
    // A script that does not parse has none: execute_with refuses it with its position.
    match tensormap::query::first_file_statement(sql) {
        None => Ok(()),
        Some(pos) => Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "error at {pos}: this statement reads or writes files on the server, which \
                 `tmap serve` allows only with --allow-files"
            ),
            pos: Some((pos.line, pos.col)),
        }),
    }
}

/// How many transactions the statements committed: each write outside `BEGIN` is one,
/// each `COMMIT` one.
fn commits_of(results: &[QueryResult]) -> u64 {
    let mut in_txn = false;
    let mut n = 0;
    for r in results {
        let word = r.status.split(' ').next().unwrap_or("");
        match word {
            "BEGIN" => in_txn = true,
            "ROLLBACK" => in_txn = false,
            "COMMIT" => {
                in_txn = false;
                n += 1;
            }
            "INSERT" | "UPDATE" | "DELETE" | "CREATE" | "DROP" | "LOAD" | "TRAIN" | "RESTORE"
                if !in_txn =>
            {
                n += 1
            }
            _ => {}
        }
    }
    n
}

/// `{"results": [{"status": ..., "columns": [...], "rows": [...]}, ...]}`.
fn write_results(out: &mut Vec<u8>, results: &[QueryResult]) -> std::io::Result<()> {
    out.write_all(b"{\"results\":[")?;
    for (i, r) in results.iter().enumerate() {
        out.write_all(if i > 0 {
            b",{\"status\":"
        } else {
            b"{\"status\":"
        })?;
        write_str(out, &r.status)?;
        out.write_all(b",\"columns\":[")?;
        for (j, c) in r.columns.iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            write_str(out, c)?;
        }
        out.write_all(b"],\"rows\":")?;
        write_rows(out, r)?;
        out.write_all(b"}")?;
    }
    out.write_all(b"]}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: &str) -> QueryResult {
        QueryResult::status(s)
    }

    #[test]
    fn commits_count_writes_outside_begin_and_each_commit() {
        let r = [
            status("CREATE MAP"),
            status("INSERT 3"),
            status("BEGIN"),
            status("INSERT 1"),
            status("DELETE 2"),
            status("COMMIT"),
            status("BEGIN"),
            status("UPDATE 1"),
            status("ROLLBACK"),
            status("UPDATE 4"),
        ];
        assert_eq!(commits_of(&r), 4);
        assert_eq!(commits_of(&[status("SELECT 2")]), 0);
    }

    #[test]
    fn file_statements_are_refused_with_their_position() {
        assert!(refuse_files("SELECT 1; RENDER SELECT * FROM m").is_ok());
        let e = refuse_files("SELECT 1;\n  SAVE MODEL m TO 'x.vllm'").unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(e.pos, Some((2, 3)));
        // Text that does not parse is left to the executor's error (400, with position).
        assert!(refuse_files("SELEC").is_ok());
    }

    #[test]
    fn json_parameters_become_values() {
        let v: Vec<Value> = [
            json!(1.5),
            json!("a"),
            json!(true),
            json!(null),
            json!([1, 2]),
        ]
        .iter()
        .enumerate()
        .map(|(i, j)| param(i, j).unwrap())
        .collect();
        assert_eq!(
            v,
            [
                Value::Number(1.5),
                Value::text("a"),
                Value::Bool(true),
                Value::Null,
                Value::vector(&[1.0, 2.0])
            ]
        );
        assert_eq!(
            param(0, &json!({})).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    use serde_json::json;
}
