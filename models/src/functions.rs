//! Each stored model's functions over rows, registered as batch functions: `m_embed(text)`
//! (a V-LLM's or a sentence encoder's), `m_score(text, embedding, position)` and
//! `m_generate(text, max_tokens [, temperature, top_k, seed])`, with their argument checks.
//! A NULL argument gives NULL.

use std::sync::Arc;

use tensormap_engine::{CallContext, CallError, Registry, Value};
use tensormap_model::{Model, Sampling, ScoreInput};

use crate::cache::Decoded;
use crate::model_error;

/// The most tokens one `m_generate` call may produce.
pub const MAX_GENERATE_TOKENS: usize = 4096;

/// The suffixes of a model's function names.
pub(crate) const SUFFIXES: [&str; 3] = ["_embed", "_score", "_generate"];

/// Registers a sentence encoder's `name_embed` on `model`.
pub(crate) fn register_encoder(registry: &Registry, name: &str, model: &Arc<Decoded>) {
    let m = model.clone();
    registry.register_batch(
        &format!("{name}_embed"),
        1,
        1,
        Arc::new(move |rows: &[Vec<Value>], _: &CallContext| {
            let encoder = m.encoder()?;
            embed_with(rows, |texts| encoder.embed(texts).map_err(model_error))
        }),
    );
}

/// Registers a V-LLM's `name_embed`, `name_score` and `name_generate` on `model`.
pub(crate) fn register_vllm(registry: &Registry, name: &str, model: &Arc<Decoded>) {
    let m = model.clone();
    registry.register_batch(
        &format!("{name}_embed"),
        1,
        1,
        Arc::new(move |rows: &[Vec<Value>], _: &CallContext| {
            let model = m.vllm()?;
            embed_with(rows, |texts| model.embed(texts).map_err(model_error))
        }),
    );
    let m = model.clone();
    registry.register_batch(
        &format!("{name}_score"),
        3,
        3,
        Arc::new(move |rows: &[Vec<Value>], ctx: &CallContext| score(&*m.vllm()?, rows, ctx)),
    );
    let m = model.clone();
    registry.register_batch(
        &format!("{name}_generate"),
        2,
        5,
        Arc::new(move |rows: &[Vec<Value>], _: &CallContext| generate(&*m.vllm()?, rows)),
    );
}

/// Argument `i` of a row (a missing one is NULL).
fn arg(row: &[Value], i: usize) -> &Value {
    row.get(i).unwrap_or(&Value::Null)
}

/// An argument of the wrong type.
fn wrong(what: &str, want: &str, v: &Value) -> CallError {
    CallError::from(format!("{what} must be {want}, found a {}", v.type_name()))
}

/// An embed function over rows: `run` embeds the non-NULL texts in one batch.
pub(crate) fn embed_with(
    rows: &[Vec<Value>],
    run: impl FnOnce(&[&str]) -> Result<Vec<Vec<f32>>, CallError>,
) -> Result<Vec<Value>, CallError> {
    let mut texts: Vec<&str> = Vec::with_capacity(rows.len());
    let mut at = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match arg(row, 0) {
            Value::Null => {}
            Value::Text(s) => {
                texts.push(s);
                at.push(i);
            }
            other => return Err(wrong("the text (argument 1)", "text", other)),
        }
    }
    let mut out = vec![Value::Null; rows.len()];
    if texts.is_empty() {
        return Ok(out);
    }
    let vectors = run(&texts)?;
    for (i, v) in at.into_iter().zip(vectors) {
        out[i] = Value::Vector(Arc::from(v));
    }
    Ok(out)
}

/// `m_score(text, embedding, position)` over rows: one batched pass (one prefix per
/// distinct text, one token per row).
fn score(model: &Model, rows: &[Vec<Value>], ctx: &CallContext) -> Result<Vec<Value>, CallError> {
    let bounds = ctx.bounds.unwrap_or(500.0) as f32;
    let mut inputs = Vec::with_capacity(rows.len());
    let mut at = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let (text, emb, pos) = (arg(row, 0), arg(row, 1), arg(row, 2));
        if [text, emb, pos].contains(&&Value::Null) {
            continue;
        }
        let Value::Text(text) = text else {
            return Err(wrong("the text (argument 1)", "text", text));
        };
        let Value::Vector(emb) = emb else {
            return Err(wrong("the embedding (argument 2)", "a vector", emb));
        };
        let position = match pos {
            Value::Vector(p) if p.len() == 3 => [p[0], p[1], p[2]],
            Value::Vector(p) => {
                return Err(CallError::from(format!(
                    "the position (argument 3) must have 3 values, found {}",
                    p.len()
                )))
            }
            other => return Err(wrong("the position (argument 3)", "a 3-vector", other)),
        };
        inputs.push(ScoreInput {
            text,
            embedding: emb,
            position,
        });
        at.push(i);
    }
    let mut out = vec![Value::Null; rows.len()];
    if inputs.is_empty() {
        return Ok(out);
    }
    let scores = model.score(&inputs, bounds).map_err(model_error)?;
    for (i, s) in at.into_iter().zip(scores) {
        out[i] = Value::Number(s as f64);
    }
    Ok(out)
}

/// A whole-number argument in `0..=max`.
fn whole(v: &Value, what: &str, max: f64) -> Result<f64, CallError> {
    match v {
        Value::Number(n) if n.fract() == 0.0 && (0.0..=max).contains(n) => Ok(*n),
        Value::Number(n) => Err(CallError::from(format!(
            "{what} must be a whole number from 0 to {max}, found {n}"
        ))),
        other => Err(wrong(what, "a number", other)),
    }
}

/// `m_generate(text, max_tokens [, temperature, top_k, seed])`, row by row (each is a
/// sampling loop of its own).
fn generate(model: &Model, rows: &[Vec<Value>]) -> Result<Vec<Value>, CallError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if row.contains(&Value::Null) {
            out.push(Value::Null);
            continue;
        }
        let (text, max, sampling) = generation_args(row)?;
        let s = model.generate(&text, max, &sampling).map_err(model_error)?;
        out.push(Value::text(&s));
    }
    Ok(out)
}

/// The arguments of `m_generate(text, max_tokens [, temperature, top_k, seed])` (no NULL
/// among them), checked: the prompt, the most new tokens, and the sampling. The facade's
/// `generate` checks its arguments here too, so the two agree.
pub(crate) fn generation_args(row: &[Value]) -> Result<(String, usize, Sampling), CallError> {
    let text = match arg(row, 0) {
        Value::Text(s) => s.to_string(),
        other => return Err(wrong("the text (argument 1)", "text", other)),
    };
    let max = whole(
        arg(row, 1),
        "max_tokens (argument 2)",
        MAX_GENERATE_TOKENS as f64,
    )? as usize;
    let defaults = Sampling::default();
    let temperature = match row.get(2) {
        Some(Value::Number(t)) if t.is_finite() && *t >= 0.0 => *t as f32,
        Some(Value::Number(t)) => {
            return Err(CallError::from(format!(
                "temperature (argument 3) must be a finite number >= 0, found {t}"
            )))
        }
        Some(other) => return Err(wrong("temperature (argument 3)", "a number", other)),
        None => defaults.temperature,
    };
    let top_k = match row.get(3) {
        Some(v) => whole(v, "top_k (argument 4)", 1e9)? as usize,
        None => defaults.top_k,
    };
    let seed = match row.get(4) {
        Some(v) => whole(v, "seed (argument 5)", 2f64.powi(53))? as u64,
        None => defaults.seed,
    };
    Ok((
        text,
        max,
        Sampling {
            temperature,
            top_k,
            seed,
        },
    ))
}
