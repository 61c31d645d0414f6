//! The model host of one session: the model statements' work (CREATE, LOAD, TRAIN, SAVE
//! MODEL) and the registration of each stored model's functions, on the database's shared
//! [`ModelCache`].

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use tensormap_engine::{CallError, ErrorKind, MapView, ModelInfo, Registry, StoredModel};
use tensormap_model::{Model, ModelConfig, SentenceEncoder, TrainOptions, TrainSample};
use tensormap_query::{ModelBytes, ModelHost, OptionsOf, TrainCallback};

use crate::cache::{Decoded, ModelCache};
use crate::functions::{register_encoder, register_vllm, SUFFIXES};
use crate::{model_error, COMMAND, ENCODER, VLLM};

/// A session's model host: what it registered, over the database's cache.
#[derive(Debug)]
pub struct Host {
    cache: Arc<ModelCache>,
    /// The models whose functions this host registered, by name, with their entries.
    registered: Mutex<HashMap<String, (u64, Arc<Decoded>)>>,
}

impl Host {
    /// A host on the database's `cache`.
    pub fn new(cache: Arc<ModelCache>) -> Self {
        Host {
            cache,
            registered: Mutex::new(HashMap::new()),
        }
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
        kind: VLLM.to_string(),
        info: info(model),
        bytes,
    }
}

/// Whether this host runs `m`'s kind.
fn hosted(m: &StoredModel) -> bool {
    m.kind() == VLLM || m.kind() == ENCODER || m.kind() == COMMAND
}

impl ModelHost for Host {
    fn check_option(&self, of: OptionsOf, name: &str, value: f64) -> Result<(), CallError> {
        match of {
            OptionsOf::Create if name == "seed" => {
                if value.is_finite()
                    && value >= 0.0
                    && value.fract() == 0.0
                    && value < 2f64.powi(53)
                {
                    Ok(())
                } else {
                    Err(CallError::from(format!(
                        "option seed must be a whole number >= 0, got {value}"
                    )))
                }
            }
            OptionsOf::Create => ModelConfig::default()
                .set_option(name, value)
                .map_err(model_error),
            OptionsOf::Train => TrainOptions::default()
                .set_option(name, value)
                .map_err(model_error),
        }
    }

    fn create(&self, options: &[(String, f64)]) -> Result<ModelBytes, CallError> {
        let opts: Vec<(&str, f64)> = options.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let model = Model::create(&opts).map_err(model_error)?;
        let bytes = model.to_vllm().map_err(model_error)?;
        Ok(made(&model, bytes))
    }

    fn load(&self, path: &str) -> Result<ModelBytes, CallError> {
        let p = Path::new(path);
        if p.is_dir() {
            // A sentence encoder in the Hugging Face layout: kept as its byte form.
            let encoder = SentenceEncoder::load(p).map_err(model_error)?;
            let bytes = encoder.to_bytes().map_err(model_error)?;
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
        let bytes = std::fs::read(p)
            .map_err(|e| CallError::new(ErrorKind::Io, e.to_string()).with_source(e))?;
        if tensormap_model::command::format::is_command_file(&bytes) {
            let command =
                tensormap_model::command::CommandModel::from_bytes(&bytes).map_err(model_error)?;
            return Ok(ModelBytes {
                kind: COMMAND.to_string(),
                info: info(command.model()),
                bytes,
            });
        }
        let model = Model::from_vllm(&bytes).map_err(model_error)?;
        Ok(made(&model, bytes))
    }

    fn train(
        &self,
        stored: &StoredModel,
        map: &MapView<'_>,
        options: &[(String, f64)],
        progress: &mut TrainCallback<'_>,
    ) -> Result<ModelBytes, CallError> {
        if stored.kind() != VLLM {
            return Err(CallError::from(format!(
                "model '{}' is a {} model; TRAIN fine-tunes V-LLMs",
                stored.name(),
                stored.kind()
            )));
        }
        let mut opts = TrainOptions {
            bounds: map.config().bounds as f32,
            ..TrainOptions::default()
        };
        for (k, v) in options {
            opts.set_option(k, *v).map_err(model_error)?;
        }
        // A copy of the decoded weights: a run that fails leaves the stored model as it was.
        let mut model = (*self.cache.get(stored).vllm()?).clone();
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
            .map_err(model_error)?;
        let bytes = model.to_vllm().map_err(model_error)?;
        Ok(made(&model, bytes))
    }

    fn save(&self, stored: &StoredModel, path: &str) -> Result<(), CallError> {
        if stored.kind() != VLLM && stored.kind() != COMMAND {
            return Err(CallError::from(format!(
                "model '{}' is a {} model; SAVE writes .vllm files",
                stored.name(),
                stored.kind()
            )));
        }
        // The stored bytes are a .vllm file: written through a temporary file and a rename.
        let io = |e: std::io::Error| CallError::new(ErrorKind::Io, e.to_string()).with_source(e);
        let target = Path::new(path);
        let mut tmp = target.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, stored.bytes().bytes()).map_err(io)?;
        std::fs::rename(&tmp, target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    fn ask(
        &self,
        map: &MapView<'_>,
        model: Option<&StoredModel>,
        text: &str,
    ) -> Result<tensormap_query::Asked, CallError> {
        crate::ask::ask(&self.cache, map, model, text)
    }

    fn train_commands(
        &self,
        base: Option<&StoredModel>,
        map: &MapView<'_>,
        pairs: &[tensormap_query::CommandPair],
        options: &[(String, f64)],
        progress: &mut TrainCallback<'_>,
    ) -> Result<ModelBytes, CallError> {
        crate::train_commands::train(&self.cache, base, map, pairs, options, progress)
    }

    fn sync(&self, registry: &Registry, models: &[Arc<StoredModel>]) {
        let mut registered = self.registered.lock();
        registered.retain(|name, (blob, _)| {
            let keep = models
                .iter()
                .any(|m| m.name() == name && hosted(m) && m.blob_id() == *blob);
            if !keep {
                for suffix in SUFFIXES {
                    registry.remove(&format!("{name}{suffix}"));
                }
            }
            keep
        });
        for m in models.iter().filter(|m| hosted(m)) {
            if registered.contains_key(m.name()) {
                continue;
            }
            let decoded = self.cache.get(m);
            // A command model has no functions; its entry is kept so ASK … USING decodes
            // it once.
            if m.kind() == ENCODER {
                register_encoder(registry, m.name(), &decoded);
            } else if m.kind() == VLLM {
                register_vllm(registry, m.name(), &decoded);
            }
            registered.insert(m.name().to_string(), (m.blob_id(), decoded));
        }
    }
}
