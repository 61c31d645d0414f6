//! The facade's typed calls on stored models, for programs that are not statements (the
//! HTTP server's `/vllm/generate`, the Python package): embed texts with a model, and
//! generate with the details a caller may want (tokens, their positions, the confidence).
//! They check their arguments as the TensorQL functions do and use the same cache.

use std::sync::Arc;

use tensormap_engine::{CallError, ErrorKind, StoredModel, Value};
pub use tensormap_model::Generation;

use crate::cache::ModelCache;
use crate::functions::{embed_with, generation_args};
use crate::{model_error, ENCODER, VLLM};

/// The arguments of a generation: those of `m_generate(text, max_tokens [, temperature,
/// top_k, seed])`, the optional ones at their defaults when `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateArgs {
    /// The prompt.
    pub prompt: String,
    /// The most new tokens (a whole number, 0 to [`crate::MAX_GENERATE_TOKENS`]).
    pub max_tokens: f64,
    /// Sampling temperature (default 0.7; 0 is greedy).
    pub temperature: Option<f64>,
    /// Sample among the k most likely tokens (default 50; 0: all).
    pub top_k: Option<f64>,
    /// The sampling stream's seed (default 0): the same seed gives the same text.
    pub seed: Option<f64>,
}

/// A generation and the model that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The model's name.
    pub model: String,
    /// The text, its tokens, their positions and the model's confidence.
    pub generation: Generation,
}

impl ModelCache {
    /// Generates with the V-LLM `name` among `models` (with no name, the only V-LLM there
    /// is). A model that is missing is [`ErrorKind::NotFound`]; one that is not a V-LLM, an
    /// ambiguous choice or a bad argument is [`ErrorKind::InvalidValue`].
    pub fn generate(
        &self,
        models: &[Arc<StoredModel>],
        name: Option<&str>,
        args: &GenerateArgs,
    ) -> Result<Generated, CallError> {
        let stored = match name {
            Some(name) => match models.iter().find(|m| m.name() == name) {
                Some(m) if m.kind() == VLLM => m,
                Some(_) => return Err(CallError::from(format!("model '{name}' is not a V-LLM"))),
                None => {
                    return Err(CallError::new(
                        ErrorKind::NotFound,
                        format!("no model named '{name}'"),
                    ))
                }
            },
            None => {
                let vllms: Vec<&Arc<StoredModel>> =
                    models.iter().filter(|m| m.kind() == VLLM).collect();
                match vllms.as_slice() {
                    [only] => *only,
                    [] => {
                        return Err(CallError::new(
                            ErrorKind::NotFound,
                            "the database has no V-LLM model",
                        ))
                    }
                    _ => {
                        return Err(CallError::from(
                            "the database has several V-LLMs: name one with \"model\"",
                        ))
                    }
                }
            }
        };
        let mut row = vec![Value::text(&args.prompt), Value::Number(args.max_tokens)];
        // The optional arguments are positional: a later one given makes the earlier ones
        // their defaults.
        let defaults = tensormap_model::Sampling::default();
        let optional = [
            args.temperature.map(Value::Number),
            args.top_k.map(Value::Number),
            args.seed.map(Value::Number),
        ];
        if let Some(last) = optional.iter().rposition(Option::is_some) {
            let fallback = [
                Value::Number(defaults.temperature as f64),
                Value::Number(defaults.top_k as f64),
                Value::Number(defaults.seed as f64),
            ];
            for (v, d) in optional.into_iter().zip(fallback).take(last + 1) {
                row.push(v.unwrap_or(d));
            }
        }
        let (prompt, max, sampling) = generation_args(&row).map_err(|e| e.context("m_generate"))?;
        let model = self.get(stored).vllm()?;
        let generation = model
            .generate_detailed(&prompt, max, &sampling)
            .map_err(|e| model_error(e).context("m_generate"))?;
        Ok(Generated {
            model: stored.name().to_string(),
            generation,
        })
    }

    /// Embeds `texts` with the model `name` among `models` (a V-LLM's `m_embed` or a
    /// sentence encoder's), one vector per text, in one batch.
    pub fn embed(
        &self,
        models: &[Arc<StoredModel>],
        name: &str,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, CallError> {
        let stored = models.iter().find(|m| m.name() == name).ok_or_else(|| {
            CallError::new(ErrorKind::NotFound, format!("no model named '{name}'"))
        })?;
        let decoded = self.get(stored);
        let rows: Vec<Vec<Value>> = texts.iter().map(|t| vec![Value::text(t)]).collect();
        let values = match stored.kind() {
            VLLM => {
                let model = decoded.vllm()?;
                embed_with(&rows, |t| model.embed(t).map_err(model_error))?
            }
            ENCODER => {
                let encoder = decoded.encoder()?;
                embed_with(&rows, |t| encoder.embed(t).map_err(model_error))?
            }
            other => {
                return Err(CallError::from(format!(
                    "model '{name}' is a {other} model, which this program does not run"
                )))
            }
        };
        values
            .into_iter()
            .map(|v| match v {
                Value::Vector(x) => Ok(x.to_vec()),
                _ => Err(CallError::new(
                    ErrorKind::Internal,
                    "an embedding that is not a vector",
                )),
            })
            .collect()
    }
}
