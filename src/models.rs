//! The models of tensormap-model as the sessions' [`ModelHost`]: the V-LLM (kind `vllm`)
//! and BERT-family sentence encoders loaded from a Hugging Face folder (kind `bert`, whose
//! only function is `m_embed(text)`: the pooled, normalised embedding). It makes the bytes of
//! CREATE, LOAD and TRAIN MODEL, writes SAVE MODEL's file, and registers each stored
//! model `m`'s functions `m_embed(text)`, `m_score(text, embedding, position)` and
//! `m_generate(text, max_tokens [, temperature, top_k, seed])` (LANGUAGE.md).
//!
//! The functions are batch functions: the executor hands `m_embed` and `m_score` every
//! row of a stage at once and they run as batched forward passes ([`Model::embed`],
//! [`Model::score`]). A model's weights are decoded from its stored bytes on the first
//! call and kept, keyed by the model's blob id, until the model is dropped or replaced (a
//! TRAIN stores the trained model under a new blob id).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tensormap_engine::{CallContext, MapView, ModelInfo, Registry, StoredModel, Value};
use tensormap_model::{
    Model, ModelConfig, Sampling, ScoreInput, SentenceEncoder, TrainOptions, TrainSample,
};
use tensormap_query::{ModelBytes, ModelHost, OptionsOf, TrainCallback};
use tensormap_storage::Blob;

/// The kind of the V-LLM.
const KIND: &str = "vllm";

/// The kind of a sentence encoder (LOAD MODEL of a Hugging Face folder).
const ENCODER: &str = "bert";

/// The suffixes of a model's function names.
const FUNCTIONS: [&str; 3] = ["_embed", "_score", "_generate"];

/// The most tokens one `m_generate` call may produce.
pub const MAX_GENERATE_TOKENS: usize = 4096;

/// The V-LLM host (see the module header).
#[derive(Debug, Default)]
pub(crate) struct VllmHost {
    /// The models whose functions are registered, by name.
    registered: Mutex<HashMap<String, Arc<LazyModel>>>,
}

/// A stored model's bytes and, once used, its decoded weights.
#[derive(Debug)]
struct LazyModel {
    blob: u64,
    bytes: Blob,
    model: OnceLock<Result<Arc<Model>, String>>,
    encoder: OnceLock<Result<Arc<SentenceEncoder>, String>>,
}

impl LazyModel {
    fn get(&self) -> Result<Arc<Model>, String> {
        self.model
            .get_or_init(|| {
                Model::from_vllm(self.bytes.bytes())
                    .map(Arc::new)
                    .map_err(|e| format!("the stored model cannot be read: {e}"))
            })
            .clone()
    }

    fn encoder(&self) -> Result<Arc<SentenceEncoder>, String> {
        self.encoder
            .get_or_init(|| {
                SentenceEncoder::from_bytes(self.bytes.bytes())
                    .map(Arc::new)
                    .map_err(|e| format!("the stored encoder cannot be read: {e}"))
            })
            .clone()
    }
}

fn info(model: &Model) -> ModelInfo {
    let i = model.info();
    ModelInfo {
        parameters: i.parameters,
        output_width: i.output_width,
        steps: i.steps,
        loss: i.loss,
    }
}

fn made(model: &Model, bytes: Vec<u8>) -> ModelBytes {
    ModelBytes {
        kind: KIND.to_string(),
        info: info(model),
        bytes,
    }
}

impl ModelHost for VllmHost {
    fn check_option(&self, of: OptionsOf, name: &str, value: f64) -> Result<(), String> {
        match of {
            OptionsOf::Create if name == "seed" => {
                if value.is_finite()
                    && value >= 0.0
                    && value.fract() == 0.0
                    && value < 2f64.powi(53)
                {
                    Ok(())
                } else {
                    Err(format!(
                        "option seed must be a whole number >= 0, got {value}"
                    ))
                }
            }
            OptionsOf::Create => ModelConfig::default()
                .set_option(name, value)
                .map_err(|e| e.to_string()),
            OptionsOf::Train => TrainOptions::default()
                .set_option(name, value)
                .map_err(|e| e.to_string()),
        }
    }

    fn create(&self, options: &[(String, f64)]) -> Result<ModelBytes, String> {
        let opts: Vec<(&str, f64)> = options.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let model = Model::create(&opts).map_err(|e| e.to_string())?;
        let bytes = model.to_vllm().map_err(|e| e.to_string())?;
        Ok(made(&model, bytes))
    }

    fn load(&self, path: &str) -> Result<ModelBytes, String> {
        let p = std::path::Path::new(path);
        if p.is_dir() {
            // A sentence encoder in the Hugging Face layout: kept as its byte form.
            let encoder = SentenceEncoder::load(p).map_err(|e| e.to_string())?;
            let bytes = encoder.to_bytes().map_err(|e| e.to_string())?;
            return Ok(ModelBytes {
                kind: ENCODER.to_string(),
                info: ModelInfo {
                    parameters: encoder.parameters() as u64,
                    output_width: encoder.width(),
                    steps: 0,
                    loss: None,
                },
                bytes,
            });
        }
        let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
        let model = Model::from_vllm(&bytes).map_err(|e| e.to_string())?;
        Ok(made(&model, bytes))
    }

    fn train(
        &self,
        stored: &StoredModel,
        map: &MapView<'_>,
        options: &[(String, f64)],
        progress: &mut TrainCallback<'_>,
    ) -> Result<ModelBytes, String> {
        if stored.kind() != KIND {
            return Err(format!(
                "model '{}' is a {} model; TRAIN fine-tunes V-LLMs",
                stored.name(),
                stored.kind()
            ));
        }
        let mut opts = TrainOptions {
            bounds: map.config().bounds as f32,
            ..TrainOptions::default()
        };
        for (k, v) in options {
            opts.set_option(k, *v).map_err(|e| e.to_string())?;
        }
        // The decoded weights of the registered model, if they are these bytes.
        let cached = self
            .registered
            .lock()
            .get(stored.name())
            .filter(|l| l.blob == stored.blob_id())
            .cloned();
        let mut model = match cached {
            Some(l) => (*l.get()?).clone(),
            None => Model::from_vllm(stored.bytes().bytes()).map_err(|e| e.to_string())?,
        };
        let objects: Vec<_> = map.objects().collect();
        let samples: Vec<TrainSample<'_>> = objects
            .iter()
            .map(|o| TrainSample {
                text: o.kind(),
                position: o.position(),
                embedding: o.embedding(),
            })
            .collect();
        model
            .train(&samples, &opts, |p| {
                progress(p.step, p.total_steps, p.loss);
                ControlFlow::Continue(())
            })
            .map_err(|e| e.to_string())?;
        let bytes = model.to_vllm().map_err(|e| e.to_string())?;
        Ok(made(&model, bytes))
    }

    fn save(&self, stored: &StoredModel, path: &str) -> Result<(), String> {
        if stored.kind() != KIND {
            return Err(format!(
                "model '{}' is a {} model; SAVE writes .vllm files",
                stored.name(),
                stored.kind()
            ));
        }
        // The stored bytes are a .vllm file: written through a temporary file and a rename.
        let target = std::path::Path::new(path);
        let mut tmp = target.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, stored.bytes().bytes()).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            e.to_string()
        })
    }

    fn sync(&self, registry: &Registry, models: &[Arc<StoredModel>]) {
        let mut registered = self.registered.lock();
        registered.retain(|name, lazy| {
            let keep = models
                .iter()
                .any(|m| m.name() == name && hosted(m) && m.blob_id() == lazy.blob);
            if !keep {
                for suffix in FUNCTIONS {
                    registry.remove(&format!("{name}{suffix}"));
                }
            }
            keep
        });
        for m in models.iter().filter(|m| hosted(m)) {
            if registered.contains_key(m.name()) {
                continue;
            }
            let lazy = Arc::new(LazyModel {
                blob: m.blob_id(),
                bytes: m.bytes().clone(),
                model: OnceLock::new(),
                encoder: OnceLock::new(),
            });
            if m.kind() == ENCODER {
                register_encoder(registry, m.name(), &lazy);
            } else {
                register(registry, m.name(), &lazy);
            }
            registered.insert(m.name().to_string(), lazy);
        }
    }
}

/// Whether this host runs `m`'s kind.
fn hosted(m: &StoredModel) -> bool {
    m.kind() == KIND || m.kind() == ENCODER
}

/// Registers a sentence encoder's `name_embed` on `lazy`.
fn register_encoder(registry: &Registry, name: &str, lazy: &Arc<LazyModel>) {
    let m = lazy.clone();
    registry.register_batch(
        &format!("{name}_embed"),
        1,
        1,
        Arc::new(move |rows: &[Vec<Value>], _: &CallContext| {
            let encoder = m.encoder()?;
            embed_with(rows, |texts| {
                encoder.embed(texts).map_err(|e| e.to_string())
            })
        }),
    );
}

/// Registers `name_embed`, `name_score` and `name_generate` on `lazy`.
fn register(registry: &Registry, name: &str, lazy: &Arc<LazyModel>) {
    let m = lazy.clone();
    registry.register_batch(
        &format!("{name}_embed"),
        1,
        1,
        Arc::new(move |rows: &[Vec<Value>], _: &CallContext| embed(&*m.get()?, rows)),
    );
    let m = lazy.clone();
    registry.register_batch(
        &format!("{name}_score"),
        3,
        3,
        Arc::new(move |rows: &[Vec<Value>], ctx: &CallContext| score(&*m.get()?, rows, ctx)),
    );
    let m = lazy.clone();
    registry.register_batch(
        &format!("{name}_generate"),
        2,
        5,
        Arc::new(move |rows: &[Vec<Value>], _: &CallContext| generate(&*m.get()?, rows)),
    );
}

/// Argument `i` of a row (a missing one is NULL).
fn arg(row: &[Value], i: usize) -> &Value {
    row.get(i).unwrap_or(&Value::Null)
}

fn wrong(what: &str, want: &str, v: &Value) -> String {
    format!("{what} must be {want}, found a {}", v.type_name())
}

/// `m_embed(text)` over rows: one batched pass over the distinct texts; NULL gives NULL.
fn embed(model: &Model, rows: &[Vec<Value>]) -> Result<Vec<Value>, String> {
    embed_with(rows, |texts| model.embed(texts).map_err(|e| e.to_string()))
}

/// An embed function over rows: `run` embeds the non-NULL texts in one batch.
fn embed_with(
    rows: &[Vec<Value>],
    run: impl FnOnce(&[&str]) -> Result<Vec<Vec<f32>>, String>,
) -> Result<Vec<Value>, String> {
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
/// distinct text, one token per row); a NULL argument gives NULL.
fn score(model: &Model, rows: &[Vec<Value>], ctx: &CallContext) -> Result<Vec<Value>, String> {
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
                return Err(format!(
                    "the position (argument 3) must have 3 values, found {}",
                    p.len()
                ))
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
    let scores = model.score(&inputs, bounds).map_err(|e| e.to_string())?;
    for (i, s) in at.into_iter().zip(scores) {
        out[i] = Value::Number(s as f64);
    }
    Ok(out)
}

/// A whole-number argument in `0..=max`.
fn whole(v: &Value, what: &str, max: f64) -> Result<f64, String> {
    match v {
        Value::Number(n) if n.fract() == 0.0 && (0.0..=max).contains(n) => Ok(*n),
        Value::Number(n) => Err(format!(
            "{what} must be a whole number from 0 to {max}, found {n}"
        )),
        other => Err(wrong(what, "a number", other)),
    }
}

/// `m_generate(text, max_tokens [, temperature, top_k, seed])`, row by row (each is a
/// sampling loop of its own); a NULL argument gives NULL.
fn generate(model: &Model, rows: &[Vec<Value>]) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if row.contains(&Value::Null) {
            out.push(Value::Null);
            continue;
        }
        let (text, max, sampling) = generation_args(row)?;
        let s = model
            .generate(&text, max, &sampling)
            .map_err(|e| e.to_string())?;
        out.push(Value::text(&s));
    }
    Ok(out)
}

/// The arguments of `m_generate(text, max_tokens [, temperature, top_k, seed])` (no NULL
/// among them), checked: the prompt, the most new tokens, and the sampling.
pub(crate) fn generation_args(row: &[Value]) -> Result<(String, usize, Sampling), String> {
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
            return Err(format!(
                "temperature (argument 3) must be a finite number >= 0, found {t}"
            ))
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
