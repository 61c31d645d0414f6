//! `POST /vllm/generate`: the seed's text generation with a stored V-LLM, the arguments
//! checked as `m_generate(text, max_tokens, temperature, top_k, seed)` checks them
//! (LANGUAGE.md, "Model inference"), answered in the seed's shape: the text, its tokens,
//! their positions (the text schedule, model units) and the model's confidence (the mean
//! probability it gave the tokens). The decoded model is kept by the server per stored
//! blob ([`super::Shared::vllm`]).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::Json;
use super::error::ApiError;
use std::sync::Arc;

use tensormap_engine::StoredModel;

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
        let models = conn.models();
        let vllms: Vec<&Arc<StoredModel>> = models.iter().filter(|m| m.kind() == VLLM).collect();
        let stored = match &req.model {
            Some(name) => match models.iter().find(|m| m.name() == name) {
                Some(m) if m.kind() == VLLM => m,
                Some(_) => {
                    return Err(ApiError::bad_request(format!(
                        "model '{name}' is not a V-LLM"
                    )))
                }
                None => return Err(ApiError::not_found(format!("no model named '{name}'"))),
            },
            None => match vllms.as_slice() {
                [only] => *only,
                [] => return Err(ApiError::not_found("the database has no V-LLM model")),
                _ => {
                    return Err(ApiError::bad_request(
                        "the database has several V-LLMs: name one with \"model\"",
                    ))
                }
            },
        };
        // The arguments as `m_generate` takes and checks them.
        let args = [
            Value::text(&req.prompt),
            Value::Number(req.max_length.unwrap_or(100.0)),
            Value::Number(req.temperature.unwrap_or(0.7)),
            Value::Number(req.top_k.unwrap_or(50.0)),
            Value::Number(req.seed.unwrap_or(0.0)),
        ];
        let (prompt, max, sampling) = crate::models::generation_args(&args)
            .map_err(|e| ApiError::bad_request(format!("m_generate: {e}")))?;
        let model = s.vllm(stored).map_err(ApiError::internal)?;
        let g = model
            .generate_detailed(&prompt, max, &sampling)
            .map_err(|e| match e {
                tensormap_model::Error::Argument(m) => {
                    ApiError::bad_request(format!("m_generate: {m}"))
                }
                other => ApiError::internal(format!("m_generate: {other}")),
            })?;
        Ok(serde_json::json!({
            "text": g.text,
            "tokens": g.tokens,
            "spatial_positions": g.positions,
            "confidence": g.confidence,
            "model": stored.name(),
        })
        .to_string())
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
