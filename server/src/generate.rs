//! `POST /vllm/generate`: text generation with a stored V-LLM, through the facade's
//! [`tensormap::Database::generate`] (the arguments checked as `m_generate(text,
//! max_tokens, temperature, top_k, seed)` checks them: docs/LANGUAGE.md, "Models"),
//! answered with the text, its tokens, their positions (the text schedule, model units) and
//! the model's confidence (the mean probability it gave the tokens). The decoded model is
//! the database's, shared with its TensorQL connections.
//!
//! With a `map` (or `tensor_map_id`), the prompt is a question about that map in plain
//! language, answered as TensorQL's `ASK` answers it (docs/ask.md): `text` is the read-only
//! statement the command model wrote (the built-in one, or the stored command model
//! `model` names), with its `probability` and `outcome`; when the outcome is `answer` the
//! statement is run and its `columns` and `rows` come back, otherwise `rows` is null and
//! `message` says why nothing was run (the statement is then the model's best guess).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tensormap::GenerateArgs;

use super::body::Json;
use super::error::ApiError;
use super::{blocking, AppState};
use tensormap::json::{write_rows, write_str};

/// `POST /vllm/generate`.
#[derive(Debug, Deserialize)]
pub struct GenerateRequest {
    /// The model (a stored V-LLM); with none, the database's only V-LLM. With `map`: a
    /// stored command model; with none, the built-in one.
    model: Option<String>,
    /// The map a plain-language question is about: the prompt is answered as `ASK`.
    #[serde(alias = "tensor_map_id")]
    map: Option<String>,
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
        if let Some(map) = &req.map {
            return ask(&conn, map, req.model.as_deref(), &req.prompt);
        }
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

/// The prompt as `ASK map [USING model] 'prompt'`: `EXPLAIN ASK` for the statement, its
/// probability and outcome, then the statement itself when the outcome is `answer`.
fn ask(
    conn: &tensormap::Database,
    map: &str,
    model: Option<&str>,
    prompt: &str,
) -> Result<String, ApiError> {
    let using = model.map_or(String::new(), |m| format!(" USING {}", quote(m)));
    let explain = format!(
        "EXPLAIN ASK {}{using} '{}'",
        quote(map),
        prompt.replace('\'', "''")
    );
    let r = conn.execute(&explain)?;
    let row = r
        .first()
        .and_then(|r| r.rows.first())
        .filter(|row| row.len() == 5)
        .ok_or_else(|| ApiError::internal("EXPLAIN ASK returned no row"))?;
    let text = |i: usize| match &row[i] {
        tensormap::Value::Text(s) => s.to_string(),
        other => other.to_string(),
    };
    let (statement, outcome, model_name) = (text(0), text(2), text(4));
    let number = |i: usize| match &row[i] {
        tensormap::Value::Number(n) => *n,
        _ => f64::NAN,
    };
    let (probability, threshold) = (number(1), number(3));
    let io = |e: std::io::Error| ApiError::internal(format!("cannot write the answer: {e}"));
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"text\":");
    write_str(&mut out, &statement).map_err(io)?;
    out.extend_from_slice(
        format!(",\"probability\":{probability},\"threshold\":{threshold},\"outcome\":").as_bytes(),
    );
    write_str(&mut out, &outcome).map_err(io)?;
    out.extend_from_slice(b",\"model\":");
    write_str(&mut out, &model_name).map_err(io)?;
    if outcome == "answer" {
        let results = conn.execute(&statement)?;
        let result = results
            .first()
            .ok_or_else(|| ApiError::internal("the statement returned no result"))?;
        out.extend_from_slice(b",\"columns\":[");
        for (j, c) in result.columns.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write_str(&mut out, c).map_err(io)?;
        }
        out.extend_from_slice(b"],\"rows\":");
        write_rows(&mut out, result).map_err(io)?;
    } else {
        let why = match outcome.as_str() {
            "not sure" => format!(
                "the model is not sure (probability {probability:.2} below its threshold \
                 {threshold:.2}): the statement is its best guess and was not run"
            ),
            "not a command" => "the prompt does not read as a question about the map: the \
                                statement is the model's best guess and was not run"
                .to_string(),
            _ => "the prompt names a type of object the map does not have: the statement \
                  leaves it out and was not run"
                .to_string(),
        };
        out.extend_from_slice(b",\"columns\":null,\"rows\":null,\"message\":");
        write_str(&mut out, &why).map_err(io)?;
    }
    out.push(b'}');
    String::from_utf8(out).map_err(|e| ApiError::internal(e.to_string()))
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
