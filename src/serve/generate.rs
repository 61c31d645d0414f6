//! `POST /vllm/generate`: the seed's text generation, run as the stored V-LLM's TensorQL
//! function `m_generate(text, max_tokens, temperature, top_k, seed)` (LANGUAGE.md, "Model
//! inference") on a pooled connection, so it uses the same decoded weights, limits and
//! errors as a statement does.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::Json;
use super::error::ApiError;
use super::{blocking, AppState};
use crate::Value;

/// The kind of model that generates text.
const VLLM: &str = "vllm";

/// `POST /vllm/generate`.
#[derive(Debug, Deserialize)]
pub struct GenerateRequest {
    /// The model (a stored V-LLM); with none, the database's only V-LLM.
    model: Option<String>,
    prompt: String,
    /// New tokens at most (default 100; null is the default too).
    max_length: Option<f64>,
    /// Sampling temperature (default 0.7; 0 is greedy).
    temperature: Option<f64>,
    /// Sample among the k most likely tokens (default 50; 0: all).
    top_k: Option<f64>,
    /// The sampling stream's seed (default 0): the same seed gives the same text.
    seed: Option<f64>,
}

pub async fn generate(State(s): State<AppState>, Json(req): Json<GenerateRequest>) -> Response {
    let answer = blocking(move || {
        let conn = s.pool.get();
        let models: Vec<String> = conn
            .models()
            .iter()
            .filter(|m| m.kind() == VLLM)
            .map(|m| m.name().to_string())
            .collect();
        let model = match req.model {
            Some(name) if models.contains(&name) => name,
            Some(name) => {
                return Err(if conn.models().iter().any(|m| m.name() == name) {
                    ApiError::bad_request(format!("model '{name}' is not a V-LLM"))
                } else {
                    ApiError::not_found(format!("no model named '{name}'"))
                })
            }
            None => match models.as_slice() {
                [only] => only.clone(),
                [] => return Err(ApiError::not_found("the database has no V-LLM model")),
                _ => {
                    return Err(ApiError::bad_request(
                        "the database has several V-LLMs: name one with \"model\"",
                    ))
                }
            },
        };
        // The function's name is the model's: quoted as an identifier.
        let sql = format!(
            "SELECT {}(?, ?, ?, ?, ?) AS text",
            quote(&format!("{model}_generate"))
        );
        let params = [
            Value::text(&req.prompt),
            Value::Number(req.max_length.unwrap_or(100.0)),
            Value::Number(req.temperature.unwrap_or(0.7)),
            Value::Number(req.top_k.unwrap_or(50.0)),
            Value::Number(req.seed.unwrap_or(0.0)),
        ];
        let r = conn.execute_with(&sql, &params)?;
        let text = match r
            .first()
            .and_then(|r| r.rows.first())
            .and_then(|row| row.first())
        {
            Some(Value::Text(t)) => t.to_string(),
            _ => return Err(ApiError::internal("m_generate returned no text")),
        };
        Ok(serde_json::json!({ "text": text, "model": model }).to_string())
    })
    .await;
    match answer {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `name` as a TensorQL identifier: as it is when it is a plain one, else `"quoted"`.
pub fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn names_are_quoted_only_when_they_must_be() {
        assert_eq!(quote("tiny_generate"), "tiny_generate");
        assert_eq!(quote("my model"), "\"my model\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote("9x"), "\"9x\"");
    }
}
