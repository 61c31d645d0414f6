//! `POST /vllm/generate`: text generation with a stored V-LLM, through the facade's
//! [`tensormap::Database::generate`] (the arguments checked as `m_generate(text,
//! max_tokens, temperature, top_k, seed)` checks them: docs/LANGUAGE.md, "Models"),
//! answered with the text, its tokens, their positions (the text schedule, model units) and
//! the model's confidence (the mean probability it gave the tokens). The decoded model is
//! the database's, shared with its TensorQL connections.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tensormap::GenerateArgs;

use super::body::Json;
use super::{blocking, AppState};

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
        let args = GenerateArgs {
            prompt: req.prompt,
            max_tokens: req.max_length.unwrap_or(100.0),
            temperature: Some(req.temperature.unwrap_or(0.7)),
            top_k: Some(req.top_k.unwrap_or(50.0)),
            seed: Some(req.seed.unwrap_or(0.0)),
        };
        let g = conn.generate(req.model.as_deref(), &args)?;
        Ok(serde_json::json!({
            "text": g.generation.text,
            "tokens": g.generation.tokens,
            "spatial_positions": g.generation.positions,
            "confidence": g.generation.confidence,
            "model": g.model,
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
